"""Rendering: Markdown a reviewer reads and JSON a script parses."""

from __future__ import annotations

import json

from aurumplan.catalog import Catalog
from aurumplan.quality import evaluate, quality_to_dict, render_quality_markdown
from tests.quality.conftest import H, Warehouse, hours

T0 = 1_704_067_200  # 2024-01-01T00:00Z


def test_markdown_and_json_of_a_failing_dataset(wh: Warehouse, catalog: Catalog) -> None:
    rows = hours("PJM", "2024-01-01", 20, 90_000.0)
    rows[3] = ("PJM", rows[3][1], -1.0)
    wh.load("a", "ELEC.DEMAND", rows)
    with wh.connect() as conn:
        q = evaluate(conn, catalog, "eia", "ELEC.DEMAND", (T0, T0 + 24 * H), series=["PJM"])
    md = render_quality_markdown([q], threshold=0.95)
    assert "Threshold 95.00%: **FAILED**" in md
    assert "| ELEC.DEMAND | 2024-01-01T00:00Z – 2024-01-02T00:00Z |" in md
    assert "- completeness: PJM: 4 of 24 periods missing [2024-01-01T20:00Z..2024-01-02T00:00Z]" in md
    assert "- accuracy: PJM: 1 values below the minimum 0.0" in md
    data = json.loads(json.dumps(quality_to_dict([q], threshold=0.95)))
    (ds,) = data["datasets"]
    assert data["passed"] is False and ds["passed"] is False
    assert ds["checks"]["completeness"]["findings"][0]["periods"] == [["2024-01-01T20:00Z", "2024-01-02T00:00Z"]]
    assert ds["score"] == round(q.score, 6)
