"""Engines that behave the same on SQLite and PostgreSQL, and URLs that never show a password.

A leaf shared by the state store and the warehouse: each passes its own error class (StateError,
WarehouseError), so a failure names the database that failed.

SQLite's own transaction handling in pysqlite starts transactions lazily and cannot take the
write lock up front; two processes that both read then write would deadlock into SQLITE_BUSY.
So pysqlite's BEGIN is switched off and every write transaction here starts with
`BEGIN IMMEDIATE`, which takes the database write lock first and waits (busy timeout) for it.
Writers of one process (threads, and the state store and warehouse when they share a file)
queue on a lock per database file first: SQLite's busy handler sleeps in growing steps (up to
100 ms) instead of waking when the lock frees, which starves concurrent writers of one process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, ClassVar, Self

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from aurumplan.errors import AurumError

BUSY_TIMEOUT_S = 60.0
_WRITE = "aurum_write"
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: str | None) -> threading.RLock:
    """The in-process writer lock of one SQLite file (a fresh one for an in-memory database)."""
    if path is None:
        return threading.RLock()
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path, threading.RLock())


def mask_url(url: str | sa.URL) -> str:
    """The URL as text with any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown only by its scheme
        return str(url).split(":", 1)[0] + "://..."


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, error: type[AurumError]) -> Engine:
    """An engine for url; a SQLite file's parent folders are created, pragmas set on connect."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise error(f"invalid database URL {mask_url(url)}") from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise error(f"unsupported database {mask_url(parsed)}: use sqlite:///FILE or postgresql+psycopg://HOST/DB")


def _memory_path(db: str) -> bool:
    return db in ("", ":memory:") or db.startswith("file::memory:")


def in_memory(engine: Engine) -> bool:
    """Whether the engine is an in-memory SQLite database: one connection that every thread shares."""
    return is_sqlite(engine) and _memory_path(engine.url.database or "")


def _sqlite_engine(url: sa.URL) -> Engine:
    db = url.database or ""
    memory = _memory_path(db)
    if not memory:
        Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = sa.create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        if not memory:
            _wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    _WRITERS[engine] = _file_lock(None if memory else str(Path(db).expanduser().resolve()))
    return engine


def _wal(cur: Any) -> None:
    """Switch to WAL, waiting out another process that is creating or switching the same new file.

    Two processes opening a new database at once (two applies on a fresh state) can meet SQLite's
    "database is locked" here without its busy handler being consulted; a few short retries, within
    the busy timeout, let the first one finish (seen once in CI, tests/apply/test_shared_quota.py).
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.01
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


@contextmanager
def write_txn(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds SQLite's write lock from its start (a plain one on PostgreSQL)."""
    with _WRITERS.get(engine) or nullcontext(), engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def read_txn(engine: Engine) -> Iterator[Connection]:
    """A read transaction: one consistent snapshot for several statements."""
    with engine.connect() as conn, conn.begin():
        yield conn


def driver_connection(conn: Connection) -> Any:
    """The DBAPI connection under conn (sqlite3 or psycopg), for bulk reads and writes at driver speed."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection was closed")
    return raw


def unreachable(url: str | sa.URL, exc: BaseException, error: type[AurumError]) -> AurumError:
    """One line that says which database failed and why, without its password."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = reason[0] if reason else type(exc).__name__
    raw = make_url(url) if not isinstance(url, sa.URL) else url
    if raw.password:
        first = first.replace(str(raw.password), "***")
    return error(f"cannot use database {mask_url(url)}: {first}")


class Database:
    """An engine opened on a URL, with the URL shown masked; the base of the state store and the warehouse.

    `error` is the class its failures are raised as, `failures` the exceptions that count as one
    (a subclass that uses driver cursors directly adds the drivers' own: psycopg's on an instance opened
    on PostgreSQL, so that SQLite never imports psycopg).
    """

    error: ClassVar[type[AurumError]] = AurumError
    failures: tuple[type[Exception], ...] = (sa.exc.DBAPIError,)

    def __init__(self, url: str) -> None:
        self._raw_url = url
        self._url = mask_url(url)
        self._engine = make_engine(url, error=self.error)
        self._sqlite = is_sqlite(self._engine)

    @property
    def url(self) -> str:
        return self._url

    @property
    def sqlite(self) -> bool:
        """Whether this database is SQLite (some statements and value forms differ)."""
        return self._sqlite

    @property
    def concurrent(self) -> bool:
        """Whether a read may run while another thread writes (not on an in-memory SQLite database, whose
        one connection every thread shares)."""
        return not in_memory(self._engine)

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """Driver and SQLAlchemy errors become one `error` line naming this database, without its password."""
        try:
            yield
        except self.failures as exc:
            raise unreachable(self._raw_url, exc, self.error) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction (one snapshot) whose failures are `error`s."""
        with self._failures(), read_txn(self._engine) as conn:
            yield conn

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
