"""The typed plan (plan/model.py): every shipped example's plan decodes and encodes back to the same
bytes, and a plan of the wrong shape is one clear error naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aurumplan import api
from aurumplan.errors import PlanError
from aurumplan.plan.builder import seal
from aurumplan.plan.model import ExtractNode, Plan, decode
from aurumplan.plan.planfile import read_plan

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPECS = sorted(p for p in EXAMPLES.glob("*.yaml") if p.name != "aurumplan.yaml")


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_example_plans_round_trip_byte_for_byte(spec: Path, tmp_path: Path) -> None:
    ctx = api.context(EXAMPLES / "aurumplan.yaml", EXAMPLES)
    planned = api.plan(spec, ctx)
    text = planned.text
    plan = decode(json.loads(text), spec.name)
    assert isinstance(plan, Plan)
    again = plan.to_dict()
    again.pop("plan_id")
    assert seal(again) == text
    nodes = [n for n in plan.graph.nodes if isinstance(n, ExtractNode)]
    assert all(n.window[0] < n.window[1] for n in nodes)


def test_wrong_shape_is_one_clear_error(tmp_path: Path) -> None:
    ctx = api.context(EXAMPLES / "aurumplan.yaml", EXAMPLES)
    data = json.loads(api.plan(EXAMPLES / "quickstart.yaml", ctx).text)
    for edit, field in ((lambda d: d.pop("graph"), "graph"),
                        (lambda d: d["settings"].update(concurrency=-5), "settings.concurrency"),
                        (lambda d: d["graph"]["nodes"][0].update(kind="explode"), "graph.nodes.0")):
        bad = json.loads(json.dumps(data))
        edit(bad)
        bad.pop("plan_id")
        path = tmp_path / "bad.json"
        path.write_text(seal(bad))
        with pytest.raises(PlanError) as err:
            read_plan(path)
        assert f"not a valid plan: {field}" in str(err.value), str(err.value)
