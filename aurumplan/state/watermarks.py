"""Watermarks: which load holds each committed interval of each series, stored as disjoint rows.

Writes behave like IntervalMap.assign/remove: rows they overlap are split and only the
uncovered pieces kept. A split piece keeps a share of the row's records in proportion to
its duration (the exact per-period count is in the warehouse, not here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.intervals import Interval, IntervalMap, IntervalSet
from aurumplan.state import reads
from aurumplan.state.models import SeriesKey, WatermarkRef, WatermarkRow
from aurumplan.state.schema import watermarks as wm
from aurumplan.state.sqlbase import SqlBase, text_query


def apportion(total: int, intervals: list[Interval]) -> list[int]:
    """Split total over intervals by duration, largest remainder first, so the parts sum to total."""
    if not intervals:
        return []
    span = sum(e - s for s, e in intervals)
    exact = [total * (e - s) / span for s, e in intervals]
    parts = [int(x) for x in exact]
    order = sorted(range(len(intervals)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _records_for(where: IntervalSet, records: int | Mapping[Interval, int]) -> list[int]:
    ivs = list(where)
    if not isinstance(records, Mapping):
        return apportion(int(records), ivs)
    out = [0] * len(ivs)
    for (s, e), n in records.items():
        for i, (ws, we) in enumerate(ivs):
            if ws <= s and e <= we:
                out[i] += int(n)
                break
    return out


class WatermarksMixin(SqlBase):
    """Watermark reads and writes of SqlStateStore."""

    def watermarks(self, source: str, dataset: str | None = None,
                   series: Iterable[str] | None = None) -> dict[SeriesKey, IntervalMap[WatermarkRef]]:
        """Per series, its rows as an interval map (state/reads.py, the same read `plan` makes on sqlite3)."""
        with self._read() as conn:
            return reads.watermarks(text_query(conn), source, dataset, series)

    def watermark_rows(self, source: str, dataset: str | None = None,
                       series: Iterable[str] | None = None) -> list[WatermarkRow]:
        select = reads.watermark_select(source, dataset, series)
        if select is None:
            return []
        with self._read() as conn:
            rows = text_query(conn)(*select)
        return [WatermarkRow(source, ds, sid, start, end, WatermarkRef(lid, op, ck, sv), records, at)
                for ds, sid, start, end, lid, op, ck, sv, records, at in rows]

    def newest_periods(self) -> dict[tuple[str, str], int]:
        """(source, dataset) -> end of the newest committed period: what freshness is measured by."""
        q = (sa.select(wm.c.source, wm.c.dataset, sa.func.max(wm.c.end)).group_by(wm.c.source, wm.c.dataset))
        with self._read() as conn:
            return {(src, ds): int(end) for src, ds, end in conn.execute(q)}

    def set_watermarks(self, source: str, dataset: str, series_id: str, where: IntervalSet,
                       ref: WatermarkRef, records: int | Mapping[Interval, int] = 0, *,
                       fence: tuple[str, int] | None = None, now: float | None = None) -> int:
        return self.set_watermarks_many(source, dataset, [(series_id, where, ref, records)], fence=fence, now=now)

    def set_watermarks_many(self, source: str, dataset: str,
                            items: Iterable[tuple[str, IntervalSet, WatermarkRef, int | Mapping[Interval, int]]],
                            *,
                            fence: tuple[str, int] | None = None, now: float | None = None,
                            clear: Mapping[str, IntervalSet] | None = None) -> int:
        """set_watermarks for many series in ONE transaction (a commit node's whole dataset).

        `clear` (series id -> periods) is forgotten first, in the same transaction: a rollback puts a
        commit's snapshot back at once, not in a transaction per range (PostgreSQL: 98 -> 1 for a year
        of 7 series, bench/RESULTS.md). Items apply in order, as if set_watermarks were called for
        each. A series whose items are disjoint (a commit's nodes are) is cut once over their union and
        all new rows go in with one executemany: a 200-load commit then costs a query per series, not
        two per item.
        """
        at = self._now(now)
        todo = list(items)
        by_series: dict[str, list[int]] = {}
        for i, item in enumerate(todo):
            by_series.setdefault(item[0], []).append(i)
        new: list[dict[str, object]] = []

        def rows_of(series_id: str, where: IntervalSet, ref: WatermarkRef,
                    records: int | Mapping[Interval, int]) -> list[dict[str, object]]:
            return [{"source": source, "dataset": dataset, "series_id": series_id, "start": s, "end": e,
                     "load_id": ref.load_id, "operation_id": ref.operation_id, "records": n,
                     "checksum": ref.checksum, "schema_version": ref.schema_version, "committed_at": at}
                    for (s, e), n in zip(where, _records_for(where, records), strict=True)]

        with self._write() as conn:
            self._advance_fence(conn, fence)
            for series_id, where in (clear or {}).items():
                self._cut(conn, source, dataset, series_id, where)
            for series_id, idx in by_series.items():
                wheres = [todo[i][1] for i in idx]
                union = IntervalSet([iv for w in wheres for iv in w])
                if union.duration() == sum(w.duration() for w in wheres):
                    self._cut(conn, source, dataset, series_id, union)
                    for i in idx:
                        new.extend(rows_of(*todo[i]))
                    continue
                for i in idx:  # overlapping items: a later one overwrites an earlier one
                    self._cut(conn, source, dataset, series_id, todo[i][1])
                    rows = rows_of(*todo[i])
                    if rows:
                        conn.execute(wm.insert(), rows)
            if new:
                conn.execute(wm.insert(), new)
            return self._bump(conn)

    def remove_watermarks(self, source: str, dataset: str, series_id: str, where: IntervalSet, *,
                          now: float | None = None) -> int:
        with self._write() as conn:
            self._cut(conn, source, dataset, series_id, where)
            return self._bump(conn)

    def _cut(self, conn: Connection, source: str, dataset: str, series_id: str, where: IntervalSet) -> None:
        """Remove `where` from the series' rows, keeping the uncovered pieces of split rows."""
        span = where.span
        if span is None:
            return
        key = (wm.c.source == source) & (wm.c.dataset == dataset) & (wm.c.series_id == series_id)
        hit = conn.execute(sa.select(wm).where(key, wm.c.start < span[1], wm.c.end > span[0])
                           .order_by(wm.c.start)).mappings().all()
        gone: list[dict[str, int]] = []
        keep: list[dict[str, object]] = []
        for row in hit:
            rest = IntervalSet([(row["start"], row["end"])]) - where
            if rest == IntervalSet([(row["start"], row["end"])]):
                continue
            gone.append({"b_start": row["start"]})
            pieces = list(rest)
            total = row["end"] - row["start"]
            shares = apportion(int(row["records"] * sum(e - s for s, e in pieces) // total), pieces)
            keep.extend({**row, "start": s, "end": e, "records": n}
                        for (s, e), n in zip(pieces, shares, strict=True))
        if gone:
            conn.execute(wm.delete().where(key, wm.c.start == sa.bindparam("b_start")), gone)
        if keep:
            conn.execute(wm.insert(), keep)
