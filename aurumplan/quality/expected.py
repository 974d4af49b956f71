"""Which periods a dataset should hold in a window: its grain, its time zone and its calendar.

Hourly periods are UTC hours whatever the zone, so a local day's window already holds 23 or 25
of them. Daily, monthly and quarterly periods of a dataset with a local zone start at local
midnight: each is stored as the UTC instant of that midnight, and lasts 23, 24 or 25 hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from aurumplan.catalog.models import DatasetDef
from aurumplan.intervals import DAY, HOUR, Grain, Interval, local_to_ts, parse_ts, zone


@dataclass(frozen=True)
class ExpectedSeries:
    """The series a dataset is expected to hold and why; `check` and `coverage` both state it."""

    series: tuple[str, ...]
    basis: str  # "catalog" | "loaded" (the catalog lists none) | "--series" | "operation"

    def to_dict(self) -> dict[str, object]:
        return {"series": list(self.series), "basis": self.basis, "text": self.describe()}

    def describe(self) -> str:
        return f"{len(self.series)} series expected: {BASES[self.basis]}"


BASES = {"catalog": "the catalog's and any others loaded", "loaded": "those loaded (the catalog lists none)",
         "--series": "narrowed by --series", "operation": "those the operation loaded"}


def expected_series(ds: DatasetDef, loaded: Iterable[str], *, narrow: Iterable[str] | None = None,
                    by: str = "--series") -> ExpectedSeries:
    """The one definition of what is expected (docs/quality.md, "What is expected").

    The catalog's series plus any others loaded; `narrow` (`--series`) keeps only those of them it
    names; `by="operation"` makes `narrow` the series an operation loaded, taken as they are.
    """
    base = set(ds.series) | set(loaded)
    if narrow is None:
        return ExpectedSeries(tuple(sorted(base)), "catalog" if ds.series else "loaded")
    wanted = set(narrow)
    return ExpectedSeries(tuple(sorted(wanted if by == "operation" else wanted & base)), by)


def _is_utc(tz: str) -> bool:
    return tz.upper() in ("UTC", "Z", "ETC/UTC")


@lru_cache(maxsize=4096)
def _local_date(ts: int, tz: str) -> dt.date:
    return dt.datetime.fromtimestamp(ts, zone(tz)).date()


def _local_start(d: dt.date, grain: Grain, tz: str) -> dt.date:
    if grain is Grain.DAILY:
        return d
    months = 3 if grain is Grain.QUARTERLY else 1
    return dt.date(d.year, (d.month - 1) // months * months + 1, 1)


def _local_next(d: dt.date, grain: Grain) -> dt.date:
    if grain is Grain.DAILY:
        return d + dt.timedelta(days=1)
    idx = d.year * 12 + d.month - 1 + (3 if grain is Grain.QUARTERLY else 1)
    return dt.date(idx // 12, idx % 12 + 1, 1)


def _weekday(ts: int, tz: str) -> int:
    if _is_utc(tz):
        return (ts // DAY + 3) % 7  # 1970-01-01 was a Thursday (3)
    return dt.datetime.fromtimestamp(ts, zone(tz)).weekday()


def _calendar_ok(ds: DatasetDef, ts: int) -> bool:
    return ds.calendar == "all" or _weekday(ts, ds.timezone) < 5


def expected_periods(ds: DatasetDef, window: Interval) -> list[int]:
    """Sorted starts of the periods ds should have in [start, end), in UTC epoch seconds."""
    start, end = window
    if ds.available_from:
        start = max(start, parse_ts(ds.available_from))
    if end <= start:
        return []
    grain = ds.grain
    if grain is Grain.HOURLY or _is_utc(ds.timezone):
        out: list[int] = []
        if grain is Grain.HOURLY:
            out = list(range(-(-start // HOUR) * HOUR, end, HOUR))
        elif grain is Grain.DAILY:
            out = list(range(-(-start // DAY) * DAY, end, DAY))
        else:
            cur = grain.ceil(start)
            while cur < end:
                out.append(cur)
                cur = grain.add(cur, 1)
        return [p for p in out if _calendar_ok(ds, p)] if ds.calendar != "all" else out
    tz = ds.timezone
    d = _local_start(_local_date(start, tz), grain, tz)
    out = []
    while True:
        ts = local_to_ts(d, tz)
        if ts >= end:
            break
        if ts >= start and _calendar_ok(ds, ts):
            out.append(ts)
        d = _local_next(d, grain)
    return out


def period_end(ds: DatasetDef, ts: int) -> int:
    """The end of the period that starts at ts (the next period's start)."""
    grain = ds.grain
    if grain is Grain.HOURLY:
        return ts + HOUR
    if _is_utc(ds.timezone):
        return ts + DAY if grain is Grain.DAILY else grain.add(grain.floor(ts), 1)
    d = _local_date(ts, ds.timezone)
    return local_to_ts(_local_next(_local_start(d, grain, ds.timezone), grain), ds.timezone)


def is_aligned(ds: DatasetDef, ts: int) -> bool:
    """Whether ts is the start of a period of ds's grain in ds's zone."""
    grain = ds.grain
    if grain is Grain.HOURLY:
        return ts % HOUR == 0
    if _is_utc(ds.timezone):
        return grain.floor(ts) == ts
    d = _local_start(_local_date(ts, ds.timezone), grain, ds.timezone)
    return local_to_ts(d, ds.timezone) == ts
