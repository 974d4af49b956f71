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
from aurumplan.state.models import SeriesKey, WatermarkRef, WatermarkRow
from aurumplan.state.schema import watermarks as wm
from aurumplan.state.sqlbase import SqlBase

_COLS = (wm.c.dataset, wm.c.series_id, wm.c.start, wm.c.end, wm.c.load_id, wm.c.operation_id,
         wm.c.checksum, wm.c.schema_version, wm.c.records, wm.c.committed_at)


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

    @staticmethod
    def _select(source: str, dataset: str | None, series: Iterable[str] | None,
                cols: tuple[sa.Column, ...] = _COLS) -> sa.Select:
        q = sa.select(*cols).where(wm.c.source == source)
        if dataset is not None:
            q = q.where(wm.c.dataset == dataset)
        if series is not None:
            q = q.where(wm.c.series_id.in_(list(series)))
        return q.order_by(wm.c.dataset, wm.c.series_id, wm.c.start)

    def watermarks(self, source: str, dataset: str | None = None,
                   series: Iterable[str] | None = None) -> dict[SeriesKey, IntervalMap[WatermarkRef]]:
        """Per series, its rows as an interval map; one ref object per distinct load.

        Rows arrive sorted by series and start and are coalesced here, so the maps are built as
        they are (planning reads 100,000s of rows: no second pass over them).
        """
        with self._read() as conn:
            rows = conn.execute(self._select(source, dataset, series, _COLS[:8])).all()
        refs: dict[tuple[str, str, str | None, str | None], WatermarkRef] = {}
        out: dict[SeriesKey, IntervalMap[WatermarkRef]] = {}
        key: SeriesKey | None = None
        items: list[tuple[int, int, WatermarkRef]] = []
        for ds, sid, start, end, load_id, op_id, checksum, schema_version in rows:
            rk = (load_id, op_id, checksum, schema_version)
            ref = refs.get(rk)
            if ref is None:
                ref = refs[rk] = WatermarkRef(load_id, op_id, checksum, schema_version)
            if (ds, sid) != key:
                if key is not None:
                    out[key] = IntervalMap.from_normalized(items)
                key, items = (ds, sid), []
            if items and items[-1][1] == start and items[-1][2] is ref:
                items[-1] = (items[-1][0], end, ref)
            else:
                items.append((start, end, ref))
        if key is not None:
            out[key] = IntervalMap.from_normalized(items)
        return out

    def watermark_rows(self, source: str, dataset: str | None = None,
                       series: Iterable[str] | None = None) -> list[WatermarkRow]:
        with self._read() as conn:
            rows = conn.execute(self._select(source, dataset, series)).all()
        return [WatermarkRow(source, ds, sid, start, end, WatermarkRef(lid, op, ck, sv), records, at)
                for ds, sid, start, end, lid, op, ck, sv, records, at in rows]

    def set_watermarks(self, source: str, dataset: str, series_id: str, where: IntervalSet,
                       ref: WatermarkRef, records: int | Mapping[Interval, int] = 0, *,
                       fence: tuple[str, int] | None = None, now: float | None = None) -> int:
        return self.set_watermarks_many(source, dataset, [(series_id, where, ref, records)], fence=fence, now=now)

    def set_watermarks_many(self, source: str, dataset: str,
                            items: Iterable[tuple[str, IntervalSet, WatermarkRef, int | Mapping[Interval, int]]],
                            *,
                            fence: tuple[str, int] | None = None, now: float | None = None) -> int:
        """set_watermarks for many series in ONE transaction (a commit node's whole dataset)."""
        at = self._now(now)
        with self._write() as conn:
            self._advance_fence(conn, fence)
            for series_id, where, ref, records in items:
                counts = _records_for(where, records)
                self._cut(conn, source, dataset, series_id, where)
                new = [{"source": source, "dataset": dataset, "series_id": series_id, "start": s, "end": e,
                        "load_id": ref.load_id, "operation_id": ref.operation_id, "records": n,
                        "checksum": ref.checksum, "schema_version": ref.schema_version, "committed_at": at}
                       for (s, e), n in zip(where, counts, strict=True)]
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
