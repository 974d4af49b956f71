"""Staging: loads are created, filled batch by batch, and discarded, all before any commit.

write_batch is the hot path of apply. On SQLite the rows go in as multi-row INSERTs of up to
_ROWS_PER_INSERT rows through the driver's cursor, periods pre-rendered in SQLAlchemy's storage
format (cached, since periods repeat across series). Not executemany: pysqlite releases the GIL
around every row's step, and with other threads parsing pages each re-acquisition waits up to a
switch interval, which made a contended 5,000-row batch 100x slower than an uncontended one.
A row binds only its own five values: the load's id, source and dataset are bound once per
statement (three fewer strings copied per row: SQLite inserts ~23% faster, bench/RESULTS.md), and
so are a unit and attributes that all the statement's rows share (then three values a row).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.db import driver_connection
from aurumplan.errors import OperationError
from aurumplan.warehouse.base import Load, LoadInfo, WarehouseBase, to_load
from aurumplan.warehouse.rows import ROW_WIDTH, ZERO, Record, Row, epoch, hex64, naive_utc, row_hash, row_values
from aurumplan.warehouse.schema import loads, observations

_OBS_COLS = ("load_id", "source", "dataset", "series_id", "period", "value", "unit", "attributes")
_PG_COPY = f"COPY observations ({', '.join(_OBS_COLS)}) FROM STDIN (FORMAT BINARY)"
_PG_COPY_TYPES = ("varchar", "varchar", "varchar", "varchar", "timestamp", "float8", "text", "text")
"""PostgreSQL stages by binary COPY, each value dumped by psycopg's C code for the column's own type (schema.py).
The text format formatted every value in Python under the GIL: 61,320 rows took 157 ms of the apply's CPU,
46 ms in binary, and the server 210 ms against 190 ms to read them (bench/RESULTS.md, issue 18)."""
_ROWS_PER_INSERT = 1000
"""Rows per SQLite INSERT statement: 5,003 parameters, under the 32,766 SQLite allows since 3.32."""
_SQLITE_HEAD = (f"INSERT INTO observations ({', '.join(_OBS_COLS)}) SELECT ?, ?, ?, column1, column2, column3, "
                "NULLIF({unit}, ''), NULLIF({attrs}, '') FROM (VALUES ")
_SQLITE_INSERT = _SQLITE_HEAD.format(unit="column4", attrs="column5")
_SQLITE_SHARED = _SQLITE_HEAD.format(unit="?", attrs="?")
"""Unit and attributes come as '' for NULL (rows.row_values): pysqlite binds a str directly, None
through its adapter lookup (~0.2 us a value, bench/RESULTS.md, issue 18)."""


_UNIT, _ATTRS = 3, 4
"""Where a row's unit and attributes are among its ROW_WIDTH values (rows.row_values)."""


@lru_cache(maxsize=16)
def _sqlite_insert(rows: int, shared: bool = False) -> str:
    """An INSERT of `rows` rows: the load's id, source and dataset, then each row's ROW_WIDTH values; or,
    `shared`, the unit and attributes every row has, then each row's series, period and value. A page's
    rows mostly share both: binding three values a row instead of five made the INSERT ~10% cheaper."""
    if shared:
        return _SQLITE_SHARED + ",".join(["(?,?,?)"] * rows) + ")"
    return _SQLITE_INSERT + ",".join(["(?,?,?,?,?)"] * rows) + ")"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class WritesMixin(WarehouseBase):
    """Loads before commit: stage, write batches, discard, verify."""

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
                    fence_token=info.fence_token, created_at=_utcnow(), schema_version=info.schema_version))
                row = self._load_row(conn, info.load_id)
            elif row["status"] == "discarded":  # a cancelled or halted attempt's load, fetched again
                conn.execute(loads.update().where(loads.c.load_id == info.load_id).values(
                    status="staged", records=0, checksum=ZERO, fence_scope=info.fence_scope,
                    fence_token=info.fence_token, created_at=_utcnow(), schema_version=info.schema_version))
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
        """Insert full rows (all of one source and dataset, as a load is) into a staged load."""
        src = rows if isinstance(rows, list) else list(rows)
        if not src:
            return 0
        source, dataset = src[0][0], src[0][1]
        if any(r[0] != source or r[1] != dataset for r in src):
            raise ValueError(f"load {load_id}: rows of one batch must share one source and dataset")
        return self.write_records(load_id, source, dataset, [(r[2], int(r[3]), *r[4:]) for r in src])

    def write_records(self, load_id: str, source: str, dataset: str, records: Sequence[Record]) -> int:
        """Insert a driver's records (series_id, period, value, unit, attributes) into a staged load in
        one transaction; returns their checksum contribution. The hot path of apply."""
        if not records:
            return 0
        flat, total = row_values(source, dataset, records, self._sqlite)
        return self.write_values(load_id, source, dataset, flat, total)

    def write_values(self, load_id: str, source: str, dataset: str, flat: list[Any], total: int) -> int:
        """Insert rows already turned into column values (rows.row_values: ROW_WIDTH per row, hashed as
        rows of `source` and `dataset`, `total` their checksum) into a staged load in one transaction;
        returns `total`."""
        if not flat:
            return 0
        with self._write(locked=False) as conn:
            load = self._staged(conn, load_id)
            if (load["source"], load["dataset"]) != (source, dataset):
                raise ValueError(f"load {load_id} holds {load['source']}/{load['dataset']}, not {source}/{dataset}")
            try:
                self._insert(conn, load_id, source, dataset, flat)
            except self.integrity_errors:
                raise OperationError(f"load {load_id} got a record twice (same series and period) "
                                     "or was written by another process") from None
            conn.execute(loads.update().where(loads.c.load_id == load_id).values(
                records=loads.c.records + len(flat) // ROW_WIDTH,
                checksum=hex64(int(load["checksum"], 16) + total)))
        return total

    def _insert(self, conn: Connection, load_id: str, source: str, dataset: str, flat: list[Any]) -> None:
        """Insert one load's rows, given as one flat list of their ROW_WIDTH column values each."""
        width = ROW_WIDTH
        if self._sqlite:
            step = _ROWS_PER_INSERT * width
            head = [load_id, source, dataset]
            cur = driver_connection(conn).cursor()
            try:
                for i in range(0, len(flat), step):
                    part = flat[i:i + step]
                    rows = len(part) // width
                    units, attrs = part[_UNIT::width], part[_ATTRS::width]
                    if units.count(units[0]) == rows and attrs.count(attrs[0]) == rows:
                        del part[_UNIT::width]
                        del part[_ATTRS - 1::width - 1]
                        cur.execute(_sqlite_insert(rows, shared=True), [*head, units[0], attrs[0], *part])
                    else:
                        cur.execute(_sqlite_insert(rows), head + part)
            finally:
                cur.close()
        else:
            raw = driver_connection(conn)
            with raw.cursor() as cur, cur.copy(_PG_COPY) as cp:
                cp.set_types(_PG_COPY_TYPES)
                for i in range(0, len(flat), width):
                    cp.write_row((load_id, source, dataset, *flat[i:i + width]))

    def copy_staged(self, from_load: str, to_load: str) -> tuple[int, str]:
        """Stage another staged load's rows under to_load (an earlier attempt's rows, reused when its range
        did not change); returns (records, checksum), equal to the source load's."""
        o = observations
        cols = [c for c in o.c if c.name != "load_id"]
        with self._write() as conn:
            src = self._staged(conn, from_load)
            self._staged(conn, to_load)
            conn.execute(o.delete().where(o.c.load_id == to_load))
            conn.execute(o.insert().from_select(["load_id", *(c.name for c in cols)],
                                                sa.select(sa.literal(to_load), *cols).where(o.c.load_id == from_load)))
            conn.execute(loads.update().where(loads.c.load_id == to_load).values(records=src["records"],
                                                                                 checksum=src["checksum"]))
        return int(src["records"]), str(src["checksum"])

    def refresh_load(self, load_id: str) -> tuple[int, str]:
        """Set a staged load's records/checksum from its stored rows (an engine such as SeaTunnel's Jdbc
        sink wrote them without write_batch, so the running totals were not kept)."""
        n, cs = self.load_stats(load_id)
        with self._write(locked=False) as conn:
            self._staged(conn, load_id)
            conn.execute(loads.update().where(loads.c.load_id == load_id).values(records=n, checksum=cs))
        return n, cs

    def has_rows(self, load_id: str) -> bool:
        """Whether any row is stored under the load: one index probe (load_stats reads and hashes them all)."""
        with self._read() as conn:
            return conn.execute(sa.select(sa.literal(1)).where(observations.c.load_id == load_id).limit(1)
                                ).first() is not None

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
