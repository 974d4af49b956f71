"""Validate a job spec (one extract request, as a plain dict) and build the SeaTunnel job from it.

The result is an ordered, form-neutral description (`JobIR`) that render.py writes as HOCON and as
JSON. Everything SeaTunnel-version-specific and every SeaTunnel bug workaround is decided here:
wiring key names, Jdbc `user`/`username`, list-valued query parameters moved into the URL, POST
params on <2.3.11, and secrets kept as environment references that SeaTunnel (or the REST
executor, in memory) resolves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from aurumplan.errors import ExecutorError
from aurumplan.executors.seatunnel.sqltext import find_from
from aurumplan.executors.seatunnel.tables import Version, parse_version

DEFAULT_VERSION = "2.3.12"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")
SPEC_KEYS = {"job_name", "parallelism", "retry_times", "retry_interval_seconds", "rows_per_second",
             "requests", "sql", "load_id", "operation_id", "sink", "version", "http_retry"}
REQUEST_KEYS = {"sql", "url", "method", "params", "headers", "body", "secret", "content_field", "json_field", "fields"}
SINK_KEYS = {"url", "url_env", "driver", "user", "user_env", "password_env", "table", "database",
             "primary_keys", "batch_size", "with_operation_id", "schema_save_mode"}
SECRET_KEYS = {"in", "name", "env"}
# Literal params/headers/body keys with these names would put a secret in the file: use `secret`.
SENSITIVE_NAMES = {"api_key", "apikey", "token", "registrationkey", "password", "secret", "authorization",
                   "x-api-key", "ocp-apim-subscription-key", "access_token"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SAFE_ID = re.compile(r"^[\w.:\-]+$")
_SECRET_MARK = "@@AURUMPLAN_SECRET@@"


class RenderError(ExecutorError):
    """A job spec cannot be turned into a SeaTunnel config; lists every reason."""


@dataclass(frozen=True)
class SecretRef:
    """`${ENV}`: unquoted in HOCON so SeaTunnel reads the environment; never the value itself."""

    env: str


@dataclass(frozen=True)
class Concat:
    """A string built from text and secret references (e.g. a JSON body holding a key)."""

    parts: tuple[str | SecretRef, ...]


class Verbatim(str):
    """A string written triple-quoted in HOCON (SQL, JSON bodies): literal, no escapes."""

    __slots__ = ()


@dataclass(frozen=True)
class Plugin:
    """One plugin block: its name and its options in order."""

    name: str
    options: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class JobIR:
    """The whole job, independent of HOCON or JSON."""

    version: str
    job_name: str
    load_id: str
    env: tuple[tuple[str, Any], ...]
    sources: tuple[Plugin, ...]
    transforms: tuple[Plugin, ...]
    sinks: tuple[Plugin, ...]
    env_refs: tuple[str, ...] = field(default=())


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, msg: str) -> None:
        self.items.append(msg)

    def raise_if_any(self) -> None:
        if self.items:
            raise RenderError("invalid SeaTunnel job spec: " + "; ".join(self.items))


def _scan_placeholders(x: Any, path: str, errs: _Errors) -> None:
    """`${` in literal text would be rewritten by SeaTunnel's `-i` pass or resolved as a secret."""
    if isinstance(x, str) and "${" in x:
        errs.add(f"{path}: '${{' is not allowed in literal values (SeaTunnel substitutes it)")
    elif isinstance(x, Mapping):
        for k, v in x.items():
            _scan_placeholders(k, f"{path}.{k}", errs)
            _scan_placeholders(v, f"{path}.{k}", errs)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _scan_placeholders(v, f"{path}[{i}]", errs)


def _unknown_keys(d: Mapping[str, Any], allowed: set[str], path: str, errs: _Errors) -> None:
    for k in sorted(set(d) - allowed):
        errs.add(f"{path}: unknown key '{k}'")


def _as_text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _secrets(req: Mapping[str, Any], path: str, errs: _Errors) -> list[dict[str, str]]:
    raw = req.get("secret")
    items = [] if raw is None else raw if isinstance(raw, list) else [raw]
    out: list[dict[str, str]] = []
    for i, s in enumerate(items):
        where = f"{path}.secret[{i}]"
        if not isinstance(s, Mapping):
            errs.add(f"{where}: must be an object {{in, name, env}}")
            continue
        _unknown_keys(s, SECRET_KEYS, where, errs)
        if s.get("in") not in ("params", "headers", "body"):
            errs.add(f"{where}.in: must be params, headers or body")
        if not isinstance(s.get("name"), str) or not s.get("name"):
            errs.add(f"{where}.name: the parameter/header/body key that carries the secret")
        if not isinstance(s.get("env"), str) or not _ENV_NAME.match(s.get("env", "")):
            errs.add(f"{where}.env: the name of an environment variable")
        out.append({k: str(s.get(k, "")) for k in SECRET_KEYS})
    return out


def _literal_map(m: Any, path: str, errs: _Errors) -> dict[str, Any]:
    if m is None:
        return {}
    if not isinstance(m, Mapping):
        errs.add(f"{path}: must be an object")
        return {}
    for k in m:
        if str(k).lower() in SENSITIVE_NAMES:
            errs.add(f"{path}.{k}: looks like a secret; pass it with `secret` (an env var), never literally")
    return dict(m)


def _source(i: int, req: Any, v: Version, keys: dict[str, str], errs: _Errors) -> tuple[Plugin, list[str]]:
    path = f"requests[{i}]"
    if not isinstance(req, Mapping):
        errs.add(f"{path}: must be an object")
        return Plugin("Http", ()), []
    _unknown_keys(req, REQUEST_KEYS, path, errs)
    url = req.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        errs.add(f"{path}.url: an http(s) URL is required")
        url = ""
    method = str(req.get("method") or "GET").upper()
    if method not in ("GET", "POST"):
        errs.add(f"{path}.method: SeaTunnel's Http source does GET or POST only")
    params = _literal_map(req.get("params"), f"{path}.params", errs)
    headers = _literal_map(req.get("headers"), f"{path}.headers", errs)
    body = req.get("body")
    secrets = _secrets(req, path, errs)
    # Repeated query keys (EIA facets) cannot live in a string map: they go into the URL.
    query: list[tuple[str, str]] = []
    pmap: dict[str, Any] = {}
    for k, val in params.items():
        if isinstance(val, list):
            query.extend((k, _as_text(x)) for x in val)
        elif isinstance(val, (str, int, float, bool)):
            pmap[k] = _as_text(val)
        else:
            errs.add(f"{path}.params.{k}: must be text, a number or a list")
    # SeaTunnel reads `params` through typesafe Config.entrySet(), which quotes a key holding anything
    # but letters, digits, `-`, `_` and `.`: `data[0]` would be sent as `"data[0]"`. Such keys go into
    # the URL too (docs/seatunnel.md, "Http source").
    for k in [k for k in pmap if not _PLAIN_KEY.match(k)]:
        query.append((k, pmap.pop(k)))
    if method == "POST" and v < (2, 3, 11) and pmap:
        # <=2.3.10 sends POST params as a form body, which would replace the JSON body.
        query.extend(pmap.items())
        pmap = {}
    hmap = {k: _as_text(x) for k, x in headers.items()}
    body_value: Any = None
    body_secret: dict[str, str] | None = None
    refs: list[str] = []
    for s in secrets:
        refs.append(s["env"])
        target = {"params": pmap, "headers": hmap}.get(s["in"])
        if s["in"] == "params" and method == "POST" and v < (2, 3, 11):
            errs.add(f"{path}.secret: a POST parameter secret needs SeaTunnel >= 2.3.11 (params go to the form body)")
        if target is not None:
            if s["name"] in target:
                errs.add(f"{path}.{s['in']}.{s['name']}: also given literally; the secret must come from env")
            target[s["name"]] = SecretRef(s["env"])
        elif body_secret is not None:
            errs.add(f"{path}.secret: at most one secret in the body")
        else:
            body_secret = s
    if body is not None or body_secret is not None:
        body_value = _body(body, body_secret, f"{path}.body", errs)
    fields = req.get("fields")
    if not isinstance(fields, Mapping) or not fields or not all(
            isinstance(t, str) and t for t in fields.values()):
        errs.add(f"{path}.fields: a non-empty map of column -> SeaTunnel type is required")
        fields = {}
    if not req.get("content_field") and not req.get("json_field"):
        # without either, the Http source counts an object response's keys as its rows
        errs.add(f"{path}: content_field or json_field is required")
    if query:
        url = url + ("&" if "?" in url else "?") + urlencode(query)
    opts: list[tuple[str, Any]] = [(keys["out"], f"raw_{i}"), ("url", url), ("method", method), ("format", "json")]
    if pmap:
        opts.append(("params", pmap))
    if hmap:
        opts.append(("headers", hmap))
    if body_value is not None:
        opts.append(("body", body_value))
    if req.get("content_field"):
        opts.append(("content_field", str(req["content_field"])))
    if req.get("json_field"):
        opts.append(("json_field", {str(k): str(x) for k, x in dict(req["json_field"]).items()}))
    opts.append(("schema", {"fields": {str(k): str(t) for k, t in fields.items()}}))
    return Plugin("Http", tuple(opts)), refs


def _body(body: Any, secret: dict[str, str] | None, path: str, errs: _Errors) -> Any:
    """The request body as JSON text; with a secret, text around an env reference."""
    if secret is None:
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return Verbatim(text)
    if not isinstance(body, Mapping):
        errs.add(f"{path}: a body secret needs the body as a JSON object")
        return None
    for k in body:
        if str(k).lower() in SENSITIVE_NAMES:
            errs.add(f"{path}.{k}: looks like a secret; pass it with `secret`, never literally")
    if secret["name"] in body:
        errs.add(f"{path}.{secret['name']}: also given literally; the secret must come from env")
    text = json.dumps({**body, secret["name"]: _SECRET_MARK}, separators=(",", ":"), ensure_ascii=False)
    before, after = text.split(_SECRET_MARK)
    return Concat((before, SecretRef(secret["env"]), after))


def _own_sql(req: Any, sql: str) -> str:
    """A request's own normalising query when it has one (a BLS call per series names its series)."""
    own = req.get("sql") if isinstance(req, Mapping) else None
    return own if isinstance(own, str) and own.strip() else sql


def _query(sql: str, i: int, keys: dict[str, str], spec: Mapping[str, Any], with_op: bool, errs: _Errors) -> str:
    """The spec's normalising query, reading FROM raw_i and adding the load (and operation) id."""
    clause = find_from(sql)
    if clause is None:
        errs.add("sql: no top-level FROM table found")
        return sql
    select = sql[:clause.keyword_start].rstrip()
    if re.search(r"\bload_id\b", select, re.IGNORECASE):
        errs.add("sql: must not select load_id; the renderer adds it")
    extra = f", '{spec.get('load_id')}' AS load_id"
    if with_op:
        extra += f", '{spec.get('operation_id')}' AS operation_id"
    return f"{select}{extra} FROM raw_{i}{sql[clause.table_end:]}"


def _database(sink: Mapping[str, Any], errs: _Errors) -> str:
    if sink.get("database"):
        return str(sink["database"])
    url = sink.get("url")
    if isinstance(url, str) and url.startswith("jdbc:"):
        name = urlsplit(url[5:]).path.lstrip("/").split("/")[0]
        if name:
            return name
    errs.add("sink.database: required when it cannot be read from a literal sink.url")
    return ""


def _env_or_literal(sink: Mapping[str, Any], key: str, errs: _Errors, required: bool) -> Any:
    lit, env = sink.get(key), sink.get(f"{key}_env")
    if lit is not None and env is not None:
        errs.add(f"sink: give {key} or {key}_env, not both")
    if env is not None:
        if not isinstance(env, str) or not _ENV_NAME.match(env):
            errs.add(f"sink.{key}_env: the name of an environment variable")
        return SecretRef(str(env))
    if lit is None and required:
        errs.add(f"sink: {key} or {key}_env is required")
    return lit


def _sink(spec: Mapping[str, Any], v: Version, keys: dict[str, str], n: int, errs: _Errors) -> tuple[Plugin, list[str]]:
    sink = spec.get("sink")
    if not isinstance(sink, Mapping):
        errs.add("sink: an object is required")
        return Plugin("Jdbc", ()), []
    _unknown_keys(sink, SINK_KEYS, "sink", errs)
    url = _env_or_literal(sink, "url", errs, True)
    if isinstance(url, str) and re.search(r"password=", url, re.IGNORECASE):
        errs.add("sink.url: holds a password; use url_env")
    user = _env_or_literal(sink, "user", errs, False)
    pk = sink.get("primary_keys")
    if not isinstance(pk, list) or not pk or not all(isinstance(k, str) for k in pk):
        errs.add("sink.primary_keys: a non-empty list of column names (the upsert key)")
    for key in ("driver", "table"):
        if not isinstance(sink.get(key), str) or not sink.get(key):
            errs.add(f"sink.{key}: required")
    inputs = [f"norm_{i}" for i in range(n)]
    opts: list[tuple[str, Any]] = [(keys["in"], inputs[0] if n == 1 else inputs),
                                   ("url", url), ("driver", sink.get("driver"))]
    if user is not None:
        opts.append((keys["user"], user))
    refs = [x.env for x in (url, user) if isinstance(x, SecretRef)]
    if sink.get("password_env") is not None:
        env = sink["password_env"]
        if not isinstance(env, str) or not _ENV_NAME.match(env):
            errs.add("sink.password_env: the name of an environment variable")
        opts.append(("password", SecretRef(str(env))))
        refs.append(str(env))
    # SeaTunnel's SQLite dialect writes its upsert in MySQL syntax (`c=VALUES(c)`), which SQLite rejects
    # (apache/seatunnel#10852): there the sink asks per row whether the key exists instead.
    upsert = sink.get("driver") != "org.sqlite.JDBC"
    opts += [("generate_sink_sql", True), ("database", _database(sink, errs)), ("table", sink.get("table")),
             ("primary_keys", list(pk or [])), ("enable_upsert", upsert),
             ("schema_save_mode", str(sink.get("schema_save_mode") or "ERROR_WHEN_SCHEMA_NOT_EXIST")),
             ("data_save_mode", "APPEND_DATA")]
    if sink.get("batch_size") is not None:
        opts.append(("batch_size", int(sink["batch_size"])))
    return Plugin("Jdbc", tuple(opts)), refs


def _int(spec: Mapping[str, Any], key: str, default: int | None, lo: int, errs: _Errors) -> int | None:
    val = spec.get(key, default)
    if val is None:
        return None
    if isinstance(val, bool) or not isinstance(val, (int, float)) or int(val) != val or val < lo:
        errs.add(f"{key}: must be an integer >= {lo}")
        return default
    return int(val)


def build_job(spec: Mapping[str, Any]) -> JobIR:
    """Validate a job spec and lay out its SeaTunnel job; raises RenderError listing every problem."""
    errs = _Errors()
    if not isinstance(spec, Mapping):
        raise RenderError("invalid SeaTunnel job spec: must be an object")
    _unknown_keys(spec, SPEC_KEYS, "spec", errs)
    _scan_placeholders(spec, "spec", errs)
    version = str(spec.get("version") or DEFAULT_VERSION)
    try:
        v = parse_version(version)
    except ValueError as e:
        raise RenderError(f"invalid SeaTunnel job spec: version: {e}") from None
    keys = {"out": "plugin_output" if v >= (2, 3, 9) else "result_table_name",
            "in": "plugin_input" if v >= (2, 3, 9) else "source_table_name",
            "user": "username" if v >= (2, 3, 12) else "user"}
    for key in ("job_name", "load_id"):
        if not isinstance(spec.get(key), str) or not _SAFE_ID.match(spec.get(key, "")):
            errs.add(f"{key}: required, letters/digits/_.:- only")
    if spec.get("operation_id") is not None and not _SAFE_ID.match(str(spec["operation_id"])):
        errs.add("operation_id: letters/digits/_.:- only")
    requests = spec.get("requests")
    if not isinstance(requests, list) or not requests:
        errs.add("requests: a non-empty list is required")
        requests = []
    sql = spec.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        errs.add("sql: the normalising query is required")
        sql = ""
    sink_spec: Mapping[str, Any] = spec["sink"] if isinstance(spec.get("sink"), Mapping) else {}
    with_op = bool(sink_spec.get("with_operation_id", False))
    if with_op and not spec.get("operation_id"):
        errs.add("operation_id: required when sink.with_operation_id is true")
    env: list[tuple[str, Any]] = [
        ("job.mode", "BATCH"), ("job.name", spec.get("job_name")),
        ("parallelism", _int(spec, "parallelism", 1, 1, errs)),
        ("job.retry.times", _int(spec, "retry_times", 3, 0, errs)),
        ("job.retry.interval.seconds", _int(spec, "retry_interval_seconds", 3, 0, errs))]
    rps = _int(spec, "rows_per_second", None, 1, errs)
    if rps is not None:
        env.append(("read_limit.rows_per_second", rps))
    http_retry = _int(spec, "http_retry", 3, 1, errs)
    sources, transforms, refs = [], [], []
    for i, req in enumerate(requests):
        plugin, r = _source(i, req, v, keys, errs)
        sources.append(Plugin(plugin.name, (*plugin.options, ("retry", http_retry))))
        refs += r
        transforms.append(Plugin("Sql", ((keys["in"], f"raw_{i}"), (keys["out"], f"norm_{i}"),
                                         ("query", Verbatim(_query(_own_sql(req, sql), i, keys, spec, with_op,
                                                                   errs))))))
    sink, r = _sink(spec, v, keys, len(requests), errs)
    errs.raise_if_any()
    return JobIR(version, str(spec["job_name"]), str(spec["load_id"]), tuple(env), tuple(sources),
                 tuple(transforms), (sink,), tuple(dict.fromkeys(refs + r)))
