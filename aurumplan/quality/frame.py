"""One dataset's rows for a window, as compact per-series columns the checks can scan fast.

Rows are the active version or chosen loads (a staged version before commit), read by
aurumplan.warehouse.reads; its window filter is coarse on SQLite, so rows are narrowed here
exactly on their epoch values (docs/quality.md, "How rows are read").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from aurumplan.intervals import Interval
from aurumplan.warehouse.reads import observation_rows


@dataclass
class SeriesFrame:
    """One series: periods sorted ascending (duplicates kept, they are findings), values as stored."""

    series_id: str
    periods: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    units: list[str | None] = field(default_factory=list)
    attributes: list[str | None] | None = None
    load_ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self.periods)

    def value_map(self) -> dict[int, Any]:
        """period -> value (the last row wins where a key is duplicated)."""
        return dict(zip(self.periods, self.values, strict=True))


@dataclass
class DatasetFrame:
    """The rows of one dataset in a window: current (load_ids empty) or the given loads' rows."""

    source: str
    dataset: str
    window: Interval
    series: dict[str, SeriesFrame] = field(default_factory=dict)
    load_ids: tuple[str, ...] = ()
    bad_periods: int = 0

    @property
    def rows(self) -> int:
        return sum(len(s) for s in self.series.values())

    def get(self, series_id: str) -> SeriesFrame:
        return self.series.get(series_id) or SeriesFrame(series_id)


def load_frame(conn: Connection, source: str, dataset: str, window: Interval, *,
               load_ids: Sequence[str] | str | None = None, series: Iterable[str] | None = None,
               with_attributes: bool = False, with_load_ids: bool = False) -> DatasetFrame:
    """Read a dataset's rows in [start, end) into per-series columns.

    `load_ids` None reads the active version; otherwise the rows of exactly those loads
    (staged or not). `with_attributes` and `with_load_ids` also read those columns (for the schema
    check); they cost about as much again as the rest.
    """
    if isinstance(load_ids, str):
        load_ids = [load_ids]
    ids = tuple(load_ids or ())
    wanted = set(series) if series is not None else None
    frame = DatasetFrame(source, dataset, window, load_ids=ids)
    intern: dict[Any, Any] = {}
    if with_load_ids and ids:
        # One query per load (in id order, as SQLite's IN list ran): its id is known, not read with each
        # row (~13% of reading a staged chunk, bench/RESULTS.md).
        for lid in sorted(set(ids)):
            _add_rows(frame, observation_rows(conn, source, dataset, window, load_ids=(lid,),
                                              with_attributes=with_attributes), wanted, intern, with_attributes,
                      True, lid)
    else:
        _add_rows(frame, observation_rows(conn, source, dataset, window, load_ids=ids,
                                          with_attributes=with_attributes, with_load_ids=with_load_ids),
                  wanted, intern, with_attributes, with_load_ids, None)
    frame.series = {k: s for k, s in frame.series.items() if s.periods}  # rows only outside the window
    for s in frame.series.values():
        _sort(s)
    return frame


def _add_rows(frame: DatasetFrame, rows: Iterable[Sequence[Any]], wanted: set[str] | None, intern: dict[Any, Any],
              with_attributes: bool, with_load_ids: bool, load_id: str | None) -> None:
    """Append rows (series_id, epoch, value, unit[, attributes][, load_id]) to the frame's series, those
    inside its window; `load_id`, when given, is every row's load (then not a column of the rows)."""
    lo, hi = frame.window
    cur: SeriesFrame | None = None
    periods: list[int] = []
    values: list[Any] = []
    units: list[Any] = []
    attrs: list[Any] = []
    loads: list[Any] = []
    for row in rows:
        sid = row[0]
        if cur is None or sid != cur.series_id:
            if wanted is not None and sid not in wanted:
                continue
            cur = frame.series.setdefault(sid, SeriesFrame(sid, attributes=[] if with_attributes else None,
                                                           load_ids=[] if with_load_ids else None))
            periods, values, units = cur.periods, cur.values, cur.units
            attrs = cur.attributes if cur.attributes is not None else attrs
            loads = cur.load_ids if cur.load_ids is not None else loads
        ts = row[1]
        if ts is None:
            frame.bad_periods += 1
            continue
        if ts < lo or ts >= hi:
            continue
        periods.append(ts)
        values.append(row[2])
        u = row[3]
        units.append(intern.setdefault(u, u))
        if with_attributes:
            a = row[4]
            attrs.append(intern.setdefault(a, a))
        if load_id is not None:
            loads.append(load_id)
        elif with_load_ids:
            lid = row[-1]
            loads.append(intern.setdefault(lid, lid))


def build_frame(source: str, dataset: str, window: Interval, rows: Iterable[Sequence[Any]],
                load_ids: Sequence[str] = ()) -> DatasetFrame:
    """A frame from (series_id, epoch, value, unit) rows, kept only inside the window."""
    frame = DatasetFrame(source, dataset, window, load_ids=tuple(load_ids))
    lo, hi = window
    for sid, ts, value, unit in rows:
        if ts is None:
            frame.bad_periods += 1
            continue
        if lo <= ts < hi:
            s = frame.series.setdefault(sid, SeriesFrame(sid))
            s.periods.append(ts)
            s.values.append(value)
            s.units.append(unit)
    for s in frame.series.values():
        _sort(s)
    return frame


def _sort(s: SeriesFrame) -> None:
    """Order rows by period: staged loads are read without ORDER BY (rows come load by load), and
    text periods of mixed spelling may arrive out of order."""
    p = s.periods
    if all(p[i] <= p[i + 1] for i in range(len(p) - 1)):
        return
    order = sorted(range(len(p)), key=p.__getitem__)
    s.periods = [p[i] for i in order]
    s.values = [s.values[i] for i in order]
    s.units = [s.units[i] for i in order]
    if s.attributes is not None:
        s.attributes = [s.attributes[i] for i in order]
    if s.load_ids is not None:
        s.load_ids = [s.load_ids[i] for i in order]
