"""Run the selected checks over one dataset and weigh them into its quality score.

`evaluate` reads from the warehouse; `evaluate_frame` judges frames already in memory (compare
uses it on the before and after versions). Which series are judged: the `series` given, else
the catalog's series plus any others present (for staged loads: the series the loads declare
plus those present), so a series that is entirely missing still counts against completeness.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from aurumplan.catalog import Catalog, DatasetDef, Relation
from aurumplan.errors import AurumError
from aurumplan.intervals import Interval
from aurumplan.quality.accuracy import check_accuracy
from aurumplan.quality.completeness import check_completeness
from aurumplan.quality.consistency import RelationInput, check_consistency
from aurumplan.quality.frame import DatasetFrame, load_frame
from aurumplan.quality.model import CHECKS, CheckResult, DatasetQuality, weighted_score
from aurumplan.quality.schema import check_schema
from aurumplan.quality.scripts import ScriptCheck
from aurumplan.warehouse.reads import displaced_load_ids, load_dicts, loads_columns


def normalize_checks(checks: Iterable[str]) -> tuple[str, ...]:
    """The checks in canonical order; `all` means every check; unknown names are an error."""
    names = [c.strip().lower() for c in checks if c.strip()]
    if "all" in names:
        return CHECKS
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise AurumError(f"unknown quality check {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return tuple(c for c in CHECKS if c in names)


def judged_series(ds: DatasetDef, frame: DatasetFrame, series: Iterable[str] | None = None,
                  declared: Iterable[str] = ()) -> list[str]:
    """The series to judge (see module doc)."""
    if series is not None:
        return sorted(set(series))
    base = set(declared) if frame.load_ids else set(ds.series)
    return sorted(base | set(frame.series))


def evaluate_frame(ds: DatasetDef, frame: DatasetFrame, checks: Sequence[str] = CHECKS, *,
                   series: Sequence[str] | None = None, params: Mapping[str, Any] | None = None,
                   relations: Sequence[RelationInput] = (), previous: DatasetFrame | None = None,
                   load_versions: Mapping[str, str] | None = None, scripts: Sequence[ScriptCheck] = (),
                   weights: Mapping[str, float] | None = None) -> DatasetQuality:
    """The checks over a frame already loaded; `series` defaults as in `judged_series`.

    `scripts` run after the built-in checks and count in the score; `weights` (a profile's) override
    the catalog's by check name or script path (see `check_weights`).
    """
    params = dict(params or {})
    names = normalize_checks(checks)
    judged = list(series) if series is not None else judged_series(ds, frame)
    results: dict[str, CheckResult] = {}
    for name in names:
        if name == "completeness":
            results[name] = check_completeness(ds, frame, judged)
        elif name == "accuracy":
            results[name] = check_accuracy(ds, frame, judged, params)
        elif name == "consistency":
            results[name] = check_consistency(ds, frame, judged, relations=relations, previous=previous,
                                              params=params)
        else:
            results[name] = check_schema(ds, frame, judged, params=params, load_versions=load_versions)
    for script in scripts:
        results[script.name] = script.run(ds, frame, judged, params)
    score, applied = weighted_score({k: r.score for k, r in results.items()},
                                    check_weights(ds, names, [s.name for s in scripts], weights))
    return DatasetQuality(frame.source, ds.name, frame.window, score, results, applied, frame.load_ids)


def check_weights(ds: DatasetDef, checks: Sequence[str], scripts: Sequence[str],
                  override: Mapping[str, float] | None = None) -> dict[str, float]:
    """The catalog's weights, a profile's on top; a script without one weighs as much as the mean
    built-in check that runs (docs/quality.md, "Validation scripts")."""
    weights = {**ds.quality_weights, **(override or {})}
    ran = [float(weights.get(c, 0.0)) for c in checks]
    default = sum(ran) / len(ran) if ran and sum(ran) > 0 else 1.0
    for name in scripts:
        weights.setdefault(name, default)
    return weights


def _relations(catalog: Catalog, source: str, ds: DatasetDef) -> list[tuple[Relation, DatasetDef, DatasetDef]]:
    """(relation, parts def, totals def) for every relation ds takes part in, declared anywhere."""
    src = catalog.source(source)
    out: list[tuple[Relation, DatasetDef, DatasetDef]] = []
    seen: set[tuple[str, str]] = set()
    for other in [ds, *(d for n, d in sorted(src.datasets.items()) if n != ds.name)]:
        for rel in other.relations:
            key = (rel.total, rel.parts)
            if ds.name in key and key not in seen and rel.total in src.datasets and rel.parts in src.datasets:
                seen.add(key)
                out.append((rel, src.datasets[rel.parts], src.datasets[rel.total]))
    return out


def _declared_series(infos: Sequence[Mapping[str, Any]]) -> set[str]:
    out: set[str] = set()
    for info in infos:
        raw = info.get("series")
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            continue
        if isinstance(parsed, list):
            out.update(str(s) for s in parsed)
    return out


def evaluate(conn: Connection, catalog: Catalog, source: str, dataset: str, window: Interval,
             checks: Sequence[str] = CHECKS, load_id: str | Sequence[str] | None = None,
             params: Mapping[str, Any] | None = None, previous_load_id: str | Sequence[str] | None = None,
             *, series: Sequence[str] | None = None,
             related_load_ids: Mapping[str, Sequence[str]] | None = None, scripts: Sequence[ScriptCheck] = (),
             weights: Mapping[str, float] | None = None) -> DatasetQuality:
    """Judge one dataset in [start, end): the active version, or the given (staged) loads.

    Revisions are compared with `previous_load_id`'s rows when given; for loads that are not
    committed yet, with the active version they would replace; for committed loads, with the
    versions they displaced. Relations read the other dataset's active version unless
    `related_load_ids` names loads for it.
    """
    ds = catalog.dataset(source, dataset)
    names = normalize_checks(checks)
    ids = [load_id] if isinstance(load_id, str) else list(load_id or [])
    want_schema = "schema" in names
    versioned_loads = want_schema and "schema_version" in loads_columns(conn)
    frame = load_frame(conn, source, dataset, window, load_ids=ids or None, with_attributes=want_schema,
                       with_load_ids=versioned_loads)
    infos = load_dicts(conn, ids) if ids else []
    judged = judged_series(ds, frame, series, _declared_series(infos))
    relations: list[RelationInput] = []
    previous: DatasetFrame | None = None
    if "consistency" in names:
        related = related_load_ids or {}
        for rel, pdef, tdef in _relations(catalog, source, ds):
            other = tdef.name if pdef.name == ds.name else pdef.name
            other_frame = load_frame(conn, source, other, window, load_ids=related.get(other) or None)
            parts, totals = (frame, other_frame) if pdef.name == ds.name else (other_frame, frame)
            relations.append(RelationInput(rel, pdef, parts, totals))
        previous = _previous(conn, source, dataset, window, ids, infos, previous_load_id)
    load_versions: dict[str, str] = {}
    if versioned_loads:
        present = ids or sorted({lid for s in frame.series.values() for lid in set(s.load_ids or ())})
        for info in (infos if ids else load_dicts(conn, present)):
            if info.get("schema_version"):
                load_versions[str(info["load_id"])] = str(info["schema_version"])
    return evaluate_frame(ds, frame, names, series=judged, params=params, relations=relations,
                          previous=previous, load_versions=load_versions, scripts=scripts, weights=weights)


def _previous(conn: Connection, source: str, dataset: str, window: Interval, ids: Sequence[str],
              infos: Sequence[Mapping[str, Any]], previous_load_id: str | Sequence[str] | None
              ) -> DatasetFrame | None:
    if previous_load_id:
        return load_frame(conn, source, dataset, window, load_ids=previous_load_id)
    if not ids:
        return None
    if any(i.get("status") == "committed" for i in infos):
        prev = displaced_load_ids(conn, ids)
        return load_frame(conn, source, dataset, window, load_ids=prev) if prev else None
    return load_frame(conn, source, dataset, window)
