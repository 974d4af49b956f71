"""The fake engine's Jdbc sink: SeaTunnel's generated SQL (generate_sink_sql) into an existing table.

From apache/seatunnel 15431c94, connector-jdbc (docs/seatunnel.md lists the files):
- JdbcOutputFormatBuilder: with primary_keys and enable_upsert (the default) the dialect's upsert
  statement; with enable_upsert = false a query per row decides INSERT or UPDATE; without keys a
  plain INSERT. schema_save_mode ERROR_WHEN_SCHEMA_NOT_EXIST: a missing table fails the job.
- PostgresDialect: `INSERT ... ON CONFLICT ("k", ...) DO UPDATE SET "c"=EXCLUDED."c"` for every column.
- SqliteDialect: `... ON CONFLICT(k) DO UPDATE SET c=VALUES(c)`, MySQL syntax that SQLite rejects
  (apache/seatunnel#10852): on SQLite only enable_upsert = false can write with keys.
- A LocalDate bound to a timestamp column is its midnight (the PostgreSQL driver's date -> timestamp).

The statements run through SQLAlchemy on the same database, with the column types read from it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import sqlalchemy as sa

from tests.doubles.seatunnel.errors import JobFailed


def sqlalchemy_url(jdbc: str, user: str | None, password: str | None) -> tuple[str, str | None]:
    """jdbc:sqlite:/p or jdbc:postgresql://h:p/db?currentSchema=s -> (SQLAlchemy URL, schema)."""
    if jdbc.startswith("jdbc:sqlite:"):
        return "sqlite:///" + jdbc[len("jdbc:sqlite:"):], None
    if not jdbc.startswith("jdbc:postgresql://"):
        raise JobFailed(f"Jdbc: no driver for {jdbc.split('//')[0]}")
    parts = urlsplit(jdbc[len("jdbc:"):])
    q = parse_qs(parts.query)
    user = user or (q.get("user") or [None])[0]
    schema = (q.get("currentSchema") or [None])[0]
    auth = ""
    if user:
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "") + "@"
    tail = f"?options=-csearch_path%3D{schema}" if schema else ""
    return f"postgresql+psycopg://{auth}{parts.netloc}{parts.path}{tail}", schema


def _period(value: Any) -> Any:
    """Temporal text of the Sql transform -> the value the JDBC driver binds."""
    if isinstance(value, str):
        if len(value) == 10:
            return dt.datetime.strptime(value, "%Y-%m-%d")
        if len(value) == 19 and value[10] == " ":
            return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    return value


class Sink:
    """One Jdbc sink plugin: the statement SeaTunnel generates for the warehouse's dialect."""

    def __init__(self, plugin: Mapping[str, Any]) -> None:
        user = plugin.get("username") or plugin.get("user")
        url, schema = sqlalchemy_url(str(plugin["url"]), user, plugin.get("password"))
        if "${" in url:
            raise JobFailed("Jdbc: url, username or password holds an unresolved ${...} reference")
        self.engine = sa.create_engine(url)
        table = str(plugin["table"])
        if "." in table:
            schema, table = table.split(".", 1)
        if self.engine.dialect.name == "sqlite":
            schema = None  # `database = "main"` is SQLite's own schema name
        try:
            self.table = sa.Table(table, sa.MetaData(), autoload_with=self.engine, schema=schema)
        except sa.exc.NoSuchTableError as exc:  # schema_save_mode = ERROR_WHEN_SCHEMA_NOT_EXIST
            raise JobFailed(f"Jdbc: table {exc} does not exist") from None
        self.keys = [str(k) for k in plugin.get("primary_keys") or []]
        upsert = plugin.get("enable_upsert")
        self.upsert = True if upsert is None else bool(upsert) and str(upsert).lower() != "false"

    def _q(self, name: str) -> str:
        return f'"{name}"' if self.engine.dialect.name == "postgresql" else f"`{name}`"

    def _target(self) -> str:
        if self.engine.dialect.name == "postgresql" and self.table.schema:
            return f'"{self.table.schema}"."{self.table.name}"'
        return f"main.{self._q(self.table.name)}" if self.engine.dialect.name == "sqlite" else self._q(self.table.name)

    def _bind(self, sql: str, columns: list[str]) -> sa.TextClause:
        return sa.text(sql).bindparams(*[sa.bindparam(f"c{i}", type_=self.table.c[c].type)
                                         for i, c in enumerate(columns) if re.search(rf":c{i}\b", sql)])

    def _insert(self, columns: list[str]) -> str:
        return (f"INSERT INTO {self._target()} ({', '.join(self._q(c) for c in columns)}) VALUES "
                f"({', '.join(f':c{i}' for i in range(len(columns)))})")

    def write(self, rows: list[dict[str, Any]]) -> int:
        """Write the rows; returns how many SinkWriteCount counts (every row handed to the writer)."""
        if not rows:
            return 0
        columns = list(rows[0])
        missing = [c for c in columns if c not in self.table.c]
        if missing:
            raise JobFailed(f"Jdbc: column(s) {', '.join(missing)} not in table {self.table.name}")
        stamps = {c for c in columns if isinstance(self.table.c[c].type, sa.DateTime)}
        params = [{f"c{i}": _period(r[c]) if c in stamps else r[c] for i, c in enumerate(columns)} for r in rows]
        try:
            with self.engine.begin() as conn:
                if not self.keys:
                    conn.execute(self._bind(self._insert(columns), columns), params)
                elif self.upsert:
                    conn.execute(self._bind(self._upsert(columns), columns), params)
                else:
                    self._insert_or_update(conn, columns, params)
        except sa.exc.DBAPIError as exc:
            raise JobFailed(f"ErrorCode:[JDBC-03] Execute batch failed: {exc.orig}") from None
        return len(rows)

    def _upsert(self, columns: list[str]) -> str:
        keys = [self._q(k) for k in self.keys]
        if self.engine.dialect.name == "postgresql":
            sets = ", ".join(f"{self._q(c)}=EXCLUDED.{self._q(c)}" for c in columns)
            return f"{self._insert(columns)} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        sets = ", ".join(f"{self._q(c)}=VALUES({self._q(c)})" for c in columns)
        return f"{self._insert(columns)} ON CONFLICT({','.join(keys)}) DO UPDATE SET {sets}"

    def _insert_or_update(self, conn: sa.Connection, columns: list[str], params: list[dict[str, Any]]) -> None:
        """InsertOrUpdateBatchStatementExecutor: SELECT 1 by key, then UPDATE or INSERT."""
        idx = {c: i for i, c in enumerate(columns)}
        where = " AND ".join(f"{self._q(k)} = :c{idx[k]}" for k in self.keys)
        exists = self._bind(f"SELECT 1 FROM {self._target()} WHERE {where}", columns)
        sets = ", ".join(f"{self._q(c)} = :c{idx[c]}" for c in columns if c not in self.keys)
        update = self._bind(f"UPDATE {self._target()} SET {sets} WHERE {where}", columns)
        insert = self._bind(self._insert(columns), columns)
        for p in params:
            found = conn.execute(exists, {k: v for k, v in p.items() if re.search(rf":{k}\b", where)}).first()
            conn.execute(update if found else insert, p)

    def close(self) -> None:
        self.engine.dispose()
