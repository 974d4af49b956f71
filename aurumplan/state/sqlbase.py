"""Opening a SQL state store: schema creation, the version gate, the global write lock, the serial.

Every write runs in one transaction that first takes the store's write lock (SQLite: BEGIN
IMMEDIATE; PostgreSQL: the `lock` row of meta, FOR UPDATE). Writers are few and short, so one
lock keeps leases, quota, fences and the serial trivially consistent across processes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.errors import FencedError, SchemaVersionError, StateError
from aurumplan.state.engine import Database, read_txn, unreachable, write_txn
from aurumplan.state.reads import Query, schema_version_error
from aurumplan.state.reads import loads as loads
from aurumplan.state.schema import SCHEMA_VERSION, meta, metadata

_DB_ERRORS = (sa.exc.DBAPIError,)
_CREATE_LOCK_KEY = 0x61757275  # pg_advisory_xact_lock key while creating tables


def dumps(obj: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(obj or {}), sort_keys=True, separators=(",", ":"), default=str)


def text_query(conn: Connection) -> Query:
    """The reads of state/reads.py run on this connection (its transaction)."""
    def run(sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        return conn.execute(sa.text(sql), dict(params)).all()
    return run


_INCREMENT = meta.update().where(meta.c.key == sa.bindparam("counter")).values(
    value=sa.cast(sa.cast(meta.c.value, sa.BigInteger) + 1, sa.Text))


class SqlBase(Database):
    """Engine, locks and meta counters shared by the store's parts."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        super().__init__(url)
        try:
            self._open(create)
        except _DB_ERRORS as exc:
            self._engine.dispose()
            raise unreachable(url, exc) from None
        except BaseException:
            self._engine.dispose()
            raise

    # -- opening -----------------------------------------------------------------------------

    def _open(self, create: bool) -> None:
        with self._engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())  # one catalog query (has_table: one per table)
            exists = "meta" in names
            complete = exists and set(metadata.tables) <= names
        if not exists and not create:
            raise StateError(f"no aurumplan state at {self._url}", hint="run `aurumplan init`")
        if not complete:  # a new store, or one made before a table was added (added tables only)
            self._create()
        self._check_version()

    def _create(self) -> None:
        with write_txn(self._engine) as conn:
            if not self._sqlite:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CREATE_LOCK_KEY)))
            metadata.create_all(conn, checkfirst=True)
            have = {r[0] for r in conn.execute(sa.select(meta.c.key))}
            initial = {"schema_version": str(SCHEMA_VERSION), "lineage": str(uuid.uuid4()),
                       "serial": "0", "fence": "0", "lock": "0"}
            rows = [{"key": k, "value": v} for k, v in initial.items() if k not in have]
            if rows:
                conn.execute(meta.insert(), rows)

    def _check_version(self) -> None:
        with self._engine.connect() as conn:
            raw = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        try:
            version = int(raw or 0)
        except ValueError:
            raise StateError(f"state at {self._url} has an unreadable schema version {raw!r}") from None
        refusal = schema_version_error(self._url, version)
        if refusal is not None:
            raise SchemaVersionError(refusal)

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction holding the store's write lock."""
        try:
            with write_txn(self._engine) as conn:
                if not self._sqlite:
                    conn.execute(sa.select(meta.c.value).where(meta.c.key == "lock").with_for_update())
                yield conn
        except _DB_ERRORS as exc:
            raise unreachable(self._raw_url, exc) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with read_txn(self._engine) as conn:
                yield conn
        except _DB_ERRORS as exc:
            raise unreachable(self._raw_url, exc) from None

    @staticmethod
    def _now(now: float | None) -> float:
        return time.time() if now is None else float(now)

    # -- meta counters -----------------------------------------------------------------------

    @staticmethod
    def _get_meta(conn: Connection, key: str) -> str | None:
        return conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()

    @staticmethod
    def _set_meta(conn: Connection, key: str, value: str) -> None:
        done = conn.execute(meta.update().where(meta.c.key == key).values(value=value)).rowcount
        if not done:
            conn.execute(meta.insert().values(key=key, value=value))

    def _bump(self, conn: Connection, key: str = "serial") -> int:
        """Increment a meta counter inside a write transaction; returns the new value."""
        self._touch(conn, key)
        return int(self._get_meta(conn, key) or 0)

    @staticmethod
    def _touch(conn: Connection, key: str = "serial") -> None:
        """Increment a meta counter in one statement, where its new value is not needed (every write
        bumps the serial: two statements each cost ~0.1 ms of the apply's CPU per checkpoint)."""
        if not conn.execute(_INCREMENT, {"counter": key}).rowcount:
            conn.execute(meta.insert().values(key=key, value="1"))

    def _advance_fence(self, conn: Connection, fence: tuple[str, int] | None) -> None:
        """Refuse a writer whose token is older than one already seen for its scope."""
        if fence is None:
            return
        scope, token = fence
        key = f"fence:{scope}"
        seen = self._get_meta(conn, key)
        if seen is not None and int(seen) > token:
            raise FencedError(f"fenced: token {token} for {scope} is older than {seen}; "
                              "another operation took over this range")
        self._set_meta(conn, key, str(token))

    def serial(self) -> int:
        with self._read() as conn:
            return int(self._get_meta(conn, "serial") or 0)

    def lineage(self) -> str:
        with self._read() as conn:
            return self._get_meta(conn, "lineage") or ""
