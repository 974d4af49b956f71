"""Reading the warehouse: loads, current rows, checksums and coverage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.intervals import Interval
from aurumplan.warehouse.base import Load, WarehouseBase, to_load
from aurumplan.warehouse.reads import window_series
from aurumplan.warehouse.rows import ObsRow, epoch, hex64, naive_utc, row_hash
from aurumplan.warehouse.schema import current_from, current_select, fences, loads, observations, observations_active

_o, _a = observations, observations_active


def _batches(ids: list[str], size: int = 500) -> Iterator[list[str]]:
    """Ids in slices small enough for one IN list (a commit may hold thousands of loads)."""
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _filter(q: sa.Select[Any], table: sa.Table | None, source: str | None, dataset: str | None,
            window: Interval | None, conn: Connection | None = None) -> sa.Select[Any]:
    """q narrowed to a source, dataset and window. With `conn`, a window of one dataset's active rows names
    its series too, so the read is one key range per series, not the whole dataset (reads.window_series)."""
    cols = (table.c if table is not None else q.selected_columns)
    if source is not None:
        q = q.where(cols.source == source)
    if dataset is not None:
        q = q.where(cols.dataset == dataset)
    if window is not None:
        q = q.where(cols.period >= naive_utc(window[0]), cols.period < naive_utc(window[1]))
        if conn is not None and source is not None and dataset is not None:
            series = window_series(conn, source, dataset)
            if series is not None:
                q = q.where(cols.series_id.in_(series))
    return q


class QueriesMixin(WarehouseBase):
    """Read side of Warehouse."""

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read connection for callers that run their own queries (quality checks)."""
        with self._read() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read connection whose snapshot is taken on entry and kept for every statement: it reads the
        warehouse as it was then, whatever commits meanwhile (PostgreSQL: REPEATABLE READ; SQLite: its
        first read, in WAL mode). A controlled rollback scores the version it replaces while it switches
        (apply/rollback.py)."""
        with self._failures(), self._engine.connect() as conn:
            if not self._sqlite:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.execute(sa.select(fences.c.scope).limit(1))  # the first read takes the snapshot
                yield conn

    def series_counts_many(self, load_ids: list[str]) -> dict[str, dict[str, int]]:
        """Rows per series of each load, a few queries for a whole commit (not one per load)."""
        out: dict[str, dict[str, int]] = {lid: {} for lid in load_ids}
        with self._read() as conn:
            for ids in _batches(load_ids):
                # grouped in key order, so the rows are counted as the key walks them: grouping by
                # (load_id, series_id) alone made SQLite sort every row first (~90 MB for 1M rows)
                q = (sa.select(_o.c.load_id, _o.c.series_id, sa.func.count())
                     .where(_o.c.load_id.in_(ids))
                     .group_by(_o.c.load_id, _o.c.source, _o.c.dataset, _o.c.series_id))
                for lid, sid, n in conn.execute(q):
                    out[lid][sid] = out[lid].get(sid, 0) + int(n)
        return out

    def loads_by_id(self, load_ids: list[str]) -> dict[str, Load]:
        """The loads with these ids (those that exist), in a few queries."""
        out: dict[str, Load] = {}
        with self._read() as conn:
            for ids in _batches(load_ids):
                q = sa.select(loads).where(loads.c.load_id.in_(ids))
                out.update((r["load_id"], to_load(r)) for r in conn.execute(q).mappings())
        return out

    def load(self, load_id: str) -> Load | None:
        with self._read() as conn:
            row = conn.execute(sa.select(loads).where(loads.c.load_id == load_id)).mappings().first()
        return None if row is None else to_load(row)

    def loads_for_operation(self, operation_id: str) -> list[Load]:
        q = sa.select(loads).where(loads.c.operation_id == operation_id).order_by(
            loads.c.created_at, loads.c.load_id)
        with self._read() as conn:
            return [to_load(r) for r in conn.execute(q).mappings()]

    def current_checksum(self, source: str | None = None, dataset: str | None = None) -> str:
        """Order-independent checksum of observations_current (same rows, same checksum)."""
        q = _filter(sa.select(*current_select.selected_columns[:7]).select_from(current_from),
                    _a, source, dataset, None)
        total = 0
        with self._read() as conn:
            for s, d, sid, period, value, unit, attrs in conn.execute(q):
                total += row_hash(s, d, sid, epoch(period), value, unit, attrs)
        return hex64(total)

    def count_current(self, source: str | None = None, dataset: str | None = None,
                      window: Interval | None = None) -> int:
        with self._read() as conn:
            q = _filter(sa.select(sa.func.count()).select_from(_a), _a, source, dataset, window, conn)
            return int(conn.execute(q).scalar_one())

    def coverage(self, source: str, dataset: str | None = None,
                 window: Interval | None = None) -> dict[tuple[str, str], list[int]]:
        """Sorted active periods (epoch seconds) per (dataset, series_id)."""
        out: dict[tuple[str, str], list[int]] = {}
        with self._read() as conn:
            q = _filter(sa.select(_a.c.dataset, _a.c.series_id, _a.c.period), _a, source, dataset, window, conn)
            for ds, sid, period in conn.execute(q.order_by(_a.c.dataset, _a.c.series_id, _a.c.period)):
                out.setdefault((ds, sid), []).append(epoch(period))
        return out

    def read_rows(self, source: str, dataset: str | None = None, window: Interval | None = None,
                  load_id: str | None = None) -> Iterator[ObsRow]:
        """Rows of one load (staged or not), or with load_id None the current rows; by series, period."""
        cols = [_o.c.source, _o.c.dataset, _o.c.series_id, _o.c.period, _o.c.value, _o.c.unit,
                _o.c.attributes, _o.c.load_id]
        if load_id is None:
            q = sa.select(*cols).select_from(current_from)
        else:
            q = sa.select(*cols).where(_o.c.load_id == load_id)
        with self._read() as conn:
            q = _filter(q, _a if load_id is None else _o, source, dataset, window, conn if load_id is None else None)
            q = q.order_by(_o.c.dataset, _o.c.series_id, _o.c.period)
            for s, d, sid, period, value, unit, attrs, lid in conn.execution_options(yield_per=5000).execute(q):
                yield ObsRow(s, d, sid, epoch(period), value, unit, json.loads(attrs) if attrs else None, lid)
