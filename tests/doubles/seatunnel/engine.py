"""The work a fake SeaTunnel job does: Http sources -> Sql transforms -> Jdbc upsert sink.

Faithful parts: the config is read with aurumplan's SeaTunnel-aware reader; each Http source
sends exactly its url/method/params/headers/body over real HTTP, retries only on I/O errors, and
fails the job on a status outside 200-207 (README §2.1); `content_field` selects the rows and
`schema.fields` their columns; unquoted `${VAR}` references resolve from the environment only
where SeaTunnel resolves them (a HOCON file read by the CLI client, never a REST JSON body); the
Jdbc sink upserts on `primary_keys` into `table` at `url`, with `username`/`password`.

SIMULATED: the Sql transform runs on SQLite with Zeta's functions emulated (zetasql.py), so
the rows staged are exactly what the generated query computes: if that query drifts from the
driver's own normalisation, the comparison with LocalExecutor in the tests shows it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tests.doubles.seatunnel.zetasql import TS, run_query

Log = Callable[[str, str], None]
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class JobFailed(Exception):
    """The job ends FAILED; the message is its errorMsg."""


class JobCancelled(Exception):
    """The job was stopped (cancel, or stop with savepoint) before it finished."""


@dataclass
class Totals:
    """The job's metrics, as SourceReceivedCount / SinkWriteCount / SourceReceivedBytes."""

    read: int = 0
    written: int = 0
    bytes: int = 0


def resolve_refs(value: Any, environ: Mapping[str, str]) -> Any:
    """Unquoted ${VAR} (the reader gives them back as text) filled from environ; unknown stay literal."""
    if isinstance(value, str):
        return _REF.sub(lambda m: environ.get(m.group(1), m.group(0)), value)
    if isinstance(value, Mapping):
        return {k: resolve_refs(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, environ) for v in value]
    return value


def json_path(doc: Any, path: str) -> list[Any]:
    """The small JSONPath subset content_field uses: `$.a.b[0].c.*`."""
    if not path.startswith("$"):
        raise JobFailed(f"content_field {path!r} is not a JSONPath")
    nodes = [doc]
    for step in [s for s in path[1:].split(".") if s]:
        m = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", step)
        if m is None:
            raise JobFailed(f"content_field {path!r}: unsupported step {step!r}")
        name, idx = m.group(1), [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
        out: list[Any] = []
        for n in nodes:
            if name == "*":
                out.extend(n if isinstance(n, list) else list(n.values()) if isinstance(n, dict) else [])
                continue
            v = n.get(name) if isinstance(n, dict) and name else n
            for i in idx:
                v = v[i] if isinstance(v, list) and i < len(v) else None
            if v is not None:
                out.append(v)
        nodes = out
    return nodes


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


class Sink:
    """The Jdbc sink: generated upsert SQL on primary_keys into an existing table."""

    def __init__(self, plugin: Mapping[str, Any]) -> None:
        user = plugin.get("username") or plugin.get("user")
        url, schema = sqlalchemy_url(str(plugin["url"]), user, plugin.get("password"))
        if "${" in url:
            raise JobFailed("Jdbc: url, username or password holds an unresolved ${...} reference")
        self.engine = sa.create_engine(url)
        table = str(plugin["table"])
        if "." in table:
            schema, table = table.split(".", 1)
        meta = sa.MetaData()
        try:
            self.table = sa.Table(table, meta, autoload_with=self.engine, schema=schema)
        except sa.exc.NoSuchTableError as exc:  # schema_save_mode = ERROR_WHEN_SCHEMA_NOT_EXIST
            raise JobFailed(f"Jdbc: table {exc} does not exist") from None
        self.keys = list(plugin.get("primary_keys") or [])

    def write(self, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        ins = (sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert)(self.table)
        stmt = ins.on_conflict_do_update(index_elements=self.keys,
                                         set_={c: ins.excluded[c] for c in rows[0] if c not in self.keys})
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def close(self) -> None:
        self.engine.dispose()


def _fetch(client: httpx.Client, plugin: Mapping[str, Any]) -> httpx.Response:
    method = str(plugin.get("method", "GET")).upper()
    body = plugin.get("body")
    headers = {str(k): str(v) for k, v in (plugin.get("headers") or {}).items()}
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    attempts = max(1, int(plugin.get("retry") or 1))
    for attempt in range(attempts):  # retries only on I/O errors, like SeaTunnel's Http source
        try:
            return client.request(method, str(plugin["url"]), params=plugin.get("params") or None,
                                  headers=headers, content=None if body is None else str(body).encode())
        except httpx.TransportError as exc:
            if attempt + 1 == attempts:
                raise JobFailed(f"ErrorCode:[HTTP-01], ErrorDescription:[Http request failed] - "
                                f"{type(exc).__name__} calling {str(plugin['url']).split('?')[0]}") from None
    raise AssertionError("unreachable")


def run_job(config: Mapping[str, Any], *, environ: Mapping[str, str] | None, log: Log,
            should_stop: Callable[[], bool], slow: float = 0.0, fail: str | None = None) -> Totals:
    """Run a parsed job config; JobFailed / JobCancelled end it early. environ None = resolve nothing."""
    cfg = resolve_refs(config, environ) if environ is not None else config
    sources, transforms, sinks = cfg.get("source", []), cfg.get("transform", []), cfg.get("sink", [])
    if any(str(p["plugin_name"]).lower() != "http" for p in sources) or len(sinks) != 1 or \
            str(sinks[0]["plugin_name"]).lower() != "jdbc":
        raise JobFailed("the fake engine runs Http sources into one Jdbc sink only")
    sql_of = {_first(p, "plugin_input", "source_table_name"): p for p in transforms
              if str(p["plugin_name"]).lower() == "sql"}
    sink = Sink(sinks[0])
    totals = Totals()
    try:
        with httpx.Client(timeout=30.0, follow_redirects=True) as client:
            for i, plugin in enumerate(sources):
                _pause(slow, should_stop)
                if should_stop():
                    raise JobCancelled()
                if fail and i == len(sources) - 1:
                    raise JobFailed(fail)
                resp = _fetch(client, plugin)
                if not 200 <= resp.status_code <= 207:
                    raise JobFailed(f"ErrorCode:[HTTP-01], ErrorDescription:[Http request failed] - status "
                                    f"{resp.status_code} from {str(plugin['url']).split('?')[0]}")
                totals.bytes += len(resp.content)
                content = json_path(resp.json(), str(plugin.get("content_field") or "$"))
                totals.read += len(content)
                log("INFO", f"Http source {i}: {len(content)} rows read")
                query = sql_of.get(_first(plugin, "plugin_output", "result_table_name"))
                if query is None:
                    raise JobFailed(f"source {i} has no Sql transform reading it")
                rows = _transform(query, plugin, content)
                totals.written += sink.write(rows)
    finally:
        sink.close()
    return totals


def _first(plugin: Mapping[str, Any], *keys: str) -> str:
    for k in keys:
        v = plugin.get(k)
        if v:
            return str(v[0] if isinstance(v, list) else v)
    return ""


def _pause(seconds: float, should_stop: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not should_stop():
        time.sleep(0.02)


def _transform(sql: Mapping[str, Any], source: Mapping[str, Any], content: list[Any]) -> list[dict[str, Any]]:
    """SIMULATED Sql transform (zetasql.py); periods come back as timestamp text."""
    fields = (source.get("schema") or {}).get("fields") or {}
    rows = [r if isinstance(r, dict) else {} for r in content]
    try:
        out = run_query(str(sql["query"]), _first(sql, "plugin_input", "source_table_name"), fields, rows)
    except Exception as exc:  # sqlite3 or a function: the transform fails the job
        raise JobFailed(f"ErrorCode:[TRANSFORM_COMMON-01] Sql transform failed: {exc}") from None
    for row in out:
        if isinstance(row.get("period"), str):
            row["period"] = dt.datetime.strptime(row["period"][:19], TS)
    return out
