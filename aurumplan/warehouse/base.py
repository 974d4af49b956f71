"""Opening the warehouse, and the values it hands out."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.db import Database, unreachable, write_txn
from aurumplan.errors import AurumError, WarehouseError
from aurumplan.warehouse.rows import epoch
from aurumplan.warehouse.schema import GC_SCOPE, SCHEMA_SCOPE, current_select, fences, metadata, schema_mark

_PG_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtextextended('aurumplan-warehouse:' || current_schema(), 0))")
"""Serialises creation, commits and rollbacks of one warehouse: keyed by its schema, so warehouses in other
schemas of the same database (a team's environments, parallel test runs) never wait for each other."""


@dataclass(frozen=True)
class LoadInfo:
    """What a node is about to write: one dataset, some series, a half-open period range."""

    load_id: str
    operation_id: str
    source: str
    dataset: str
    period_start: int
    period_end: int
    series: tuple[str, ...]
    node_id: str | None = None
    fence_scope: str | None = None
    fence_token: int | None = None
    schema_version: str | None = None


@dataclass(frozen=True)
class Load:
    load_id: str
    operation_id: str
    node_id: str | None
    source: str
    dataset: str
    period_start: int
    period_end: int
    series: tuple[str, ...]
    status: str
    records: int
    checksum: str
    fence_scope: str | None
    fence_token: int | None
    created_at: dt.datetime
    committed_at: dt.datetime | None
    commit_seq: int | None
    schema_version: str | None = None


def to_load(row: Mapping[Any, Any]) -> Load:
    """A `loads` row (a mapping by column name) as a Load."""
    data = dict(row)
    data["period_start"] = epoch(data["period_start"])
    data["period_end"] = epoch(data["period_end"])
    data["series"] = tuple(json.loads(data["series"]))
    return Load(**data)


def _add_columns(conn: Connection, tables: Iterable[sa.Table]) -> None:
    """The migration path of an existing warehouse: columns added to its tables since they were created.

    Only nullable columns are ever added (rows written before read NULL), so ADD COLUMN is enough
    on both backends and opening an older warehouse upgrades it in place.
    """
    inspector = sa.inspect(conn)
    for table in tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for col in table.columns:
            if col.name not in have and col.nullable:
                kind = col.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" {kind}')


def _add_indexes(conn: Connection, tables: Iterable[sa.Table]) -> None:
    """Indexes added to existing tables since they were created (create_all makes a table's indexes only
    with the table). Each is created unless there, and only on the databases it is declared for."""
    inspector = sa.inspect(conn)
    for table in tables:
        have = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            if index.name not in have:
                index.create(conn)


def _replace_view(conn: Connection, sqlite: bool) -> None:
    """observations_current as this version defines it, created or replaced in place (same columns, same
    types: a PostgreSQL view that depends on it stays valid)."""
    body = current_select.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    if sqlite:
        conn.exec_driver_sql("DROP VIEW IF EXISTS observations_current")
        conn.exec_driver_sql(f"CREATE VIEW observations_current AS {body}")
    else:
        conn.exec_driver_sql(f"CREATE OR REPLACE VIEW observations_current AS {body}")


class WarehouseBase(Database):
    """Engine, transactions and table creation; its failures are WarehouseErrors."""

    error: ClassVar[type[AurumError]] = WarehouseError
    failures: tuple[type[Exception], ...] = (sa.exc.DBAPIError, sqlite3.Error)
    integrity_errors: tuple[type[Exception], ...] = (sa.exc.IntegrityError, sqlite3.IntegrityError)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        if not self._sqlite:
            import psycopg  # the PostgreSQL driver's own errors: a SQLite warehouse never imports psycopg

            self.failures = (*self.failures, psycopg.Error)
            self.integrity_errors = (*self.integrity_errors, psycopg.IntegrityError)
        try:
            self._create()
        except self.failures as exc:
            self._engine.dispose()
            raise unreachable(url, exc, self.error) from None

    def _create(self) -> None:
        """Bring the warehouse to this version's tables, unless its schema mark says it is (one query
        instead of ~15 catalog queries per open; PostgreSQL: ~15 ms, and a rollback opens it ~5 times)."""
        if self._schema_marked():
            return
        with write_txn(self._engine) as conn:
            self._lock(conn)
            # one catalog query for the tables there, then only the missing ones created and only the others
            # inspected for added columns (opening a new PostgreSQL warehouse: ~45 -> ~36 ms; bench/RESULTS.md)
            have = set(sa.inspect(conn).get_table_names())
            metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t.name not in have],
                                checkfirst=False)
            if "loads" not in have:  # no `gc` has deleted anything yet, counted from here on (schema.GC_SCOPE)
                conn.execute(fences.insert().values(scope=GC_SCOPE, token=0))
            _add_columns(conn, [t for t in metadata.sorted_tables if t.name in have])
            _add_indexes(conn, [t for t in metadata.sorted_tables if t.name in have])
            _replace_view(conn, self._sqlite)
            conn.execute(fences.delete().where(fences.c.scope == SCHEMA_SCOPE))
            conn.execute(fences.insert().values(scope=SCHEMA_SCOPE, token=schema_mark()))

    def _schema_marked(self) -> bool:
        """Whether the warehouse carries this version's schema mark (no fences table yet: no)."""
        try:
            with self._engine.connect() as conn:
                mark = conn.execute(sa.select(fences.c.token).where(fences.c.scope == SCHEMA_SCOPE)).scalar()
        except self.failures:  # a new warehouse; an unreachable one fails again in _create, with its reason
            return False
        return mark == schema_mark()

    def _lock(self, conn: Connection) -> None:
        """Serialise writers that read then write shared rows (SQLite already holds its lock)."""
        if not self._sqlite:
            conn.execute(_PG_LOCK)

    @contextmanager
    def _write(self, locked: bool = True) -> Iterator[Connection]:
        with self._failures(), write_txn(self._engine) as conn:
            if locked:
                self._lock(conn)
            yield conn
