"""docs/grafana/aurumplan-fleet.json imports into Grafana and queries only what the exporter exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from aurumplan.observe.fleet import OpFigures
from aurumplan.observe.metrics import render

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "aurumplan-fleet.json"
METRIC = re.compile(r"\b(aurumplan_[a-z_]+|process_[a-z_]+)\b")


def _exported() -> set[str]:
    """Every sample name a fleet with an ended, a running and a failed operation exports."""
    ops = [OpFigures("A", "Backfill", "eia", None, "succeeded", 0.0, 10.0, requests=3, records=30, bytes=100,
                     outcomes={"ok": 3}, duration_seconds=10.0),
           OpFigures("B", "Replay", "eia", None, "running", 5.0, 6.0, requests=1, outcomes={"throttled": 1}),
           OpFigures("C", "Backfill", "fred", None, "failed", 0.0, 1.0, failures=1)]
    text = render(ops, {"eia": 1}, {"eia": (4, 5000)}, {("eia", "ELEC.DEMAND"): 0}, now=3600.0, memory=1)
    return {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_every_panel_queries_exported_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exported = _exported()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs, "the dashboard has no queries"
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert used - exported == set(), f"queried but never exported: {sorted(used - exported)}"
    families = {re.sub(r"_(bucket|sum|count)$", "", m) for m in exported}
    shown = {re.sub(r"_(bucket|sum|count)$", "", m) for m in used}
    assert families - shown == set(), f"exported but on no panel: {sorted(families - shown)}"


def test_it_imports_as_a_dashboard_with_a_prometheus_input() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert [i["pluginId"] for i in dash["__inputs"]] == ["prometheus"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert {"x", "y", "w", "h"} <= set(p["gridPos"])
