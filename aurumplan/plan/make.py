"""Spec file -> plan: load, check, scope, diff against state, compile the graph, build the plan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aurumplan.catalog import Catalog
from aurumplan.catalog.check import check_spec, series_selected
from aurumplan.catalog.estimate import RUNS, Observed, observe
from aurumplan.compile.graph import JobGraph, build_job_graph
from aurumplan.compile.revisions import revision_reader, selections
from aurumplan.compile.scope import build_scope
from aurumplan.diff import ChangeSet, diff
from aurumplan.diff.engine import PlanReader
from aurumplan.errors import PlanError, SourceError, SpecError
from aurumplan.gcpause import paused_gc
from aurumplan.intervals import IntervalSet
from aurumplan.plan.builder import build_plan, seal, spec_relative
from aurumplan.spec.loader import LoadedSpec, load_spec
from aurumplan.spec.models import CHECKS
from aurumplan.state.models import RETRYABLE_STATUSES


@dataclass
class Planned:
    """Everything planning produced; the plan dict is what is saved and applied."""

    loaded: LoadedSpec
    changes: ChangeSet
    graph: JobGraph
    plan: dict[str, Any]
    text: str  # the plan file's exact bytes (canonical JSON)


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def settings_of(op: Any) -> dict[str, Any]:
    """The spec's execution settings as plain, hashable data."""
    s = op.spec
    out: dict[str, Any] = {
        "concurrency": s.concurrency, "batchSize": s.batchSize,
        "retries": {"max": s.retries.max, "backoff_seconds": _seconds(s.retries.backoff),
                    "maxBackoff_seconds": _seconds(s.retries.maxBackoff)},
        "rateLimit": s.rateLimit if s.rateLimit == "auto" else float(s.rateLimit),
        "priority": s.priority, "timezone": s.timezone,
        "validation": {"checks": list(s.validation.checks), "threshold": s.validation.threshold,
                       "onFailure": s.validation.onFailure},
    }
    if s.validation.scripts:  # only when set, like commit below
        out["validation"]["scripts"] = list(s.validation.scripts)
    if s.commit != "atomic":  # only when set: plans of specs without it stay byte-identical
        out["commit"] = s.commit
    if op.kind == "Replay":
        out["replay"] = {"type": s.type, "schemaVersion": s.schemaVersion, "migration": s.migration,
                         "transform": s.transform, "qualityProfile": s.qualityProfile,
                         "archive": s.archive.model_dump(mode="json") if s.archive else None,
                         "algorithm": s.algorithm.model_dump(mode="json", exclude_none=True) if s.algorithm else None}
    if op.kind == "Reprocess":
        out["retries"]["max"] = s.attempts() - 1  # maxAttempts is the Reprocess's name for it
        out["reprocess"] = {"maxAttempts": s.attempts(), "conflicts": s.conflicts,
                            "rollbackWhen": s.rollbackWhen.qualityBelow if s.rollbackWhen else None}
    return out


def with_profile(settings: dict[str, Any], op: Any, catalog: Catalog) -> dict[str, Any]:
    """The spec's quality profile resolved into its validation settings, so the plan alone says how
    its data is judged: the profile fills checks and threshold the spec leaves unset (docs/quality.md)."""
    name = getattr(op.spec, "qualityProfile", None)
    if name is None:
        return settings
    profile = catalog.quality_profiles[name]
    given = op.spec.validation.model_fields_set
    v = settings["validation"]
    if profile.checks is not None and "checks" not in given:
        v["checks"] = [c for c in CHECKS if c in profile.checks]
    if profile.threshold is not None and "threshold" not in given:
        v["threshold"] = profile.threshold
    v["profile"] = name
    if profile.weights:
        v["weights"] = dict(sorted(profile.weights.items()))
    params = profile.params.model_dump(exclude_none=True)
    if params:
        v["params"] = params
    return settings


def _embedded(loaded: LoadedSpec) -> dict[str, str]:
    """Python files the spec names, embedded so the plan alone can be applied."""
    out = {}
    for attr in ("migration", "transform"):
        rel = getattr(loaded.op.spec, attr, None)
        if rel:
            out[rel] = loaded.resolve_path(rel).read_text()
    for rel in loaded.op.spec.validation.scripts:
        out[rel] = loaded.resolve_path(rel).read_text()
    algorithm = getattr(loaded.op.spec, "algorithm", None)
    if algorithm is not None and algorithm.file:  # apply runs this text, not the file as it is later
        out[algorithm.file] = loaded.resolve_path(algorithm.file).read_text()
    return out


Revisions = dict[str, dict[str, list[tuple[IntervalSet, str]]]]
"""Per dataset and series: the revised periods, grouped, each group with the reason naming its signal."""


def _incremental_since(op: Any, catalog: Catalog, state: PlanReader) -> Revisions:
    """Reprocess `incremental`: what the source says changed on or after `since` (docs/replay.md, "Incremental").

    An incremental refresh keeps what is loaded current: per series, inside the span from its first to
    its last loaded period, the periods given a value on or after `since` (revised, or published into a
    gap). The driver asks the API at plan time (discovery requests, served from `recordings:` when the
    source has them); a series with nothing loaded is not asked. `validate` has already refused a field
    the catalog does not list for the source (catalog/check.py).
    """
    inc = getattr(op.spec, "incremental", None)
    if inc is None:
        return {}
    source = catalog.source(op.spec.source)
    reader = revision_reader(source.driver)
    if reader is None or inc.field not in reader.revision_fields:
        reads = ", ".join(reader.revision_fields) if reader is not None else "none"
        raise PlanError(f"source '{source.name}' lists revision field '{inc.field}', but its driver "
                        f"'{source.driver}' reads {reads}",
                        hint="fix revision_fields of the source in aurumplan.yaml")
    since = dt.date.fromisoformat(str(inc.since)[:10])  # revision dates are calendar dates, as written
    out: Revisions = {}
    for name in op.spec.datasets or list(source.datasets):
        ds = source.datasets[name]
        loaded = state.watermarks(source.name, name, series_selected(ds, op.spec.series))
        spans = {sid: span for (_, sid), held in sorted(loaded.items()) if (span := held.domain().span)}
        if not spans:
            continue
        try:
            revised = reader.revised_since(source, ds, spans, since, catalog.recordings(source))
        except SourceError as exc:
            raise PlanError(f"cannot ask {source.name} which {name} observations changed since "
                            f"{since.isoformat()}: {exc}") from None
        out[name] = {sid: selections(r, since.isoformat(), ds.grain) for sid, r in revised.items()}
    return out


def plan_spec(path: str | Path, catalog: Catalog, state: PlanReader, *, cwd: Path | None = None,
              own_operation: str | None = None) -> Planned:
    """Plan one spec file against the given state."""
    loaded = load_spec(path)
    problems = check_spec(loaded, catalog)
    if problems:
        raise SpecError(problems)
    return plan_loaded(loaded, catalog, state, cwd=cwd, own_operation=own_operation)


def plan_loaded(loaded: LoadedSpec, catalog: Catalog, state: PlanReader, *, cwd: Path | None = None,
                own_operation: str | None = None, now: float | None = None) -> Planned:
    """Plan an already loaded and checked spec (see plan_spec). `now` (default: the clock) is the
    instant windows reaching the present are clipped at; re-checking a saved plan passes its own."""
    with paused_gc():  # planning allocates millions of acyclic objects (aurumplan/gcpause.py)
        return _plan(loaded, catalog, state, cwd, own_operation, now)


def _plan(loaded: LoadedSpec, catalog: Catalog, state: PlanReader, cwd: Path | None,
          own_operation: str | None, now: float | None) -> Planned:
    op = loaded.op
    scope = build_scope(op, catalog, loaded.path.parent, _incremental_since(op, catalog, state), now=now)
    policy = getattr(op.spec, "conflicts", "latest_wins")
    target_schema = getattr(op.spec, "schemaVersion", None)
    changes = diff(scope, state, conflicts_policy=policy, target_schema=target_schema,
                   own_operation=own_operation, migrating=getattr(op.spec, "type", None) == "schema_correction")
    work = {name: {sid: ch.where("create", "replace") for sid, ch in d.series.items()}
            for name, d in changes.datasets.items()}
    graph = build_job_graph(scope.source, work, bridge_gaps=op.kind == "Backfill")
    plan = build_plan(op=op, spec_text=loaded.text, spec_file=spec_relative(loaded.path, cwd or Path.cwd()),
                      embedded_files=_embedded(loaded), source=scope.source, changes=changes, graph=graph,
                      settings=with_profile(settings_of(op), op, catalog), warnings=scope.warnings,
                      published_until=scope.published_until, observed=_observed(scope.source, state))
    _next_attempt(plan, state)
    return Planned(loaded, changes, graph, plan, seal(plan))


def _observed(source: Any, state: PlanReader) -> Observed:
    """The source's figures from its last runs in the state, for the duration estimate (an empty
    state has none: the defaults)."""
    return observe(state.recent_runs(source.name, RUNS), source.quota, source.headroom,
                   recorded=bool(source.recordings))


def _next_attempt(plan: dict[str, Any], state: PlanReader) -> None:
    """A spec planned again after its operation ended without success starts attempt n of it.

    Found by the spec's hash: when the latest operation of the same spec text failed, halted, was
    cancelled or rolled back, this plan is attempt n of that operation's first attempt, with id
    `<first id>-a<n>` (the content-derived id alone would repeat when nothing was committed).
    Plans of a first attempt are unchanged (docs/architecture.md, "Operation lifecycle").
    """
    ops = [o for o in state.attempts_of_spec(plan["spec"]["sha256"]) if o.kind == plan["operation"]["kind"]]
    if not ops or ops[-1].status not in RETRYABLE_STATUSES:
        return
    first = ops[-1].parent_id or ops[-1].id
    n = 1 + sum(1 for o in ops if o.id == first or o.parent_id == first)
    plan["operation"]["id"] = f"{first}-a{n}"
    plan["operation"]["attempt"] = {"number": n, "first": first}
