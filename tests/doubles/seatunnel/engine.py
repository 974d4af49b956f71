"""The work a fake SeaTunnel job does: Http sources -> Sql transforms -> one Jdbc sink.

The config is read with aurumplan's SeaTunnel-aware reader (by the callers). Unquoted `${VAR}`
references resolve from the environment only where SeaTunnel resolves them (a HOCON file read by the
CLI client, never a REST JSON body). Each part follows SeaTunnel's code: httpsource.py (requests,
retries, JSONPath, typing, paging), zetasql.py (the Sql transform, SIMULATED on SQLite), jdbcsink.py
(the generated upsert). A failed job is run again from the start up to `job.retry.times`, after
`job.retry.interval.seconds` (Zeta restarts a BATCH pipeline from scratch: bounded sources take no
checkpoint); the metrics count every attempt's rows. docs/seatunnel.md lists what each part mirrors.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from tests.doubles.seatunnel import httpsource
from tests.doubles.seatunnel.errors import JobCancelled, JobFailed
from tests.doubles.seatunnel.jdbcsink import Sink
from tests.doubles.seatunnel.zetasql import ZetaError, run_query

Log = Callable[[str, str], None]
DEFAULT_VERSION = "2.3.12"
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

__all__ = ["DEFAULT_VERSION", "JobCancelled", "JobFailed", "Totals", "resolve_refs", "run_job"]


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


def run_job(config: Mapping[str, Any], *, environ: Mapping[str, str] | None, log: Log,
            should_stop: Callable[[], bool], slow: float = 0.0, fail: str | None = None,
            version: str = DEFAULT_VERSION) -> Totals:
    """Run a parsed job config; JobFailed / JobCancelled end it. environ None = resolve nothing.

    `fail` makes every attempt fail before its last source (a test knob); `version` is the
    SeaTunnel release emulated where behaviour changed between releases (POST params).
    """
    cfg = resolve_refs(config, environ) if environ is not None else config
    times = int(_env(cfg, "job.retry.times", 3))
    interval = float(_env(cfg, "job.retry.interval.seconds", 3))
    totals = Totals()
    for attempt in range(times + 1):
        try:
            _run_once(cfg, totals, log, should_stop, slow, fail, httpsource.version_tuple(version))
            return totals
        except JobFailed as exc:
            if attempt == times or should_stop():
                raise
            log("WARN", f"job failed ({exc}); restarting the pipeline, attempt {attempt + 2} of {times + 1}")
            _pause(interval, should_stop)
    raise AssertionError("unreachable")


def _run_once(cfg: Mapping[str, Any], totals: Totals, log: Log, should_stop: Callable[[], bool], slow: float,
              fail: str | None, version: tuple[int, ...]) -> None:
    sources, transforms, sinks = cfg.get("source", []), cfg.get("transform", []), cfg.get("sink", [])
    if any(str(p["plugin_name"]).lower() != "http" for p in sources) or len(sinks) != 1 or \
            str(sinks[0]["plugin_name"]).lower() != "jdbc":
        raise JobFailed("the fake engine runs Http sources into one Jdbc sink only")
    sql_of = {_first(p, "plugin_input", "source_table_name"): p for p in transforms
              if str(p["plugin_name"]).lower() == "sql"}
    sink = Sink(sinks[0])
    try:
        with httpx.Client(follow_redirects=True) as client:
            for i, plugin in enumerate(sources):
                _pause(slow, should_stop)
                if should_stop():
                    raise JobCancelled()
                if fail and i == len(sources) - 1:
                    raise JobFailed(fail)
                rows, received = httpsource.read(client, plugin, version, log, should_stop)
                totals.bytes += received
                totals.read += len(rows)
                log("INFO", f"Http source {i}: {len(rows)} rows read")
                query = sql_of.get(_first(plugin, "plugin_output", "result_table_name"))
                if query is None:
                    raise JobFailed(f"source {i} has no Sql transform reading it")
                totals.written += sink.write(_transform(query, plugin, rows))
    finally:
        sink.close()


def _env(cfg: Mapping[str, Any], key: str, default: Any) -> Any:
    """An env option, written flat (`job.retry.times`) or nested as the readers give it."""
    node: Any = cfg.get("env") or {}
    if key in node:
        return node[key]
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


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


def _transform(sql: Mapping[str, Any], source: Mapping[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SIMULATED Sql transform (zetasql.py) over the source's typed rows."""
    fields = (source.get("schema") or {}).get("fields") or {}
    try:
        return run_query(str(sql["query"]), _first(sql, "plugin_input", "source_table_name"), fields, rows)
    except ZetaError as exc:
        raise JobFailed(f"ErrorCode:[TRANSFORM_COMMON-01] Sql transform failed: {exc}") from None
