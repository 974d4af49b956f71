"""The validate node: score a dataset's staged loads before the commit makes them current."""

from __future__ import annotations

from typing import Any

from aurumplan.apply.nodes import load_id_of
from aurumplan.catalog import Catalog
from aurumplan.config import Config
from aurumplan.intervals import IntervalSet
from aurumplan.quality.evaluate import evaluate
from aurumplan.warehouse import open_warehouse


def _params(settings: dict[str, Any]) -> dict[str, Any]:
    replay = settings.get("replay") or {}
    params = dict(((replay.get("algorithm") or {}).get("params")) or {})
    if replay.get("type") == "schema_correction" and replay.get("schemaVersion"):
        params["expected_version"] = replay["schemaVersion"]
    return params


def validate_dataset(applier: Any, dataset: str, staged: list[dict[str, Any]]) -> dict[str, Any]:
    """Quality of the staged version of one dataset, over the windows its loads cover."""
    settings = applier.settings
    checks = settings["validation"]["checks"]
    windows = IntervalSet()
    series: set[str] = set()
    for n in staged:
        if n.get("window"):
            windows = windows | IntervalSet.from_json([n["window"]])
        for w in (n.get("intervals") or {}).values():
            windows = windows | IntervalSet.from_json(w)
        series.update(n["series"])
    span = windows.span
    assert span is not None
    load_ids = [load_id_of(applier.op_id, n["id"]) for n in staged]
    with applier.warehouse.connect() as conn:
        q = evaluate(conn, applier.catalog, applier.source.name, dataset, span, checks, load_id=load_ids,
                     params=_params(settings), series=sorted(series))
    out = q.to_dict(settings["validation"]["threshold"])
    applier.store.add_quality_result(applier.op_id, dataset, q.score, q.passed(settings["validation"]["threshold"]),
                                     node_id=f"{dataset}/validate", detail=out)
    return {"dataset": dataset, "score": q.score, "checks": {k: r.score for k, r in q.results.items()}}


def check_current(config: Config, catalog: Catalog, source: str, datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores of the current version over the given datasets' intervals (controlled rollback)."""
    warehouse = open_warehouse(config.warehouse_url)
    out: dict[str, Any] = {}
    with warehouse.connect() as conn:
        for d in datasets:
            span = IntervalSet.from_json(d["intervals"]).span
            if span is None:
                continue
            q = evaluate(conn, catalog, source, d["dataset"], span, series=d["series"])
            out[d["dataset"]] = round(q.score, 6)
    return out
