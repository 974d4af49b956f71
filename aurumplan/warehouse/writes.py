"""Staging: loads are created, filled batch by batch, and discarded, all before any commit.

write_batch is the hot path of apply. On SQLite the INSERT is compiled once and run with
plain tuples through the driver's executemany, periods pre-rendered in SQLAlchemy's storage
format (cached, since periods repeat across series); that keeps it well above 100k rows/s.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.errors import OperationError
from aurumplan.warehouse.base import Load, LoadInfo, WarehouseBase, to_load
from aurumplan.warehouse.rows import (
    MASK,
    ZERO,
    Row,
    attrs_text,
    epoch,
    hex64,
    naive_utc,
    row_hash,
    sqlite_ts,
)
from aurumplan.warehouse.schema import loads, observations

_OBS_COLS = ("load_id", "source", "dataset", "series_id", "period", "value", "unit", "attributes")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class WritesMixin(WarehouseBase):
    """Loads before commit: stage, write batches, discard, verify."""

    _insert_sql: str | None = None

    def stage_load(self, info: LoadInfo) -> Load:
        """Create the load (status staged) unless it exists; either way return it."""
        if info.period_end <= info.period_start:
            raise ValueError(f"load {info.load_id}: empty period range")
        with self._write() as conn:
            row = self._load_row(conn, info.load_id)
            if row is None:
                conn.execute(loads.insert().values(
                    load_id=info.load_id, operation_id=info.operation_id, node_id=info.node_id,
                    source=info.source, dataset=info.dataset, period_start=naive_utc(info.period_start),
                    period_end=naive_utc(info.period_end), series=json.dumps(list(info.series)),
                    status="staged", records=0, checksum=ZERO, fence_scope=info.fence_scope,
                    fence_token=info.fence_token, created_at=_utcnow()))
                row = self._load_row(conn, info.load_id)
        assert row is not None
        return to_load(row)

    @staticmethod
    def _load_row(conn: Connection, load_id: str, for_update: bool = False) -> Any:
        q = sa.select(loads).where(loads.c.load_id == load_id)
        if for_update:
            q = q.with_for_update()
        return conn.execute(q).mappings().first()

    def _staged(self, conn: Connection, load_id: str) -> Any:
        row = self._load_row(conn, load_id, for_update=not self._sqlite)
        if row is None:
            raise OperationError(f"no load {load_id} in the warehouse")
        if row["status"] != "staged":
            raise OperationError(f"load {load_id} is {row['status']}, not staged")
        return row

    def discard_staged(self, load_id: str, restage: bool = False) -> None:
        """Drop an uncommitted load's rows; the load becomes discarded, or empty and staged again."""
        with self._write() as conn:
            row = self._load_row(conn, load_id)
            if row is None:
                raise OperationError(f"no load {load_id} in the warehouse")
            if row["status"] in ("committed", "rolled_back"):
                raise OperationError(f"load {load_id} is {row['status']}; roll it back instead of discarding")
            conn.execute(observations.delete().where(observations.c.load_id == load_id))
            conn.execute(loads.update().where(loads.c.load_id == load_id).values(
                status="staged" if restage else "discarded", records=0, checksum=ZERO))

    def write_batch(self, load_id: str, rows: Iterable[Row]) -> int:
        """Insert rows into a staged load in one transaction; returns their checksum contribution."""
        src = rows if isinstance(rows, list) else list(rows)
        if not src:
            return 0
        total = 0
        params: list[tuple[Any, ...]] = []
        add = params.append
        to_ts = sqlite_ts if self._sqlite else naive_utc
        seen: dict[int, str | None] = {}
        for source, dataset, series_id, period, value, unit, attrs in src:
            if attrs is None or isinstance(attrs, str):
                text = attrs
            else:
                text = seen.get(id(attrs))
                if text is None:
                    text = seen[id(attrs)] = attrs_text(attrs)
            period = int(period)
            if value is not None:
                value = float(value)
                if value != value:  # NaN: stored as NULL by SQLite, so hash it as NULL everywhere
                    value = None
            total += row_hash(source, dataset, series_id, period, value, unit, text)
            add((load_id, source, dataset, series_id, to_ts(period), value, unit, text))
        total &= MASK
        with self._write(locked=False) as conn:
            load = self._staged(conn, load_id)
            try:
                self._insert(conn, params)
            except (sa.exc.IntegrityError, psycopg.IntegrityError):
                raise OperationError(f"load {load_id} got a record twice (same series and period) "
                                     "or was written by another process") from None
            conn.execute(loads.update().where(loads.c.load_id == load_id).values(
                records=loads.c.records + len(params),
                checksum=hex64(int(load["checksum"], 16) + total)))
        return total

    def _insert(self, conn: Connection, params: list[tuple[Any, ...]]) -> None:
        if self._sqlite:
            if self._insert_sql is None:
                self._insert_sql = str(observations.insert().compile(dialect=conn.dialect))
            conn.exec_driver_sql(self._insert_sql, params)
        else:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY observations ({', '.join(_OBS_COLS)}) FROM STDIN") as cp:
                for p in params:
                    cp.write_row(p)

    def refresh_load(self, load_id: str) -> tuple[int, str]:
        """Set a staged load's records/checksum from its stored rows (an engine such as SeaTunnel's Jdbc
        sink wrote them without write_batch, so the running totals were not kept)."""
        n, cs = self.load_stats(load_id)
        with self._write(locked=False) as conn:
            self._staged(conn, load_id)
            conn.execute(loads.update().where(loads.c.load_id == load_id).values(records=n, checksum=cs))
        return n, cs

    def load_stats(self, load_id: str) -> tuple[int, str]:
        """(records, checksum) recomputed from the load's stored rows."""
        o = observations
        q = sa.select(o.c.source, o.c.dataset, o.c.series_id, o.c.period, o.c.value, o.c.unit,
                      o.c.attributes).where(o.c.load_id == load_id)
        n = total = 0
        with self._read() as conn:
            for source, dataset, series_id, period, value, unit, attrs in conn.execute(q):
                total += row_hash(source, dataset, series_id, epoch(period), value, unit, attrs)
                n += 1
        return n, hex64(total)
