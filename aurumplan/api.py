"""The Python API: one function per command. Never prints, never exits; raises AurumError."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurumplan import TEAM_DB_URL as _TEAM_DB_URL
from aurumplan.catalog import Catalog, load_catalog
from aurumplan.catalog.check import validate_files
from aurumplan.catalog.quotas import validate_quotas
from aurumplan.compile.graph import JobGraph, to_dot, to_mermaid
from aurumplan.config import CONFIG_NAME, Config, load_config
from aurumplan.errors import AurumError, Diagnostic, OperationError, StalePlanError, StateError
from aurumplan.hashing import canonical_json
from aurumplan.intervals import DAY, IntervalMap, IntervalSet, parse_ts
from aurumplan.plan.make import Planned, plan_spec
from aurumplan.plan.render import human_duration, render_plan
from aurumplan.state.models import check_operation_id

# The rest of the library is imported by the functions that use it: `plan` and `--help` must not pay for
# apply, the executors, the warehouse and the reports (issue 18; tests/test_cli_startup.py).
if TYPE_CHECKING:
    from aurumplan.plan.model import Plan
    from aurumplan.quality import patterns as _patterns
    from aurumplan.state.litereader import LiteReader
    from aurumplan.state.store import SqlStateStore

    PatternLimits = _patterns.Limits
    render_patterns = _patterns.render_patterns
    REPORT_FORMATS: tuple[str, ...]  # inspect.reports.FORMATS
    PATTERN_LIMITS: PatternLimits  # quality.patterns.Limits(): compare's default limits
else:
    def __getattr__(name: str) -> Any:
        """The names above that live in the reports and the quality package, imported on first use."""
        if name == "REPORT_FORMATS":
            from aurumplan.inspect.reports import FORMATS
            return FORMATS
        if name in ("PatternLimits", "PATTERN_LIMITS", "render_patterns"):
            from aurumplan.quality import patterns
            return {"PatternLimits": patterns.Limits, "PATTERN_LIMITS": patterns.Limits(),
                    "render_patterns": patterns.render_patterns}[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Context:
    """Config and catalog, loaded once per command."""

    config: Config
    catalog: Catalog
    cwd: Path


def context(config_path: str | Path | None = None, cwd: str | Path | None = None) -> Context:
    config = load_config(config_path, cwd=cwd)
    here = Path(cwd or Path.cwd()).resolve()
    return Context(config, load_catalog(config), here)


class EmptyState:
    """The state before `init` or a first apply: nothing loaded, nothing leased."""

    def watermarks(self, source: str, dataset: str | None = None,
                   series: Iterable[str] | None = None) -> dict[tuple[str, str], IntervalMap[Any]]:
        return {}

    def watermark_rows(self, source: str, dataset: str | None = None,
                       series: Iterable[str] | None = None) -> list[Any]:
        return []

    def leases(self, active_only: bool = True, now: float | None = None) -> list[Any]:
        return []

    def list_operations(self, active_only: bool = False) -> list[Any]:
        return []

    def serial(self) -> int:
        return 0

    def freezes(self, source: str | None = None) -> list[Any]:
        return []

    def recent_runs(self, source: str, limit: int = 5) -> list[Any]:
        return []

    def attempts_of_spec(self, spec_sha256: str) -> list[Any]:
        return []

    def close(self) -> None:
        """Nothing is open."""


def _sqlite_missing(url: str) -> bool:
    prefix = "sqlite:///"
    return url.startswith(prefix) and ":memory:" not in url and not Path(url[len(prefix):]).exists()


def open_reader(ctx: Context) -> SqlStateStore | EmptyState:
    """The state for reading; a missing SQLite file reads as empty and is not created."""
    from aurumplan.state.store import open_state

    url = ctx.config.state_url
    if _sqlite_missing(url):
        return EmptyState()
    return open_state(url, create=True)


def open_plan_reader(ctx: Context) -> SqlStateStore | LiteReader | EmptyState:
    """The state as planning reads it: a SQLite file through sqlite3 (state/litereader.py, no SQLAlchemy
    to import), anything else as open_reader opens it."""
    from aurumplan.state.litereader import open_lite

    url = ctx.config.state_url
    if _sqlite_missing(url):
        return EmptyState()
    return open_lite(url) or open_reader(ctx)


def require_state(ctx: Context, op_id: str | None = None) -> None:
    """Read commands refuse a SQLite state file that is not there: a typo in the state URL must not read
    as "nothing loaded, nothing running" (planning still reads it as empty: a first plan has no state).
    An operation id given is checked first: bad input is named before a missing state."""
    if op_id is not None:
        check_operation_id(op_id)
    url = ctx.config.state_url
    if _sqlite_missing(url):
        from aurumplan.db import mask_url

        raise StateError(f"no state at {mask_url(url)}",
                         hint="run `aurumplan init`, or check AURUMPLAN_STATE_URL / `state:` in aurumplan.yaml")


@contextlib.contextmanager
def reading(ctx: Context) -> Iterator[SqlStateStore | EmptyState]:
    """open_reader, closed at the end of the block (a long-lived process calls the api many times)."""
    state = open_reader(ctx)
    try:
        yield state
    finally:
        state.close()


def open_store(ctx: Context) -> SqlStateStore:
    """The state for writing, created on first use."""
    from aurumplan.state.store import open_state

    return open_state(ctx.config.state_url, create=True)


def init(cwd: str | Path | None = None) -> dict[str, str]:
    """Write aurumplan.yaml (unless present) and create the state."""
    here = Path(cwd or Path.cwd()).resolve()
    cfg = here / CONFIG_NAME
    wrote = False
    if not cfg.exists():
        cfg.write_text(DEFAULT_CONFIG)
        wrote = True
    ctx = context(cfg, here)
    with open_store(ctx) as store:
        return {"config": str(cfg), "config_written": str(wrote).lower(), "state": store.url}


DEFAULT_CONFIG = """\
# aurumplan project configuration (every key optional; see docs/spec-reference.md and CONTRACT).
state: sqlite:///.aurumplan/state.db
warehouse: sqlite:///.aurumplan/warehouse.db
executor: local
sources:
  eia:
    api_key_env: EIA_API_KEY
"""


def validate(paths: Iterable[str | Path], ctx: Context) -> list[Diagnostic]:
    return validate_files([Path(p) for p in paths], ctx.catalog)


def plan(spec: str | Path, ctx: Context, out: str | Path | None = None, *, wait: bool = False) -> Planned:
    """Plan a spec against the current state; `out` saves the plan file. With wait (`apply --wait`) ranges
    leased by running operations are planned as free: the apply queues for them (apply/waiting.py)."""
    state = open_plan_reader(ctx)
    try:
        reader: Any = state
        if wait:
            from aurumplan.apply.waiting import PausedLeasesOnly

            reader = PausedLeasesOnly(state)
        planned = plan_spec(spec, ctx.catalog, reader, cwd=ctx.cwd)
    finally:
        state.close()
    if out is not None:
        Path(out).write_text(planned.text)
    return planned


def show(plan_file: str | Path) -> dict[str, Any]:
    """A saved plan, checked (planfile.read_plan), in its file form for the views."""
    from aurumplan.plan.planfile import read_plan

    return read_plan(plan_file).to_dict()


def is_saved_plan(path: str | Path) -> bool:
    """Whether a CLI target is a saved plan file rather than a spec."""
    from aurumplan.plan.planfile import is_plan_file

    return is_plan_file(path)


def render(plan_data: dict[str, Any]) -> str:
    """The plan as the text `plan` and `apply` print."""
    return render_plan(plan_data)


def duration_text(seconds: float) -> str:
    """Seconds as people read them (`1m 05s`)."""
    return human_duration(seconds)


def graph(spec: str | Path, ctx: Context, fmt: str = "dot") -> str:
    """The compiled job graph as dot, mermaid or json text."""
    planned = plan(spec, ctx)
    g: JobGraph = planned.graph
    if fmt == "dot":
        return to_dot(g)
    if fmt == "mermaid":
        return to_mermaid(g)
    return canonical_json(planned.plan["graph"]) + "\n"


def _gap_window(days: int | None, window: str | None, now: float | None) -> tuple[int, int]:
    if window:
        try:
            a, b = window.split(":", 1) if window.count(":") == 1 else window.split("..", 1)
            start = parse_ts(a)
            end = parse_ts(b) + (DAY if len(b.strip()) == 10 else 0)
        except ValueError:
            raise AurumError(f"invalid --window '{window}': use START:END dates, e.g. 2024-01-01:2024-12-31") from None
        if end <= start:
            raise AurumError(f"invalid --window '{window}': END is before START")
        return start, end
    n = days if days is not None else 90
    today = int((now if now is not None else time.time()) // DAY * DAY)
    return today - n * DAY, today


def gaps(ctx: Context, source: str, *, dataset: str | None = None, days: int | None = None,
         window: str | None = None, now: float | None = None) -> list[dict[str, Any]]:
    """Missing intervals per dataset, series with the same gaps grouped into one entry.

    Missing is what the watermarks do not cover plus what a quarantine hides from current data now,
    which a Replay (what `recover` writes) refills; each entry names the quarantines in it (docs/emergency.md).
    """
    require_state(ctx)
    src = ctx.catalog.source(source)
    names = [ctx.catalog.dataset(source, dataset).name] if dataset else list(src.datasets)
    start, end = _gap_window(days, window, now)
    with reading(ctx) as state:
        out = []
        for name in names:
            ds = src.datasets[name]
            wanted = IntervalSet([(start, end)]).align(ds.grain)
            loaded = state.watermarks(source, name)
            hidden = _quarantined(ctx, source, name, wanted)
            groups: dict[tuple[IntervalSet, tuple[tuple[str, IntervalSet], ...]], list[str]] = {}
            for sid in ds.series:
                m = loaded.get((name, sid))
                held = hidden.get(sid, {})
                missing = wanted - (m.domain() if m else IntervalSet())
                for ivs in held.values():
                    missing = missing | ivs
                if missing:
                    groups.setdefault((missing, tuple(sorted(held.items()))), []).append(sid)
            for (missing, held_by), series in sorted(groups.items(), key=lambda kv: (kv[0][0].intervals, kv[1])):
                out.append({"dataset": name, "grain": ds.grain.value, "series": series,
                            "intervals": missing.to_json(), "periods": missing.periods(ds.grain),
                            "ranges": len(missing),
                            "quarantined": [{"quarantine_id": qid, "intervals": ivs.to_json(),
                                             "periods": ivs.periods(ds.grain)} for qid, ivs in held_by]})
        return out


def _quarantined(ctx: Context, source: str, dataset: str, wanted: IntervalSet) -> dict[str, dict[str, IntervalSet]]:
    """series -> quarantine id -> the periods of `wanted` it hides now (read from the warehouse)."""
    span = wanted.span
    if span is None or _sqlite_missing(ctx.config.warehouse_url):
        return {}
    from aurumplan.quality.expected import period_end as _period_end
    from aurumplan.warehouse import open_warehouse as _open_warehouse

    ds = ctx.catalog.dataset(source, dataset)
    found: dict[str, dict[str, list[tuple[int, int]]]] = {}
    with _open_warehouse(ctx.config.warehouse_url) as wh:
        for sid, qid, period in wh.hidden_periods(source, dataset, *span):
            found.setdefault(sid, {}).setdefault(qid, []).append((period, _period_end(ds, period)))
    return {sid: {qid: IntervalSet(ivs) & wanted for qid, ivs in by_q.items()} for sid, by_q in found.items()}


def state_list(ctx: Context) -> list[dict[str, Any]]:
    """Per source, dataset and series: loaded intervals, records and load versions."""
    require_state(ctx)
    with reading(ctx) as state:
        out = []
        for source in sorted(ctx.catalog.sources):
            rows = state.watermark_rows(source)
            acc: dict[tuple[str, str], dict[str, Any]] = {}
            for r in rows:
                e = acc.setdefault((r.dataset, r.series_id), {"source": source, "dataset": r.dataset,
                                                             "series": r.series_id, "intervals": IntervalSet(),
                                                             "records": 0, "loads": set()})
                e["intervals"] = e["intervals"] | IntervalSet([(r.start, r.end)])
                e["records"] += r.records or 0
                e["loads"].add(r.ref.load_id)
            for (_, _), e in sorted(acc.items()):
                out.append({**e, "intervals": e["intervals"].to_json(), "ranges": len(e["intervals"]),
                            "loads": sorted(e["loads"])})
        return out


def state_show(ctx: Context, source: str | None = None) -> dict[str, Any]:
    """The store itself: url (password masked), serial, operations, live leases and the applies waiting
    for leased ranges in the order they will be served (`apply --wait`, docs/operations.md#priority)."""
    from aurumplan.state.waiters import NAMES as PRIORITY_NAMES

    with reading(ctx) as state:
        if isinstance(state, EmptyState):
            return {"url": ctx.config.state_url, "initialized": False, "serial": 0, "operations": 0, "leases": [],
                    "waiters": []}
        leases = [lease_dict(lease) for lease in state.leases(active_only=True)
                  if source is None or lease.source == source]
        now = time.time()
        waiters = [{"operation_id": w.operation_id, "source": w.source, "priority": PRIORITY_NAMES[w.priority],
                    "ranges": len(w.ranges), "waiting_seconds": round(now - w.since, 1), "host": w.host,
                    "pid": w.pid} for w in state.waiters(now=now) if source is None or w.source == source]
        return {"url": state.url, "initialized": True, "serial": state.serial(), "lineage": state.lineage(),
                "operations": len(state.list_operations()), "leases": leases, "waiters": waiters}


def lease_dict(lease: Any, now: float | None = None) -> dict[str, Any]:
    age = (now if now is not None else time.time()) - lease.acquired_at
    return {"id": lease.id, "operation_id": lease.operation_id, "source": lease.source,
            "dataset": lease.dataset, "series_id": lease.series_id,
            "interval": IntervalSet([(lease.start, lease.end)]).to_json()[0], "host": lease.host,
            "pid": lease.pid, "token": lease.token, "age_seconds": round(age, 1)}


def state_unlock(ctx: Context, lease_id: str | None, force: bool, operation: str | None = None) -> dict[str, Any]:
    """Break one lease (by id) or every lease of a dead operation (`--operation`)."""
    if not force:
        raise OperationError("breaking a lease can let two writers collide: add --force if its holder is dead")
    if operation:
        from aurumplan.apply import lifecycle

        return lifecycle.unlock_operation(ctx.config, operation)
    if lease_id is None or not str(lease_id).isdigit():
        raise OperationError(f"invalid lease id {lease_id!r}: use the number `aurumplan state show` lists, "
                             "or --operation OP_ID")
    with open_store(ctx) as store:
        lease = store.break_lease(int(lease_id))
    return {"lease": lease.id, "operation_id": lease.operation_id}


def write_schemas(out: str | Path) -> list[str]:
    from aurumplan.spec.reference import write_reference
    from aurumplan.spec.schema import write_schemas as spec_write_schemas

    written = [str(p) for p in spec_write_schemas(Path(out))]
    reference = Path(out).resolve().parent / "docs" / "spec-reference.md"
    if reference.parent.is_dir():
        write_reference(path=reference)
        written.append(str(reference))
    return written



def apply_plan(plan_data: Plan | dict[str, Any], ctx: Context, hook: Any = None, *, saved: bool = False,
               accept_config_change: bool = False, wait: float | None = None,
               spec: str | Path | None = None) -> Any:
    """Run a plan to the end; returns the ApplyResult.

    A saved plan (`saved`, read from a file) is verified first: same aurumplan version, same source
    settings (unless accept_config_change), and the graph its own spec compiles to (apply/verify.py).
    With wait (seconds), ranges another operation leases are queued for by priority (`apply --wait`);
    when they changed meanwhile, the spec (when given) is planned again and applied in the same place
    of the queue, and a saved plan is refused as stale (docs/operations.md, "Priority").
    """
    began = time.time()  # the estimator's overhead includes the imports below (docs/operations.md#estimates)
    from aurumplan.plan.model import Plan, decode

    typed = plan_data if isinstance(plan_data, Plan) else decode(plan_data, "plan")
    pool = _parse_pool(typed, ctx)  # started before the apply's imports: ready for the first pages
    from aurumplan.apply.runner import Applier, ApplyResult
    from aurumplan.apply.waiting import Wait

    waiting = Wait(timeout=wait, replan=spec is not None and not saved) if wait is not None else None
    try:
        while True:
            log = _action_log(ctx, typed.operation.id, typed.source.name)
            applier = Applier(ctx.config, ctx.catalog, typed, hook=log.wrap(hook), verify=saved,
                              accept_config_change=accept_config_change, cwd=ctx.cwd, wait=waiting,
                              began=began if waiting is None else None, parse_pool=pool)
            try:
                with _logged(log, "apply", saved=saved, kind=typed.operation.kind):
                    return applier.apply()
            except StalePlanError:
                if waiting is None or not waiting.replan or not waiting.waited or spec is None:
                    raise
            finally:
                applier.close()
            again = plan(spec, ctx, wait=True).plan
            if not (again["summary"]["create"] or again["summary"]["replace"]):
                return ApplyResult(again["operation"]["id"], "succeeded", notes=[
                    "nothing left to do: the operation waited for wrote what this spec asks for"])
            typed = decode(again, "plan")
    finally:
        if pool is not None:
            pool.close()
        if waiting is not None and waiting.waited:
            with open_store(ctx) as store:
                store.remove_waiter(waiting.ticket)


def _parse_pool(plan: Any, ctx: Context) -> Any:
    """The local executor's parse workers for this plan, or None (executors/parsepool.py)."""
    if ctx.config.executor != "local":
        return None
    from aurumplan.executors.parsepool import ParsePool, auto_workers
    from aurumplan.plan.model import ExtractNode

    records = sum(n.expected_rows for n in plan.graph.nodes if isinstance(n, ExtractNode))
    workers = auto_workers(records, ctx.config.parse_workers)
    return ParsePool(workers) if workers else None


def _action_log(ctx: Context, op_id: str, source: str) -> Any:
    """The operation's action log (docs/operations.md#logs); the source's key is masked in it."""
    from aurumplan.observe.actionlog import ActionLog

    src = ctx.catalog.sources.get(source)
    key = os.environ.get(src.api_key_env) if src is not None else None
    return ActionLog(ctx.config.path(ctx.config.logs), op_id, [key] if key else [])


@contextlib.contextmanager
def _logged(log: Any, command: str, **fields: Any) -> Iterator[None]:
    """`started` and, when the command fails with an error, `error` records around it."""
    log.write("started", {"command": command, **fields})
    try:
        yield
    except AurumError as exc:
        log.write("error", {"command": command, "message": str(exc)})
        raise


def logs(op_id: str, ctx: Context) -> list[dict[str, Any]]:
    """The operation's action log records, oldest first (files in the logs folder: no state needed)."""
    check_operation_id(op_id)
    from aurumplan.observe.actionlog import read

    return read(ctx.config.path(ctx.config.logs), op_id)


def log_line(event: str, data: dict[str, Any], as_json: bool) -> str:
    """One stderr log line of an applier event (`--log-format`): the action log record, as JSON or text."""
    from aurumplan.observe.actionlog import record

    return format_record(record(str(data.get("operation_id", "")), event, data), as_json)


def format_record(rec: dict[str, Any], as_json: bool) -> str:
    """A log record as one JSON line or one line of text."""
    from aurumplan.observe.actionlog import human, line

    return line(rec) if as_json else human(rec)


def plan_of_operation(store: SqlStateStore, op_id: str) -> Plan:
    """The typed plan an operation was applied from (apply/runner.py; imported on use, like apply itself)."""
    from aurumplan.apply import runner

    return runner.plan_of_operation(store, op_id)


def operation_plan(op_id: str, ctx: Context) -> dict[str, Any]:
    """The plan an operation was applied from (what `resume` runs), in its file form."""
    with open_store(ctx) as store:
        return plan_of_operation(store, op_id).to_dict()


def resume(op_id: str, ctx: Context, hook: Any = None, *, concurrency: int | None = None,
           rate_limit: float | None = None, batch_size: int | None = None) -> Any:
    """Continue an operation; the overrides tune it mid-flight (audit trail; never above the quota)."""
    from aurumplan.apply.runner import Applier

    with open_store(ctx) as store:
        plan_data = plan_of_operation(store, op_id)
    overrides = {"concurrency": concurrency, "rateLimit": rate_limit, "batchSize": batch_size}
    log = _action_log(ctx, op_id, plan_data.source.name)
    applier = Applier(ctx.config, ctx.catalog, plan_data, hook=log.wrap(hook), overrides=overrides)
    try:
        with _logged(log, "resume", **{k: v for k, v in overrides.items() if v is not None}):
            return applier.resume()
    finally:
        applier.close()


def pause(op_id: str, ctx: Context) -> str:
    from aurumplan.apply import lifecycle

    return lifecycle.pause(ctx.config, op_id)


def cancel(op_id: str, ctx: Context, force: bool = False) -> dict[str, Any]:
    from aurumplan.apply import lifecycle

    return lifecycle.cancel(ctx.config, op_id, force)


def status(op_id: str | None, ctx: Context) -> Any:
    """One operation's progress, or every active one's."""
    from aurumplan.inspect import status as inspect_status

    require_state(ctx, op_id)
    with open_store(ctx) as store:
        if op_id:
            return inspect_status.status(store, ctx.catalog, op_id)
        return [inspect_status.status(store, ctx.catalog, o["id"]) for o in inspect_status.ops_list(store, True)]


def ops_list(ctx: Context, active_only: bool = False) -> list[dict[str, Any]]:
    from aurumplan.inspect import status as inspect_status

    require_state(ctx)
    with reading(ctx) as state:
        if isinstance(state, EmptyState):
            return []
        return inspect_status.ops_list(state, active_only)


def rollback_plan(op_id: str, ctx: Context) -> dict[str, Any]:
    from aurumplan.apply import rollback

    return rollback.rollback_plan(ctx.config, ctx.catalog, op_id)


def rollback_apply(op_id: str, ctx: Context, mode: str = "controlled") -> dict[str, Any]:
    from aurumplan.apply import rollback

    with open_store(ctx) as store:
        source = store.get_operation(op_id).source
        log = _action_log(ctx, op_id, source)
        with _logged(log, "rollback", mode=mode):
            out = rollback.rollback_operation(ctx.config, ctx.catalog, op_id, mode=mode, store=store)
    log.write("rolled_back", {k: v for k, v in out.items() if isinstance(v, str | int | float | bool)})
    return out


def refresh_plan(saved: str | Path, spec: str | Path, ctx: Context,
                 out: str | Path | None = None) -> tuple[Planned, list[dict[str, Any]]]:
    """Re-plan a spec whose saved plan went stale: which of the saved plan's ranges changed, and the new plan.

    Ranges that did not change plan exactly as before (same fingerprints, same actions); only the
    changed ones get new actions.
    """
    from aurumplan.apply.staleness import stale_ranges
    from aurumplan.plan.planfile import read_plan

    old = read_plan(saved)
    with reading(ctx) as state:
        changed = stale_ranges(old, state)
        planned = plan_spec(spec, ctx.catalog, state, cwd=ctx.cwd)
        if out is not None:
            Path(out).write_text(planned.text)
        return planned, changed


def record(spec: str | Path, ctx: Context, out: str | Path) -> dict[str, Any]:
    """Record the responses a spec's requests get, for offline runs (`recordings:`)."""
    from aurumplan.apply.ratelimit import RateLimiter
    from aurumplan.executors.record import record_plan
    from aurumplan.plan.model import decode

    planned = plan_spec(spec, ctx.catalog, EmptyState(), cwd=ctx.cwd)
    typed = decode(planned.plan, str(spec))
    source = ctx.catalog.source(typed.operation.source).model_copy(update={"recordings": None})
    limiter = RateLimiter.for_source(source.quota, source.headroom, typed.settings.rateLimit, source=source.name)
    counters = record_plan(typed, source, Path(out), limiter)
    return {"requests": counters.requests, "records": counters.records, "out": str(out)}


def compile_jobs(spec: str | Path, ctx: Context, out: str | Path) -> list[dict[str, Any]]:
    """The SeaTunnel job configs of a spec's plan (against the current state)."""
    from aurumplan.executors.compile_jobs import compile_plan
    from aurumplan.plan.model import decode

    planned = plan(spec, ctx)
    typed = decode(planned.plan, str(spec))
    return compile_plan(typed, ctx.catalog.source(typed.operation.source), ctx.config, Path(out))


# ---- quality (check, coverage) ----
# The reports import the warehouse and every check: each function imports them when called.


def check(ctx: Context, source: str, window: str, dataset: str | None = None, checks: list[str] | None = None,
          *, series: list[str] | None = None, threshold: float = 0.95,
          operation: str | None = None) -> dict[str, Any]:
    """`aurumplan check`: quality of the active version in a window (docs/quality.md, "Commands")."""
    from aurumplan.inspect import reports as _reports

    return _reports.check_loaded(ctx.config, ctx.catalog, source, window, dataset, checks, series=series,
                                 threshold=threshold, operation=operation)


def coverage(ctx: Context, source: str, monthly: bool = False, dataset: str | None = None, *,
             window: str | None = None, series: list[str] | None = None,
             operation: str | None = None) -> dict[str, Any]:
    """`aurumplan coverage`: active records per day (or month) against what is expected, the series
    `check` judges (docs/quality.md, "What is expected")."""
    from aurumplan.inspect import reports as _reports

    return _reports.coverage_report(ctx.config, ctx.catalog, source, monthly, dataset, window=window,
                                    series=series, operation=operation)


def coverage_strip(rows: list[dict[str, Any]], width: int = 100) -> str:
    """The heat strip of `coverage`'s rows (as its result lists them), wrapped at width."""
    from aurumplan.quality import CoverageRow, heat_strip

    return heat_strip([CoverageRow(**r) for r in rows], width=width)


def report(ctx: Context, op_id: str, fmt: str = "markdown", *, top_n: int = 10) -> str:
    """`aurumplan report`: what an operation did, rendered as markdown, json or html."""
    from aurumplan.inspect import reports as _reports

    require_state(ctx, op_id)
    return _reports.render_report(_reports.operation_report(ctx.config, ctx.catalog, op_id, top_n=top_n), fmt)


def quotas_check(ctx: Context, concurrency: int | None = None,
                 specs: tuple[str | Path, ...] = ()) -> list[dict[str, Any]]:
    """`quotas validate`: per source, quotas, effective rate, concurrency against each window, a day's
    budget and errors; specs given are planned, so their request counts and rate limits are checked too.
    A concurrency given wins over the specs' own (without one: the largest of the specs', else 3)."""
    planned: dict[str, int] = {}
    rates: dict[str, Any] = {}
    spec_concurrency = 0
    for spec in specs:
        p = plan(spec, ctx).plan
        src = p["operation"]["source"]
        planned[src] = planned.get(src, 0) + p["estimates"]["requests"]
        rates[src] = p["settings"]["rateLimit"]
        spec_concurrency = max(spec_concurrency, p["settings"]["concurrency"])
    workers = concurrency if concurrency is not None else (spec_concurrency or 3)
    reports = validate_quotas(ctx.catalog, ctx.config, concurrency=workers, planned_requests=planned or None,
                              rate_limits=rates or None)
    return [r.to_dict() for r in reports]


# ---- observability ----
# Imports stay local to these functions so this section is the whole of the observability hunk.


def metrics_text(ctx: Context, now: float | None = None, process: bool = False) -> str:
    """The fleet as Prometheus exposition text (docs/operations.md#metrics); process adds this process's memory."""
    from aurumplan.observe import metrics

    state = open_reader(ctx)
    if isinstance(state, EmptyState):
        return metrics.render([], {}, {}, memory=metrics.resident_memory_bytes() if process else None)
    try:
        return metrics.collect(state, ctx.catalog, now, process)
    finally:
        state.close()


def metrics_server(ctx: Context, port: int | None, host: str = "127.0.0.1") -> Any:
    """A context manager serving GET /metrics on host:port while it is open; a no-op when port is None."""
    import contextlib

    if port is None:
        return contextlib.nullcontext()
    from aurumplan.observe import metrics  # its HTTP server only when a port is given

    return metrics.serving(lambda: metrics_text(ctx, process=True), port, host)


def health(ctx: Context, sources: list[str] | None = None, offline: bool = False) -> dict[str, Any]:
    """State, warehouse, each source's API and key, quota left, dead leases, interrupted operations."""
    from aurumplan.observe.health import health as run_checks

    checks = run_checks(ctx.config, ctx.catalog, sources, offline)
    return {"ok": all(c.ok for c in checks), "checks": [c.to_dict() for c in checks]}


def _fleet(ctx: Context, now: float | None = None) -> list[Any]:
    from aurumplan.observe.fleet import fleet

    state = open_reader(ctx)
    if isinstance(state, EmptyState):
        return []
    try:
        return fleet(state, ctx.catalog, now)
    finally:
        state.close()


def cost(ctx: Context, range_: str, group_by: str = "kind", now: float | None = None) -> dict[str, Any]:
    """API calls, bytes, records, wall and CPU time, quota-days and money of the operations created in a range,
    grouped."""
    from aurumplan.observe import reports

    start, end = reports.parse_range(range_, now)
    out = reports.cost(reports.in_range(_fleet(ctx, now), start, end), group_by, ctx.config.costs)
    return {"range": {"start": start, "end": end}, **out}


def trends(ctx: Context, range_: str = "7d", source: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Average and p95 duration, error rate and throughput per kind and source over a range."""
    from aurumplan.observe import reports

    start, end = reports.parse_range(range_, now)
    if source is not None:
        ctx.catalog.source(source)
    rows = reports.trends(reports.in_range(_fleet(ctx, now), start, end, source))
    return {"range": {"start": start, "end": end}, "rows": rows}


def dashboard(ctx: Context, out: str | Path, cost_range: str = "30d", trends_range: str = "7d",
              group_by: str = "kind", probe: bool = False, now: float | None = None) -> dict[str, Any]:
    """Write the self-contained HTML page: active operations, recent failures, health, cost and trends."""
    from aurumplan.observe import dashboard as page
    from aurumplan.state import mask_url

    ops = _fleet(ctx, now)
    health_data = health(ctx, offline=not probe)
    cost_data = cost(ctx, cost_range, group_by, now)
    trends_data = trends(ctx, trends_range, now=now)
    html = page.render(ops, health_data, cost_data, trends_data, mask_url(ctx.config.state_url), cost_range,
                       trends_range, now=now, coverage=_coverage(ctx))
    Path(out).write_text(html)
    return {"out": str(out), "operations": len(ops), "healthy": health_data["ok"], "bytes": len(html.encode())}


def _coverage(ctx: Context) -> dict[str, Any] | None:
    from aurumplan.observe.coverage import coverage

    state = open_reader(ctx)
    if isinstance(state, EmptyState):
        return None
    try:
        return coverage(state, ctx.catalog)
    finally:
        state.close()


def alerter(ctx: Context) -> Any:
    """The alert evaluator of aurumplan.yaml's `alerts:` (keeps what fires between evaluations)."""
    from aurumplan.observe.alerts import Alerter

    return Alerter(ctx.config.alerts)


def alerts_evaluate(ctx: Context, evaluator: Any, now: float | None = None) -> list[str]:
    """Evaluate every rule once against the state; one line per notification sent or failed."""
    from aurumplan.observe.alerts import Snapshot
    from aurumplan.observe.fleet import daily_cap, quota_used

    at = time.time() if now is None else now
    state = open_reader(ctx)
    quota: dict[str, tuple[int, int | None]] = {}
    newest: dict[tuple[str, str], int] = {}
    if not isinstance(state, EmptyState):
        try:
            quota = {n: (quota_used(state, n, now=at), daily_cap(s.quota)) for n, s in ctx.catalog.sources.items()}
            newest = state.newest_periods()
        finally:
            state.close()
    lines: list[str] = evaluator.evaluate(Snapshot(_fleet(ctx, at), quota, at, newest))
    return lines


def alerts_test(ctx: Context, channel: str) -> str:
    """Send a test notification to one channel of `alerts.channels`."""
    from aurumplan.observe.alerts import send_test

    send_test(ctx.config.alerts, channel)
    return channel


# ---- team workflow (init --team, --changed-since, Airflow) ----
def changed_specs(ref: str, plans_dir: str | Path = "plans", cwd: str | Path | None = None) -> list[Path]:
    """Spec files under `plans_dir` added or changed since `ref` (committed or not), as a pull request sees them.

    Compared with the merge base of `ref` and HEAD, so specs changed on `ref` after the branch forked are
    not replanned; deleted specs plan nothing (docs/team-workflow.md).
    """
    import subprocess

    here = Path(cwd or Path.cwd()).resolve()
    folder = (here / plans_dir).resolve()

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise AurumError("--changed-since needs git on PATH") from None
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["git failed"])[0]
            raise AurumError(f"--changed-since {ref}: {first}",
                             hint="give a ref this clone has, e.g. `git fetch origin main` then origin/main")
        return done.stdout

    base = git("merge-base", ref, "HEAD").strip()
    top = Path(git("rev-parse", "--show-toplevel").strip())
    names = git("diff", "--name-only", "--diff-filter=ACMR", "-z", base, "--", str(folder)).split("\0")
    names += git("ls-files", "--others", "--exclude-standard", "-z", "--", str(folder)).split("\0")
    found = {(top / n).resolve() for n in names if n.endswith((".yaml", ".yml"))}
    return sorted(p for p in found if p.is_file())


TEAM_DB_URL = _TEAM_DB_URL
TEAM_GITIGNORE = ".aurumplan/\nplans-out/\ncomment.md\n"


def init_team(cwd: str | Path | None = None, *, state_url: str = TEAM_DB_URL, warehouse_url: str = TEAM_DB_URL,
              hooks_repo: str = "https://github.com/aurumplan/aurumplan") -> dict[str, Any]:
    """A team's project: PostgreSQL config, plans/ with a first spec, the JSON schemas for editors, the
    GitHub workflow and the pre-commit config (docs/team-workflow.md); then the state, as `init`.

    Files that exist are kept (never overwritten); the schemas are rewritten, being this version's.
    """
    from importlib import resources
    from urllib.parse import urlsplit

    from aurumplan import __version__
    from aurumplan.spec.schema import write_schemas as spec_write_schemas

    for option, url in (("--state-url", state_url), ("--warehouse-url", warehouse_url)):
        if urlsplit(url).password:
            raise AurumError(f"{option} has a password, which init --team would write into {CONFIG_NAME}",
                             hint="drop it from the URL and use PGPASSWORD, ~/.pgpass or AURUMPLAN_STATE_URL")
    here = Path(cwd or Path.cwd()).resolve()
    templates = resources.files("aurumplan.integrations") / "templates"

    def template(name: str) -> str:
        return (templates / name).read_text(encoding="utf-8")

    files = {
        CONFIG_NAME: template("aurumplan.yaml").format(state_url=state_url, warehouse_url=warehouse_url),
        "plans/backfill-eia-demand-2024-01.yaml": template("example-spec.yaml"),
        ".github/workflows/aurumplan.yml": template("github-workflow.yml"),
        ".pre-commit-config.yaml": template("pre-commit-config.yaml").format(hooks_repo=hooks_repo,
                                                                             version=__version__),
        ".gitignore": TEAM_GITIGNORE,
    }
    written, kept = [], []
    for rel, text in files.items():
        path = here / rel
        if path.exists():
            kept.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(rel)
    written += [str(p.relative_to(here)) for p in spec_write_schemas(here / "schemas")]
    try:
        state = init(here)["state"]
    except AurumError as exc:
        raise AurumError(f"wrote {', '.join(written) or 'nothing new'}; the state is not ready: {exc}",
                         hint="start PostgreSQL or fix `state:` in aurumplan.yaml, then run `aurumplan init`") from None
    return {"written": written, "kept": kept, "state": state}


def find_operations(ctx: Context, *, op_id: str | None = None, spec_sha256: str | None = None) -> list[dict[str, Any]]:
    """Operations with this id or made from a spec with this sha256, oldest first: how a retried
    scheduler task finds the operation it started (docs/team-workflow.md, Airflow)."""
    with reading(ctx) as state:
        if isinstance(state, EmptyState):
            return []
        return [{"id": o.id, "status": o.status, "kind": o.kind, "source": o.source, "created_at": o.created_at,
                 "summary": o.summary} for o in state.list_operations()
                if (op_id is not None and o.id == op_id) or (spec_sha256 is not None and o.spec_sha256 == spec_sha256)]


# ---- emergency ----
# apply.damage and apply.emergency import the warehouse and the checks: each function imports them when called.


def stop(ctx: Context, *, source: str | None, reason: str, cancel: bool = False,
         include_critical: bool = False) -> dict[str, Any]:
    """Emergency stop of active operations (docs/emergency.md)."""
    from aurumplan.apply import emergency

    if source is not None:
        ctx.catalog.source(source)
    return emergency.stop(ctx.config, source=source, reason=reason, cancel=cancel, include_critical=include_critical)


def freeze(ctx: Context, source: str, reason: str) -> dict[str, Any]:
    """Freeze a source in the state, for every process (docs/emergency.md)."""
    from aurumplan.apply import emergency

    ctx.catalog.source(source)
    return emergency.freeze(ctx.config, source, reason)


def unfreeze(ctx: Context, source: str) -> dict[str, Any]:
    from aurumplan.apply import emergency

    return emergency.unfreeze(ctx.config, source)


def scan(ctx: Context, source: str, *, window: str | None = None, checks: list[str] | None = None,
         out: str | Path | None = None) -> dict[str, Any]:
    """Damage report of current data; `out` writes it as JSON (docs/emergency.md)."""
    from aurumplan.apply import damage

    report = damage.scan(ctx.config, ctx.catalog, source, window, checks)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def quarantine(ctx: Context, report: str | Path, mode: str = "strict") -> dict[str, Any]:
    """Hide a damage report's versions from observations_current, reversibly."""
    from aurumplan.apply import damage

    return damage.quarantine(ctx.config, report, mode)


def release(ctx: Context, quarantine_id: str) -> dict[str, Any]:
    from aurumplan.apply import damage

    return damage.release(ctx.config, quarantine_id)


def recover(ctx: Context, report: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write reviewable recovery specs for a damage report (never applies)."""
    from aurumplan.apply import damage

    return damage.recover(ctx.config, ctx.catalog, report, out_dir)


# ---- retention (gc, archive restore) ----
# gc and archives import the warehouse and pyarrow: each function imports them when called.


def gc(ctx: Context, older_than: str, *, dry_run: bool = False) -> dict[str, Any]:
    """`aurumplan gc`: delete superseded versions no rollback can need (docs/replay.md, "Archive and retention")."""
    from aurumplan.apply import gc as _gc

    return _gc.collect(ctx.config, older_than, dry_run=dry_run)


def archive_restore(ctx: Context, file: str | Path) -> dict[str, Any]:
    """`aurumplan archive restore`: put back the versions of an archive file that gc removed."""
    from aurumplan.apply import archive as _archive
    from aurumplan.warehouse import open_warehouse as _open_warehouse

    path = Path(file) if Path(file).is_absolute() else ctx.cwd / file
    if not path.is_file():
        raise OperationError(f"{file}: no such archive file",
                             hint="`aurumplan report OP` lists an operation's archives")
    with _open_warehouse(ctx.config.warehouse_url) as warehouse:
        return _archive.restore_archive(warehouse, path)


# ---- pattern comparison (compare) ----
# quality.patterns imports the quality package and so the warehouse: its names load on first use (__getattr__).
from aurumplan.errors import CatalogError as _CatalogError  # noqa: E402


def _day(option: str, text: str) -> int:
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return parse_ts(text)
    except ValueError:
        raise AurumError(f"invalid {option} '{text}': give a date as YYYY-MM-DD, e.g. 2024-12-01") from None


def compare(ctx: Context, source: str, dataset: str, reference: str, against: str, *,
            series: list[str] | None = None, limits: PatternLimits | None = None) -> dict[str, Any]:
    """`aurumplan compare`: is a day shaped like a reference day, per series (docs/quality.md,
    "Comparing patterns"); limits default to PATTERN_LIMITS."""
    from aurumplan.quality import patterns as _patterns
    from aurumplan.warehouse import open_warehouse as _open_warehouse

    limits = _patterns.Limits() if limits is None else limits
    ref_day, against_day = _day("--reference", reference), _day("--against", against)
    if not -1 <= limits.min_correlation <= 1 or limits.max_mean_diff < 0 or limits.max_peak_diff < 0:
        raise AurumError("invalid limits: --min-correlation is between -1 and 1, --max-mean-diff and "
                         "--max-peak-diff are fractions of at least 0 (0.2 = 20%)")
    ds = ctx.catalog.dataset(source, dataset)
    names = list(dict.fromkeys(series or ()))
    if _sqlite_missing(ctx.config.warehouse_url):
        out = _patterns.compare_from_values(source, ds.name, ref_day, against_day, {}, {}, names, limits)
    else:
        with _open_warehouse(ctx.config.warehouse_url) as warehouse, warehouse.connect() as conn:
            out = _patterns.compare_days(conn, source, ds.name, ref_day, against_day, names, limits)
    unknown = [r["series_id"] for r in out["series"]
               if r["series_id"] not in ds.series and r["reasons"] == ["no values on either date"]]
    if unknown:
        raise _CatalogError(f"unknown series {', '.join(unknown)} of source '{source}' dataset '{ds.name}'",
                            hint="name a series of the catalog or one loaded on either date")
    return out
