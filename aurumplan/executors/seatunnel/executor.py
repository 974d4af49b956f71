"""SeaTunnel executors: turn an ExtractJob into a SeaTunnel job spec, run it, accept what it staged.

The job spec is the input of render.py: one Http source per page of the request (SeaTunnel's
Http source has no offset paging, so offset-paged APIs get one source per page, and a BLS call
naming several series one source per series), one Sql transform per source normalising to the
warehouse columns, one Jdbc upsert sink keyed on (source, dataset, series_id, period, load_id).
No secret value is in a spec: the API key is `${<source.api_key_env>}`, warehouse credentials
come from AURUMPLAN_WAREHOUSE_USER / AURUMPLAN_WAREHOUSE_PASSWORD when set.

What the generated Zeta SQL cannot reproduce exactly (so the local executor stays the reference):
- attributes are rebuilt as the drivers store them (sorted-key JSON): missing-value markers, BLS
  footnote codes (the first two), NOAA flag strings; text needing JSON escapes is not escaped.
- EIA hour-ending -> period start needs `DATEADD(PARSEDATETIME(period, ...), -1, 'HOUR')`; the
  timestamp is written by the JVM's Jdbc driver, so the SeaTunnel JVM must run in UTC.
- EIA local-hourly labels (offset suffix), NOAA's local-standard dates and any IANA-zone/DST
  conversion: not expressed (no time-zone functions relied on).
- missing-value sentinels are the known ones per API (EIA_MISSING, FRED ".", BLS "-"); where the
  driver tolerates any unparseable text as None, the SQL CAST fails the job instead.
- Replay transforms are Python and are refused (ExecutorError: use the local executor).
- retries: job.retry.times reruns the whole job (no checkpoints in BATCH); the upsert key makes
  that harmless for the rows, but SinkWriteCount may then count rows twice, and the commit check
  refuses the node (the applier retries it).
Therefore a node is done only when SeaTunnel says FINISHED *and* the rows staged under
job.load_id number exactly what the job reports it wrote.

This module is the base the executors share; it knows neither of them. factory.py's
`make_seatunnel_executor(config, warehouse, limiter)` picks seatunnel-cli (cli.py) or seatunnel-rest
(rest.py) from `config.executor`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from secrets import token_hex
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy.engine import make_url

from aurumplan.config import Config, SeaTunnelConfig
from aurumplan.errors import ExecutorError
from aurumplan.executors.base import Counters, ExtractJob
from aurumplan.executors.seatunnel.render import RenderedJob, render_job
from aurumplan.intervals import Grain, from_ts
from aurumplan.sources.base import Call
from aurumplan.warehouse import Warehouse

log = logging.getLogger("aurumplan.seatunnel")

PRIMARY_KEYS = ["source", "dataset", "series_id", "period", "load_id"]
# Job states after which SeaTunnel will not change the job again (both executors poll until one).
FINAL = frozenset({"FINISHED", "FAILED", "CANCELED", "SAVEPOINT_DONE", "UNKNOWABLE"})
USER_ENV, PASSWORD_ENV = "AURUMPLAN_WAREHOUSE_USER", "AURUMPLAN_WAREHOUSE_PASSWORD"

# Offset-paged APIs (SeaTunnel's Http source has no offset paging: docs/seatunnel.md): per driver, the
# offset parameter, the page-size parameter, the first offset and the API's largest page.
PAGING: dict[str, tuple[str, str, int, int]] = {
    "eia": ("offset", "length", 0, 5000), "fred": ("offset", "limit", 0, 100000),
    "noaa": ("offset", "limit", 1, 1000), "pjm": ("startRow", "rowCount", 1, 50000),
}
# Where the row array is in a response, and the columns read from each row (all as text).
CONTENT: dict[str, str] = {"eia": "$.response.data.*", "fred": "$.observations.*", "bls": "$.Results.series[0].data.*",
                           "noaa": "$.results.*", "pjm": "$.items.*"}


def driver_kind(job: ExtractJob) -> str:
    """The API family of the job's source: its driver name, with cpi/iso aliases folded."""
    name = job.source.driver
    return {"cpi": "bls", "iso": "pjm"}.get(name, name)


def fields_of(job: ExtractJob) -> dict[str, str]:
    """The Http source's schema: the response columns the normalising SQL reads."""
    kind, ds = driver_kind(job), job.dataset
    if kind == "eia":
        cols = ["period", *re.findall(r"\{(\w+)\}", ds.series_template), *ds.selectors,
                ds.data_field, f"{ds.data_field}-units"]
    elif kind == "fred":
        cols = ["date", "value"]
    elif kind == "bls":
        cols = ["year", "period", "value", "footnotes"]
    elif kind == "noaa":
        cols = ["date", "station", "datatype", "value", "attributes"]
    else:
        series_field, value_field = pjm_fields(job)
        cols = ["datetime_beginning_utc", series_field, value_field]
    return dict.fromkeys(cols, "string")


def pjm_fields(job: ExtractJob) -> tuple[str, str]:
    """The row fields the PJM driver reads the series id and the value from (e.g. load_area, mw)."""
    return str(getattr(job.driver, "series_field", "load_area")), str(getattr(job.driver, "value_field", "mw"))


def expand_calls(kind: str, first: Call, expected_rows: int) -> list[Call]:
    """The first call plus one call per further page the request needs, by offset.

    BLS answers several series in one response, but `content_field` can select only one array,
    so a BLS call naming several series becomes one call per series.
    """
    ids = (first.json_body or {}).get("seriesid") if kind == "bls" else None
    if isinstance(ids, list) and len(ids) > 1:
        return [Call(first.method, first.url, first.params, first.headers, {**(first.json_body or {}),
                     "seriesid": [sid]}, first.secret_in, 0) for sid in ids]
    if kind not in PAGING:
        return [first]
    off_key, size_key, base, biggest = PAGING[kind]
    params = dict(first.params)
    size = int(params.get(size_key) or biggest)
    pages = max(1, math.ceil(expected_rows / size)) if size > 0 else 1
    start = int(params.get(off_key) or base)
    out = []
    for i in range(pages):
        moved = tuple((k, str(start + i * size) if k == off_key else v) for k, v in first.params)
        if i and off_key not in params:
            moved = (*moved, (off_key, str(start + i * size)), (size_key, str(size)))
        out.append(Call(first.method, first.url, moved, first.headers, first.json_body, first.secret_in, i))
    return out


def request_of(job: ExtractJob, call: Call) -> dict[str, Any]:
    """One Http source of the spec: the call without its key, the key as an env reference."""
    params: dict[str, Any] = {}
    for k, v in call.params:
        if k in params:
            params[k] = [*params[k], v] if isinstance(params[k], list) else [params[k], v]
        else:
            params[k] = v
    req: dict[str, Any] = {"url": call.url, "method": call.method, "params": params, "headers": dict(call.headers),
                           "body": dict(call.json_body) if call.json_body is not None else None,
                           "content_field": CONTENT.get(driver_kind(job), "$.data.*"), "fields": fields_of(job)}
    if call.secret_in:
        where, name = call.secret_in.split(":", 1)
        req["secret"] = {"in": {"query": "params", "header": "headers"}.get(where, where), "name": name,
                         "env": job.source.api_key_env}
    return req


def _with_own_sql(job: ExtractJob, first: Call, call: Call) -> dict[str, Any]:
    """The Http source of a call, with its own query when the call's SQL differs from the first's.

    A BLS call naming several series becomes one call per series, and the series id is a literal in
    each call's query (the selected data rows do not carry it).
    """
    req = request_of(job, call)
    own = normalising_sql(job, call)
    if call is not first and own != normalising_sql(job, first):
        req["sql"] = own
    return req


def jdbc_sink(st: SeaTunnelConfig, warehouse_url: str) -> dict[str, Any]:
    """The Jdbc sink: the warehouse as SeaTunnel reaches it; credentials only as env names."""
    url = st.jdbc_url or jdbc_url_of(warehouse_url)
    sink: dict[str, Any] = {"url": url, "primary_keys": list(PRIMARY_KEYS), "table": "observations"}
    if url.startswith("jdbc:sqlite:"):
        sink.update(driver="org.sqlite.JDBC", database="main")
    else:
        parts = urlsplit(url[len("jdbc:"):])
        schema = (parse_qs(parts.query).get("currentSchema") or ["public"])[0]
        sink.update(driver="org.postgresql.Driver", database=parts.path.lstrip("/") or "postgres",
                    table=f"{schema}.observations")
        user = parse_qs(parts.query).get("user")
        if os.environ.get(USER_ENV):
            sink["user_env"] = USER_ENV
        elif user:
            sink["user"] = user[0]
    if os.environ.get(PASSWORD_ENV):
        sink["password_env"] = PASSWORD_ENV
    return sink


def jdbc_url_of(url: str) -> str:
    """aurumplan's SQLAlchemy warehouse URL as a JDBC URL (no password: that comes from env)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:":
            raise ExecutorError("SeaTunnel cannot write to an in-memory SQLite warehouse")
        return f"jdbc:sqlite:{os.path.abspath(u.database)}"
    if u.get_backend_name() != "postgresql":
        raise ExecutorError(f"SeaTunnel's Jdbc sink cannot reach a {u.get_backend_name()} warehouse; "
                            "set seatunnel.jdbc_url")
    query: dict[str, str] = {}
    opts = u.query.get("options")
    m = re.search(r"search_path=([\w$]+)", opts if isinstance(opts, str) else "")
    if m:
        query["currentSchema"] = m.group(1)
    if u.username:
        query["user"] = u.username
    tail = f"?{urlencode(query)}" if query else ""
    return f"jdbc:postgresql://{u.host or '127.0.0.1'}:{u.port or 5432}/{u.database or 'postgres'}{tail}"


def job_name_of(job: ExtractJob) -> str:
    return re.sub(r"[^\w.:\-]", "_", f"{job.operation_id}.{job.node_id}")


def build_job_spec(job: ExtractJob, st: SeaTunnelConfig, warehouse_url: str) -> dict[str, Any]:
    """The render input for one extract node (no secret values anywhere in it)."""
    if job.transform is not None:
        raise ExecutorError("a Replay transform is Python code and cannot run inside SeaTunnel; "
                            "use executor: local for this operation")
    first = job.driver.first_call(job.source, job.dataset, job.request)
    calls = expand_calls(driver_kind(job), first, job.request.expected_rows)
    return {"job_name": job_name_of(job), "parallelism": 1, "retry_times": max(0, job.retry.max),
            "retry_interval_seconds": max(1, int(job.retry.backoff)),
            "requests": [_with_own_sql(job, first, c) for c in calls], "sql": normalising_sql(job, first),
            "load_id": job.load_id, "operation_id": job.operation_id,
            "sink": jdbc_sink(st, warehouse_url), "version": st.version}


# ---------------------------------------------------------------- normalising SQL (Zeta SQL)

# label format in Python, and what completes a label to `yyyy-MM-ddTHH:mm`: Zeta's PARSEDATETIME gives a
# timestamp only for a pattern with both `yy` and `mm` (a date, time of day dropped, for `yy` alone; an
# error for `yyyy-MM`), so every label is parsed as a full minute (docs/seatunnel.md, "Sql transform").
_LABELS = {Grain.HOURLY: ("%Y-%m-%dT%H", ":00"), Grain.DAILY: ("%Y-%m-%d", "T00:00"),
           Grain.MONTHLY: ("%Y-%m", "-01T00:00")}
_MINUTE = "'yyyy-MM-dd''T''HH:mm'"


def _timestamp(expr: str, completion: str) -> str:
    """A Zeta timestamp from label text `expr` completed by `completion` to yyyy-MM-ddTHH:mm."""
    return f"PARSEDATETIME(CONCAT({expr}, {_lit(completion)}), {_MINUTE})"


EIA_MISSING = ("", "NA", "-", "W", "--")  # what the EIA driver keeps as None, with {"marker": raw}
FRED_MISSING, BLS_MISSING = (".",), ("-", "")


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _col(name: str) -> str:
    return f"`{name}`"


def _series_expr(template: str) -> str:
    """`{respondent}.{fueltype}` -> CONCAT(`respondent`, '.', `fueltype`)."""
    parts = [p for p in re.split(r"(\{\w+\})", template) if p]
    exprs = [_col(p[1:-1]) if p.startswith("{") else _lit(p) for p in parts]
    return exprs[0] if len(exprs) == 1 else "CONCAT(" + ", ".join(exprs) + ")"


def _blank(col: str, missing: tuple[str, ...]) -> str:
    return " OR ".join([f"{_col(col)} IS NULL", *(f"{_col(col)} = {_lit(m)}" for m in missing)])


def _marker(col: str, missing: tuple[str, ...]) -> str:
    """The drivers' `{"marker": raw}` attributes of a missing value, as JSON text (keys sorted as stored)."""
    return f"CASE WHEN {_blank(col, missing)} THEN CONCAT('{{\"marker\":\"', COALESCE({_col(col)}, 'null'), '\"}}') END"


def _bls_attributes() -> str:
    """The BLS driver's attributes: footnote codes (the first two) and, for a missing value, its marker."""
    code = "REGEXP_SUBSTR(`footnotes`, '\"code\":\"([^\"]+)\"', 1, {n}, 'c', 1)"
    c1, c2 = code.format(n=1), code.format(n=2)
    codes = (f"CASE WHEN {c1} IS NULL THEN NULL WHEN {c2} IS NULL THEN CONCAT('[\"', {c1}, '\"]') "
             f"ELSE CONCAT('[\"', {c1}, '\",\"', {c2}, '\"]') END")
    marked = (f"CONCAT('{{', CASE WHEN {c1} IS NOT NULL THEN CONCAT('\"footnotes\":', {codes}, ',') END, "
              f"'\"marker\":\"', COALESCE(`value`, 'null'), '\"}}')")
    return (f"CASE WHEN {_blank('value', BLS_MISSING)} THEN {marked} "
            f"WHEN {c1} IS NOT NULL THEN CONCAT('{{\"footnotes\":', {codes}, '}}') END")


def _noaa_flags() -> str:
    """The NOAA driver's `{"flags": attributes}` when the row has a flag string."""
    return ("CASE WHEN `attributes` IS NULL OR `attributes` = '' THEN NULL "
            "ELSE CONCAT('{\"flags\":\"', `attributes`, '\"}') END")


def _number(col: str, missing: tuple[str, ...]) -> str:
    return f"CASE WHEN {_blank(col, missing)} THEN NULL ELSE CAST({_col(col)} AS DOUBLE) END"


def _in(expr: str, values: tuple[str, ...]) -> str:
    return f"{expr} IN ({', '.join(_lit(v) for v in values)})"


def _kept(job: ExtractJob) -> list[tuple[int, int]]:
    """The periods the node keeps: its window, or the targets inside it when it bridges loaded gaps."""
    req = job.request
    spans = [(max(s, req.start), min(e, req.end)) for s, e in (req.targets or ((req.start, req.end),))]
    return [(s, e) for s, e in spans if s < e] or [(req.start, req.start)]


def _windows(spans: list[tuple[int, int]], label: Callable[[int], str], ending: bool,
             col: str = "`period`") -> str:
    """Label comparisons for [start, end) spans; hour-ending labels name the end of their hour."""
    lo, hi = (">", "<=") if ending else (">=", "<")
    parts = [f"({col} {lo} {label(s)} AND {col} {hi} {label(e)})" for s, e in spans]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _day(ts: int) -> str:
    return from_ts(ts).strftime("%Y-%m-%d")


def normalising_sql(job: ExtractJob, call: Call) -> str:
    """The Sql transform's query: raw response columns -> (source, dataset, series_id, period,
    value, unit, attributes), filtered to the node's series and window like the local executor.

    Written for SeaTunnel's Zeta SQL (PARSEDATETIME, DATEADD, CONCAT, CASE). `FROM raw` is a
    placeholder the renderer replaces with each source's own input; the renderer adds load_id.
    """
    kind, ds, req = driver_kind(job), job.dataset, job.request
    head = f"SELECT {_lit(job.source.name)} AS source, {_lit(ds.name)} AS dataset, "
    if kind == "eia":
        fmt, completion = _LABELS.get(ds.grain, _LABELS[Grain.MONTHLY])
        period = _timestamp("`period`", completion)
        ending = ds.period_convention == "hour-ending-utc"
        if ending:
            period = f"DATEADD({period}, -1, 'HOUR')"
        window = _windows(_kept(job), lambda ts: _lit(from_ts(ts).strftime(fmt)), ending)
        sid, attrs = _series_expr(ds.series_template), _marker(ds.data_field, EIA_MISSING)
        return (f"{head}{sid} AS series_id, {period} AS period, {_number(ds.data_field, EIA_MISSING)} AS value, "
                f"COALESCE({_col(ds.data_field + '-units')}, {_lit(ds.unit)}) AS unit, {attrs} AS attributes "
                f"FROM raw WHERE {_in(sid, req.series)} AND {window}")
    if kind == "fred":
        sid = dict(call.params).get("series_id", req.series[0])
        return (f"{head}{_lit(sid)} AS series_id, {_timestamp('`date`', 'T00:00')} AS period, "
                f"{_number('value', FRED_MISSING)} AS value, {_lit(ds.unit)} AS unit, "
                f"{_marker('value', FRED_MISSING)} AS attributes FROM raw "
                f"WHERE {_windows(_kept(job), lambda ts: _lit(_day(ts)), False, '`date`')}")
    if kind == "bls":
        sid = (call.json_body or {}).get("seriesid", req.series)[0]
        month = "CONCAT(`year`, '-', SUBSTRING(`period`, 2, 2))"
        return (f"{head}{_lit(sid)} AS series_id, {_timestamp(month, '-01T00:00')} AS period, "
                f"{_number('value', BLS_MISSING)} AS value, {_lit(ds.unit)} AS unit, "
                f"{_bls_attributes()} AS attributes FROM raw WHERE `period` LIKE 'M%' AND `period` <> 'M13'")
    if kind == "noaa":
        sid = "CONCAT(`station`, '.', `datatype`)"
        return (f"{head}{sid} AS series_id, {_timestamp('SUBSTRING(`date`, 1, 10)', 'T00:00')} AS period, "
                f"CAST(`value` AS DOUBLE) AS value, {_lit(ds.unit)} AS unit, {_noaa_flags()} AS attributes FROM raw "
                f"WHERE {_in(sid, req.series)}")
    if kind == "pjm":
        series_field, value_field = pjm_fields(job)
        sid = _col(series_field)
        return (f"{head}{sid} AS series_id, PARSEDATETIME(`datetime_beginning_utc`, 'yyyy-MM-dd''T''HH:mm:ss') "
                f"AS period, CAST({_col(value_field)} AS DOUBLE) AS value, {_lit(ds.unit)} AS unit, "
                f"{_marker(value_field, ())} AS attributes "
                f"FROM raw WHERE {_in(sid, req.series)}")
    raise ExecutorError(f"no SeaTunnel normalisation for driver {job.source.driver!r}; use executor: local")


def metric(metrics: Any, name: str) -> int | None:
    """A metric read case-insensitively (docs show lower camel, code PascalCase); values are text."""
    if not isinstance(metrics, dict):
        return None
    for k, v in metrics.items():
        if str(k).lower() == name.lower() and str(v).strip().lstrip("-").isdigit():
            return int(str(v).strip())
    return None


def job_id_for(load_id: str, previous: str | None = None, nonce: str = "") -> str:
    """A SeaTunnel job id (a positive long above 2**53, kept as text) from the load and a per-submission nonce.

    Load ids repeat across projects sharing a cluster (same spec, same day), so fresh_job_id adds a random
    nonce: ids never collide, and resuming works because the id is recorded before submitting (docs/seatunnel.md).
    """
    digest = hashlib.sha256(f"{load_id}|{previous or ''}|{nonce}".encode()).hexdigest()
    return str((1 << 60) | int(digest[:14], 16))


def submitted_name(name: str, job_id: str) -> str:
    """The job name given to SeaTunnel: operation.node plus the job id, unique on a shared cluster."""
    return f"{name}.{job_id}"


@dataclass
class Prepared:
    """A rendered job with the environment it needs and the secret values to keep out of logs."""

    rendered: RenderedJob
    environ: dict[str, str]
    secrets: tuple[str, ...]
    requests: int


class SeaTunnelExecutor:
    """What both SeaTunnel executors share: rendering, secrets, and the commit check."""

    name = "seatunnel"

    @classmethod
    def check_settings(cls, config: Config) -> None:
        """Raise ExecutorError when aurumplan.yaml lacks what this executor needs."""

    def __init__(self, config: Config, warehouse: Warehouse, limiter: Any) -> None:
        self.config = config
        self.st = config.seatunnel
        self.warehouse = warehouse
        self.limiter = limiter

    def cancel(self, job: ExtractJob) -> None:
        job.stop.set()

    def close(self) -> None:
        """Nothing to release: every job runs in its own process or on the cluster."""

    def prepare(self, job: ExtractJob, base_env: Mapping[str, str] | None = None) -> Prepared:
        """Render the job and build the environment its ${VAR} references resolve from."""
        spec = build_job_spec(job, self.st, self.config.warehouse_url)
        rendered = render_job(spec)
        environ = dict(os.environ if base_env is None else base_env)
        if job.api_key:
            environ[job.source.api_key_env] = job.api_key
        missing = [n for n in rendered.env_refs if not environ.get(n)]
        if missing:
            raise ExecutorError(f"SeaTunnel job {spec['job_name']} reads environment variable(s) that are not set: "
                                + ", ".join(missing))
        secrets = tuple(v for n in rendered.env_refs if len(v := environ[n]) >= 4)
        return Prepared(rendered, environ, secrets, len(spec["requests"]))

    def throttle(self, prepared: Prepared) -> None:
        """Take one token of the shared limiter per Http request the job will send."""
        acquire = getattr(self.limiter, "acquire", None)
        if acquire is not None:
            for _ in range(prepared.requests):
                acquire()

    def adopt_finished(self, job: ExtractJob, previous: str, info: Mapping[str, Any] | None,
                       prepared: Prepared) -> Counters | None:
        """The job recorded before a crash FINISHED: accept its staged rows, or None to run the node again."""
        if info is None or info.get("jobStatus") != "FINISHED":
            return None
        metrics = info.get("metrics")
        log.info("SeaTunnel job %s of node %s already finished (%s rows read, %s written); accepting its rows",
                 previous, job.node_id, metric(metrics, "SourceReceivedCount"), metric(metrics, "SinkWriteCount"))
        try:
            return self.accept(job, previous, metric(metrics, "SinkWriteCount"), prepared.requests,
                               metric(metrics, "SourceReceivedBytes") or 0)
        except ExecutorError as exc:
            log.warning("%s; running the node again", exc)
            return None

    def fresh_job_id(self, job: ExtractJob, previous: str | None, prepared: Prepared) -> str:
        """Clear what an earlier attempt staged, record the new job id BEFORE submitting, take the rate tokens."""
        self.restart(job)
        job_id = job_id_for(job.load_id, previous, token_hex(8))
        if job.record_external_id is not None:
            job.record_external_id(job_id)
        self.throttle(prepared)
        return job_id

    def restart(self, job: ExtractJob) -> None:
        """Rows of an earlier, unaccepted attempt must go before a new job writes."""
        load = self.warehouse.load(job.load_id)
        if load is not None and load.status == "staged" and self.warehouse.load_stats(job.load_id)[0]:
            self.warehouse.discard_staged(job.load_id, restage=True)

    def accept(self, job: ExtractJob, job_id: str, written: int | None, requests: int,
               received_bytes: int = 0) -> Counters:
        """Commit after SeaTunnel: FINISHED is not enough, the staged rows must match its count."""
        staged, _checksum = self.warehouse.load_stats(job.load_id)
        if written is None:
            raise ExecutorError(f"SeaTunnel job {job_id} finished without reporting how many rows it wrote; "
                                f"{staged} rows are staged for load {job.load_id}, not accepted")
        if staged != written:
            raise ExecutorError(f"SeaTunnel job {job_id} reports {written} rows written but {staged} are staged for "
                                f"load {job.load_id}; not accepted")
        self.warehouse.refresh_load(job.load_id)  # the Jdbc sink bypassed write_batch's running totals
        counters = Counters(requests=requests, records=staged, bytes=received_bytes)
        if job.on_progress is not None:
            job.on_progress(counters)
        return counters


def masked(text: str, secrets: tuple[str, ...]) -> str:
    """A log line with every secret value replaced (SeaTunnel masks only some key names)."""
    for s in secrets:
        text = text.replace(s, "***")
    return text
