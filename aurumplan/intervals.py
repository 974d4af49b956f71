"""Interval sets and maps over UTC time, aligned to a grain.

Time is an int: seconds since the Unix epoch, UTC. Intervals are half-open [start, end).
Everything in aurumplan computes with these, never with lists of periods: a 10-year hourly
window is one interval, not 87,600 items. Inclusive user dates become half-open instants here
and only here (`window_to_interval`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import operator
from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

Interval = tuple[int, int]
V = TypeVar("V")

HOUR = 3600
DAY = 86400
_UTC = dt.UTC


def to_ts(value: dt.datetime | dt.date) -> int:
    """A datetime (naive = UTC) or a date (its UTC midnight) as epoch seconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        return int(value.timestamp())
    return int(dt.datetime(value.year, value.month, value.day, tzinfo=_UTC).timestamp())


def from_ts(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, _UTC)


_FMT: dict[int, str] = {}


def _fmt_new(ts: int) -> str:
    if len(_FMT) > 1 << 18:
        _FMT.clear()
    text = _FMT[ts] = dt.datetime.fromtimestamp(ts, _UTC).isoformat()[:16] + "Z"
    return text


def fmt_ts(ts: int) -> str:
    """`2024-01-01T00:00Z`: the form plans and views show (cached: boundaries repeat across series)."""
    return _FMT.get(ts) or _fmt_new(ts)


def parse_ts(text: str) -> int:
    """Parse an ISO date or datetime (Z, offset, or naive = UTC) to epoch seconds."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) == 10:
        return to_ts(dt.date.fromisoformat(text))
    return to_ts(dt.datetime.fromisoformat(text))


class Grain(enum.StrEnum):
    """The period length of a dataset; months and quarters are calendar-aligned in UTC."""

    HOURLY = "hourly"
    DAILY = "daily"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"

    @property
    def _months(self) -> int:
        return 3 if self is Grain.QUARTERLY else 1

    def floor(self, ts: int) -> int:
        if self is Grain.HOURLY:
            return ts - ts % HOUR
        if self is Grain.DAILY:
            return ts - ts % DAY
        d = from_ts(ts)
        month = (d.month - 1) // self._months * self._months + 1
        return to_ts(dt.date(d.year, month, 1))

    def ceil(self, ts: int) -> int:
        f = self.floor(ts)
        return f if f == ts else self.add(f, 1)

    def add(self, ts: int, n: int) -> int:
        """ts (aligned) moved by n periods."""
        if self is Grain.HOURLY:
            return ts + n * HOUR
        if self is Grain.DAILY:
            return ts + n * DAY
        d = from_ts(ts)
        idx = d.year * 12 + d.month - 1 + n * self._months
        return to_ts(dt.date(idx // 12, idx % 12 + 1, 1))

    def _index(self, ts: int) -> int:
        if self is Grain.HOURLY:
            return ts // HOUR
        if self is Grain.DAILY:
            return ts // DAY
        d = from_ts(ts)
        return (d.year * 12 + d.month - 1) // self._months

    def count(self, start: int, end: int) -> int:  # type: ignore[override]  # periods, not str.count
        """Number of periods that start in [start, end) (both aligned in practice)."""
        if end <= start:
            return 0
        if self is Grain.HOURLY:
            return -(-end // HOUR) - -(-start // HOUR)
        if self is Grain.DAILY:
            return -(-end // DAY) - -(-start // DAY)
        return self._index(self.ceil(end)) - self._index(self.ceil(start))

    def align(self, start: int, end: int) -> Interval:
        """Widen [start, end) outward to whole periods."""
        return self.floor(start), self.ceil(end)

    def seconds(self) -> int:
        """Nominal length, for estimates only."""
        return {Grain.HOURLY: HOUR, Grain.DAILY: DAY, Grain.MONTHLY: 30 * DAY,
                Grain.QUARTERLY: 91 * DAY}[self]


def _normalize(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    ivs = sorted(intervals)
    out: list[Interval] = []
    ps = pe = None
    for s, e in ivs:
        if e <= s:
            continue
        if pe is not None and s <= pe:
            if e > pe:
                pe = e
            continue
        if pe is not None:
            out.append((ps, pe))  # type: ignore[arg-type]
        ps, pe = s, e
    if pe is not None:
        out.append((ps, pe))  # type: ignore[arg-type]
    return tuple(out)


_START = operator.itemgetter(0)
_END = operator.itemgetter(1)


def _clip(items: tuple[tuple[Any, ...], ...], start: int, end: int) -> tuple[Any, ...]:
    """The sorted, disjoint items (intervals, or intervals with values) cut to [start, end).

    Sorted and disjoint means sorted by end too, so two bisections find the overlapping run;
    only its first and last item can stick out.
    """
    if start >= end:
        return ()
    i = bisect.bisect_right(items, start, key=_END)
    j = bisect.bisect_left(items, end, lo=i, key=_START)
    if i >= j:
        return ()
    run = items[i:j]
    if run[0][0] < start or run[-1][1] > end:
        cut = list(run)
        cut[0] = (max(cut[0][0], start), *cut[0][1:])
        cut[-1] = (cut[-1][0], min(cut[-1][1], end), *cut[-1][2:])
        return tuple(cut)
    return run


class IntervalSet:
    """An immutable set of instants stored as sorted, disjoint, non-adjacent intervals."""

    __slots__ = ("_iv",)

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._iv = _normalize(intervals)

    @classmethod
    def from_normalized(cls, ivs: Iterable[Interval]) -> IntervalSet:
        """From intervals already sorted, disjoint and non-adjacent (e.g. another set's slices)."""
        return cls._raw(tuple(ivs))

    @classmethod
    def _raw(cls, ivs: tuple[Interval, ...]) -> IntervalSet:
        obj = cls.__new__(cls)
        obj._iv = ivs
        return obj

    @property
    def intervals(self) -> tuple[Interval, ...]:
        return self._iv

    def __iter__(self) -> Iterator[Interval]:
        return iter(self._iv)

    def __len__(self) -> int:
        return len(self._iv)

    def __bool__(self) -> bool:
        return bool(self._iv)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self._iv == other._iv

    def __hash__(self) -> int:
        return hash(self._iv)

    def __repr__(self) -> str:
        return "IntervalSet([" + ", ".join(f"{fmt_ts(s)}..{fmt_ts(e)}" for s, e in self._iv) + "])"

    def __or__(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet(self._iv + other._iv)

    def __and__(self, other: IntervalSet) -> IntervalSet:
        out: list[Interval] = []
        a, b = self._iv, other._iv
        i = j = 0
        while i < len(a) and j < len(b):
            s = max(a[i][0], b[j][0])
            e = min(a[i][1], b[j][1])
            if s < e:
                out.append((s, e))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet._raw(tuple(out))

    def __sub__(self, other: IntervalSet) -> IntervalSet:
        """Per interval of self, the gaps between the intervals of other that fall inside it.

        The overlapping run of other is found by bisection and its inner gaps paired at C speed
        (a 10-year window minus a series' 100s of loaded runs is one call, not a Python loop).
        """
        if not other._iv:
            return self
        out: list[Interval] = []
        b = other._iv
        for s, e in self._iv:
            run = _clip(b, s, e)
            if not run:
                out.append((s, e))
                continue
            if run[0][0] > s:
                out.append((s, run[0][0]))
            if len(run) > 1:
                # gaps between consecutive runs (other is non-adjacent: none is empty)
                out.extend(zip(map(_END, run), map(_START, run[1:]), strict=False))
            if run[-1][1] < e:
                out.append((run[-1][1], e))
        return IntervalSet._raw(tuple(out))

    def clip(self, start: int, end: int) -> IntervalSet:
        """self & [start, end), by bisection: a slice of the set with its two ends trimmed."""
        return IntervalSet._raw(_clip(self._iv, start, end))

    def contains(self, ts: int) -> bool:
        i = bisect.bisect_right(self._iv, (ts, float("inf"))) - 1
        return i >= 0 and self._iv[i][0] <= ts < self._iv[i][1]

    def covers(self, other: IntervalSet) -> bool:
        return not (other - self)

    def overlaps(self, other: IntervalSet) -> bool:
        return bool(self & other)

    @property
    def span(self) -> Interval | None:
        return (self._iv[0][0], self._iv[-1][1]) if self._iv else None

    def duration(self) -> int:
        return sum(e - s for s, e in self._iv)

    def align(self, grain: Grain) -> IntervalSet:
        """Widen every interval outward to whole periods of grain."""
        return IntervalSet(grain.align(s, e) for s, e in self._iv)

    def periods(self, grain: Grain) -> int:
        """How many periods of grain start inside the set."""
        step = {Grain.HOURLY: HOUR, Grain.DAILY: DAY}.get(grain)
        if step is not None:  # fixed-length periods: sum of ceil(end) - ceil(start), at C speed
            ivs = self._iv
            n: int = (sum(map(operator.floordiv, map(_START, ivs), repeat(-step)))
                      - sum(map(operator.floordiv, map(_END, ivs), repeat(-step))))
            return n
        return sum(grain.count(s, e) for s, e in self._iv)

    def chunks(self, grain: Grain, max_periods: int) -> list[Interval]:
        """Cut each interval into pieces of at most max_periods periods (the request windows)."""
        if max_periods < 1:
            raise ValueError("max_periods must be >= 1")
        out: list[Interval] = []
        for s, e in self._iv:
            cur = s
            while cur < e:
                if grain.count(cur, e) <= max_periods:
                    nxt = e
                else:
                    nxt = min(e, grain.add(grain.floor(cur), max_periods))
                out.append((cur, nxt))
                cur = nxt
        return out

    def to_json(self) -> list[list[str]]:
        """[[start, end], ...] as `2024-01-01T00:00Z` strings (the plan file's form)."""
        fmt = _FMT
        try:
            return [[fmt[s], fmt[e]] for s, e in self._iv]
        except KeyError:
            return [[fmt_ts(s), fmt_ts(e)] for s, e in self._iv]

    @classmethod
    def from_json(cls, data: Iterable[Iterable[str]]) -> IntervalSet:
        return cls((parse_ts(s), parse_ts(e)) for s, e in data)


class IntervalMap(Generic[V]):
    """Disjoint intervals each mapped to a value (e.g. the load version that holds them).

    Adjacent intervals with equal values are coalesced, so the map stays as small as the
    number of distinct runs, however many periods it covers.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[int, int, V]] = ()) -> None:
        m: IntervalMap[V] = IntervalMap._raw(())
        for s, e, v in items:
            m = m.assign(IntervalSet([(s, e)]), v)
        self._items: tuple[tuple[int, int, V], ...] = m._items

    @classmethod
    def from_sorted(cls, items: Iterable[tuple[int, int, V]]) -> IntervalMap[V]:
        """From items already sorted by start and disjoint (as a store returns them): O(n)."""
        out: list[tuple[int, int, V]] = []
        for s, e, v in items:
            if out and out[-1][1] == s and out[-1][2] == v:
                out[-1] = (out[-1][0], e, v)
            else:
                out.append((s, e, v))
        return cls._raw(tuple(out))

    @classmethod
    def from_normalized(cls, items: Iterable[tuple[int, int, V]]) -> IntervalMap[V]:
        """From items sorted, disjoint and already coalesced (e.g. built by a store read): no pass."""
        return cls._raw(tuple(items))

    @classmethod
    def _raw(cls, items: tuple[tuple[int, int, V], ...]) -> IntervalMap[V]:
        obj = cls.__new__(cls)
        obj._items = items
        return obj

    def __iter__(self) -> Iterator[tuple[int, int, V]]:
        return iter(self._items)

    def items(self) -> tuple[tuple[int, int, V], ...]:
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalMap) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def domain(self) -> IntervalSet:
        """The instants the map covers (items are sorted and disjoint: one linear pass)."""
        items = self._items
        if not any(map(operator.eq, map(_END, items), map(_START, items[1:]))):  # nothing to join
            return IntervalSet._raw(tuple(zip(map(_START, items), map(_END, items), strict=True)))
        out: list[Interval] = []
        for s, e, _ in self._items:
            if out and out[-1][1] == s:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
        return IntervalSet._raw(tuple(out))

    def values(self) -> set[V]:
        return {v for _, _, v in self._items}

    def remove(self, where: IntervalSet) -> IntervalMap[V]:
        """The map without the instants of where."""
        out: list[tuple[int, int, V]] = []
        w = where.intervals
        j = 0
        for s, e, v in self._items:
            while j < len(w) and w[j][1] <= s:
                j += 1
            cur, k = s, j
            while k < len(w) and w[k][0] < e:
                if w[k][0] > cur:
                    out.append((cur, w[k][0], v))
                cur = max(cur, w[k][1])
                if cur >= e:
                    break
                k += 1
            if cur < e:
                out.append((cur, e, v))
        return IntervalMap._raw(tuple(out))

    def restrict(self, where: IntervalSet) -> IntervalMap[V]:
        """The map on the instants of where only (bisection per interval of where)."""
        w = where.intervals
        if len(w) == 1:
            return IntervalMap._raw(_clip(self._items, *w[0]))
        return IntervalMap._raw(tuple(item for s, e in w for item in _clip(self._items, s, e)))

    def assign(self, where: IntervalSet, value: V) -> IntervalMap[V]:
        """A new map where every instant of `where` maps to value (overwriting)."""
        kept = list(self.remove(where)._items)
        kept.extend((s, e, value) for s, e in where)
        kept.sort(key=lambda t: t[0])
        out: list[tuple[int, int, V]] = []
        for s, e, v in kept:
            if out and out[-1][1] == s and out[-1][2] == v:
                out[-1] = (out[-1][0], e, v)
            else:
                out.append((s, e, v))
        return IntervalMap._raw(tuple(out))

    def by_value(self) -> dict[V, IntervalSet]:
        acc: dict[V, list[Interval]] = {}
        for s, e, v in self._items:
            acc.setdefault(v, []).append((s, e))
        return {v: IntervalSet(ivs) for v, ivs in acc.items()}


def zone(name: str) -> dt.tzinfo:
    return _UTC if name.upper() == "UTC" else ZoneInfo(name)


def local_to_ts(value: dt.datetime | dt.date, tz: str) -> int:
    """A naive local wall time (or a date's local midnight) in zone tz as epoch seconds.

    Ambiguous wall times (the repeated hour of a fall-back day) take the first occurrence;
    nonexistent ones (the skipped spring-forward hour) are shifted forward, as zoneinfo does.
    """
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        return int(value.timestamp())
    return int(value.replace(tzinfo=zone(tz)).timestamp())


def window_to_interval(start: dt.date | dt.datetime, end: dt.date | dt.datetime, tz: str = "UTC") -> Interval:
    """A user window as half-open UTC seconds: a date `end` is inclusive, a datetime `end` exclusive."""
    s = local_to_ts(start, tz)
    if isinstance(end, dt.datetime):
        e = local_to_ts(end, tz)
    else:
        e = local_to_ts(end + dt.timedelta(days=1), tz)
    return s, e


def local_day_hours(day: dt.date, tz: str) -> int:
    """Hours in a local calendar day: 23 or 25 on DST change days."""
    s, e = window_to_interval(day, day, tz)
    return (e - s) // HOUR
