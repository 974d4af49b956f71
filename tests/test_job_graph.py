"""The job graph: a DAG whose JSON form (the plan file's graph) rebuilds exactly the same graph."""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import pytest

from aurumplan.catalog import load_catalog
from aurumplan.compile.graph import build_graph, graph_to_json
from aurumplan.compile.requests import planner_for
from aurumplan.errors import CatalogError
from aurumplan.intervals import HOUR, IntervalSet, parse_ts

T0 = parse_ts("2020-01-01")


def _work() -> dict[str, dict[str, IntervalSet]]:
    gappy = IntervalSet([(T0 + k * 120 * HOUR, T0 + k * 120 * HOUR + 20 * HOUR) for k in range(60)])
    return {"ELEC.DEMAND": {"PJM": gappy, "MISO": IntervalSet([(T0, T0 + 9000 * HOUR)])},
            "ELEC.GEN": {"PJM": IntervalSet([(T0, T0 + 24 * HOUR)])}}


def test_graph_equals_the_one_networkx_builds_from_its_json() -> None:
    source = load_catalog().source("eia")
    g = build_graph(source, _work(), bridge_gaps=True)
    data = graph_to_json(g)
    ref = nx.DiGraph()
    ref.add_nodes_from((n["id"], {k: v for k, v in n.items() if k != "id"}) for n in data["nodes"])
    ref.add_edges_from(data["edges"])
    ref.graph["order"] = [n["id"] for n in data["nodes"]]
    assert nx.utils.graphs_equal(g, ref)
    assert sum(1 for n in data["nodes"] if n["kind"] == "extract") > 3
    assert nx.is_directed_acyclic_graph(g)
    assert list(g.predecessors("ELEC.DEMAND/validate")) == [
        n["id"] for n in data["nodes"] if n["kind"] == "extract" and n["dataset"] == "ELEC.DEMAND"]
    assert set(g.successors("ELEC.DEMAND/extract/00000")) == {"ELEC.DEMAND/validate"}


def test_planning_finds_the_drivers_without_importing_them_itself() -> None:
    """compile/ reaches the drivers only through the registry of compile/requests.py (docs/architecture.md)."""
    script = (
        "import sys\n"
        "from aurumplan.catalog import load_catalog\n"
        "from aurumplan.compile.graph import build_graph\n"
        "from aurumplan.intervals import IntervalSet, parse_ts\n"
        "assert 'aurumplan.sources.registry' not in sys.modules\n"
        "t = parse_ts('2020-01-01')\n"
        "g = build_graph(load_catalog().source('eia'), {'ELEC.DEMAND': {'PJM': IntervalSet([(t, t + 86400)])}})\n"
        "print(g.nodes['ELEC.DEMAND/extract/00000']['request']['url'])\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("/electricity/rto/region-data/data/")


def test_an_unknown_driver_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match="unknown driver 'nope'"):
        planner_for("nope")
