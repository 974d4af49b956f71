"""What a spec asks for: per dataset and series, the grain-aligned intervals and why.

This only reads the spec and the catalog. Whether an interval is missing, loaded or held by
someone else is the diff's job.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurumplan.catalog import Catalog, DatasetDef, SourceDef
from aurumplan.catalog.check import series_selected
from aurumplan.errors import PlanError
from aurumplan.intervals import HOUR, IntervalSet, fmt_ts, parse_ts
from aurumplan.spec.failures import read_failure_log


@dataclass(frozen=True)
class Selection:
    """Intervals of one series with the reason they are in scope."""

    where: IntervalSet
    reason: str


@dataclass
class DatasetScope:
    """One dataset's requested series and intervals."""

    dataset: DatasetDef
    series: dict[str, list[Selection]] = field(default_factory=dict)
    cascade_from: str | None = None

    def wanted(self, series_id: str) -> IntervalSet:
        sels = self.series.get(series_id, [])
        if len(sels) == 1:  # the usual case: one selection, already aligned and normalized
            return sels[0].where
        return IntervalSet([iv for sel in sels for iv in sel.where])

    def add(self, series_id: str, where: IntervalSet, reason: str) -> None:
        aligned = where.align(self.dataset.grain)
        if aligned:
            self.series.setdefault(series_id, []).append(Selection(aligned, reason))


@dataclass
class Scope:
    """Everything a spec selects, by dataset name, in catalog order."""

    source: SourceDef
    kind: str
    datasets: dict[str, DatasetScope] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    published_until: int | None = None
    """The hour a window reaching the present was clipped at (the plan records it: apply/verify.py)."""

    def dataset(self, ds: DatasetDef, cascade_from: str | None = None) -> DatasetScope:
        if ds.name not in self.datasets:
            self.datasets[ds.name] = DatasetScope(ds, cascade_from=cascade_from)
        return self.datasets[ds.name]


def _selected_datasets(source: SourceDef, names: tuple[str, ...] | None) -> list[DatasetDef]:
    if names is None:
        return list(source.datasets.values())
    return [source.datasets[n] for n in names]


def _series_of(ds: DatasetDef, wanted: tuple[str, ...] | None) -> list[str]:
    """The dataset's series the spec selects; `PJM` also selects `PJM.NG`, `PJM.COL`, ..."""
    return series_selected(ds, wanted)


def _hours_label(hours: tuple[int, ...]) -> str:
    if hours and list(hours) == list(range(hours[0], hours[-1] + 1)):
        return f"{hours[0]}-{hours[-1]}" if len(hours) > 1 else str(hours[0])
    return ",".join(str(h) for h in hours)


def _reprocess_reason(spec: Any) -> str:
    if getattr(spec, "hours", None):
        return f"selected hours {_hours_label(spec.hours)} of {spec.date} ({spec.timezone})"
    if getattr(spec, "date", None):
        return f"selected date {spec.date} ({spec.timezone})"
    if getattr(spec, "timeRange", None):
        return f"selected time range {spec.timeRange.start} to {spec.timeRange.end} ({spec.timezone})"
    return "selected window"


def published(ds: DatasetDef, where: IntervalSet, now: float) -> IntervalSet:
    """The part of `where` the source can have: from the catalog's `available_from` to the start of the
    current hour (a window beyond either end would plan requests for periods nobody publishes)."""
    if not where:
        return where
    lo = parse_ts(ds.available_from) if ds.available_from else (where.span or (0, 0))[0]
    hi = int(now) // HOUR * HOUR
    return where & IntervalSet([(lo, hi)]) if lo < hi else IntervalSet()


def _clip(scope: Scope, ds: DatasetDef, where: IntervalSet, now: float) -> IntervalSet:
    kept = published(ds, where, now)
    span = where.span
    if span and span[1] > int(now) // HOUR * HOUR:
        scope.published_until = int(now) // HOUR * HOUR
    if kept != where:
        span = kept.span
        scope.warnings.append(f"{ds.name}: window clipped to "
                              f"{fmt_ts(span[0]) + ' .. ' + fmt_ts(span[1]) if span else 'nothing'}: the source "
                              f"publishes it from {ds.available_from or 'its first period'} up to now")
    return kept


def build_scope(op: Any, catalog: Catalog, spec_dir: Path,
                revised: Mapping[str, Mapping[str, list[tuple[IntervalSet, str]]]] | None = None,
                now: float | None = None) -> Scope:
    """The requested intervals of every dataset and series the operation names.

    `revised` serves Reprocess `incremental`: per dataset and series, the periods the source says were
    revised since `since`, each group with the reason naming the revision signal (plan/make.py).
    A window is clipped to what the source publishes, with a warning (`published`).
    """
    at = time.time() if now is None else now
    spec = op.spec
    source = catalog.source(spec.source)
    scope = Scope(source, op.kind)
    datasets = _selected_datasets(source, spec.datasets)
    if op.kind == "Reprocess" and getattr(spec, "failedRecords", None):
        _failed_scope(scope, source, spec, spec_dir, datasets)
    elif op.kind == "Reprocess" and getattr(spec, "incremental", None):
        for ds in datasets:
            found = (revised or {}).get(ds.name, {})
            for sid in _series_of(ds, spec.series):
                for where, reason in found.get(sid, []):
                    scope.dataset(ds).add(sid, where, reason)
            if ds.name not in (revised or {}):
                scope.warnings.append(f"{ds.name}: nothing of it is loaded, so an incremental refresh has "
                                      "nothing to refresh (backfill it first)")
            elif not any(found.values()):
                scope.warnings.append(f"{ds.name}: {scope.source.name} changed nothing of it since "
                                      f"{spec.incremental.since:%Y-%m-%d} ({spec.incremental.field})")
    else:
        if op.kind == "Reprocess" and spec.selection_intervals() is not None:
            where = IntervalSet(spec.selection_intervals())
            reason = _reprocess_reason(spec)
        else:
            interval = spec.window_interval()
            if interval is None:
                raise PlanError("the spec selects no time range: give a window (or a Reprocess selector)")
            where = IntervalSet([interval])
            reason = {"Backfill": "gap in window", "Replay": f"replay ({spec_type(spec)})"}.get(
                op.kind, "selected window")
        for ds in datasets:
            kept = _clip(scope, ds, where, at)
            for sid in _series_of(ds, spec.series):
                scope.dataset(ds).add(sid, kept, reason)
    if op.kind in ("Replay", "Reprocess"):
        _cascade(scope, catalog)
    return scope


def spec_type(spec: Any) -> str:
    return str(getattr(spec, "type", "correction"))


def _failed_scope(scope: Scope, source: SourceDef, spec: Any, spec_dir: Path,
                  datasets: list[DatasetDef]) -> None:
    path = (spec_dir / spec.failedRecords).resolve()
    names = {d.name for d in datasets} if spec.datasets is not None else None
    for rec in read_failure_log(path):
        if rec.source != source.name or (names is not None and rec.dataset not in names):
            continue
        ds = source.datasets.get(rec.dataset)
        if ds is None:
            raise PlanError(f"{path}: failed record names unknown dataset '{rec.dataset}'")
        start, end = rec.interval
        for sid in rec.series:
            if sid in _series_of(ds, spec.series):
                scope.dataset(ds).add(sid, IntervalSet([(start, end)]),
                                      f"failed record of operation {rec.operation_id} ({fmt_ts(start)})")


def _cascade(scope: Scope, catalog: Catalog) -> None:
    """Datasets derived from a replayed one are reprocessed over the same periods."""
    for name in list(scope.datasets):
        for dep in catalog.dependents(scope.source.name, name):
            dep_def = scope.source.datasets[dep]
            target = scope.dataset(dep_def, cascade_from=name)
            parent = scope.datasets[name]
            for sid in dep_def.series:
                src_where = parent.wanted(sid)
                if src_where:
                    target.add(sid, src_where, f"cascade from {name} through depends_on")
