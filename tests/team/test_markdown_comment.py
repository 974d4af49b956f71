"""`show PLAN... --format markdown`: the pull-request comment reviewers read, within GitHub's size limit."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aurumplan.plan.builder import plan_hash
from tests.team.common import EXAMPLES, run

GITHUB_LIMIT = 65_536


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "aurumplan.yaml").write_text((EXAMPLES / "aurumplan.yaml").read_text().replace(
        "recordings/", str(EXAMPLES / "recordings") + "/"))
    for spec in ("quickstart.yaml", "backfill-fred.yaml"):
        (tmp_path / spec).write_text((EXAMPLES / spec).read_text())
    return tmp_path


def saved_plan(project: Path, spec: str) -> Path:
    out = project / spec.replace(".yaml", ".json")
    code, _, err = run(project, "plan", spec, "-o", str(out))
    assert code == 0, err
    return out


def with_conflict(plan: dict[str, Any], dataset: int = 0) -> dict[str, Any]:
    """The same plan with one range refused, as a running operation's lease makes it."""
    plan = copy.deepcopy(plan)
    ds = plan["datasets"][dataset]
    first = ds["actions"][0]
    ds["actions"].insert(0, {"action": "conflict", "series": first["series"][:1], "intervals": first["intervals"],
                             "periods": 24, "reason": "held by running operation BACKFILL_X"})
    ds["counts"]["conflict"] += 24
    plan["summary"]["conflict"] += 24
    plan["plan_id"] = plan_hash(plan)
    return plan


def comment(project: Path, *plans: Path) -> str:
    code, out, err = run(project, "show", *map(str, plans), "--format", "markdown")
    assert code == 0, err
    return out


def test_small_plans_comment_in_full_conflicts_first(project: Path) -> None:
    fred = saved_plan(project, "backfill-fred.yaml")
    quick = project / "quick-conflict.json"
    quick.write_text(json.dumps(with_conflict(json.loads(saved_plan(project, "quickstart.yaml").read_text()))))
    text = comment(project, fred, quick)
    assert text.startswith("<!-- aurumplan-plan -->\n## aurumplan plan: 2 plan(s), 2 with changes, 1 with conflicts")
    conflicts = text.index("#### Conflicts")
    table = text.index("| | spec | operation |")
    assert conflicts < table
    assert "`quickstart.yaml` ELEC.DEMAND ERCO 2024-01-01T00:00Z .. 2024-01-08T00:00Z: held by running operation" \
           in text
    rows = [line for line in text[table:].splitlines() if line.startswith("| ! ") or line.startswith("| ~ ")]
    assert rows[0].startswith("| ! | `quickstart.yaml`") and rows[1].startswith("| ~ | `backfill-fred.yaml`")
    assert text.count("<details>") == 3  # ELEC.DEMAND, CPIAUCSL, UNRATE
    assert "> Try aurumplan on one week of EIA demand" in text                      # the spec's reason
    assert "| + | ERCO, MISO, PJM | 2024-01-01T00:00Z .. 2024-01-08T00:00Z | 504 | gap in window |" in text
    assert "Estimates: 2 requests at 1.5 req/s, 240 records" in text
    assert "Summarised" not in text


def big_plan(source: dict[str, Any], datasets: int, series: int) -> dict[str, Any]:
    plan = copy.deepcopy(source)
    template = plan["datasets"][0]
    names = [f"S{i:04d}" for i in range(series)]
    plan["datasets"] = []
    for i in range(datasets):
        ds = copy.deepcopy(template)
        ds["dataset"] = f"ELEC.DEMAND.SUBREGION.{i:04d}"
        for a in ds["actions"]:
            a["series"] = names
        plan["datasets"].append(ds)
    plan["plan_id"] = plan_hash(plan)
    return plan


def test_thousand_dataset_plan_is_summarised_under_the_limit(project: Path) -> None:
    quick = json.loads(saved_plan(project, "quickstart.yaml").read_text())
    big = with_conflict(big_plan(quick, 1000, 12), dataset=999)
    path = project / "big.json"
    path.write_text(json.dumps(big))
    text = comment(project, path)
    assert len(text) <= GITHUB_LIMIT
    assert text.index("ELEC.DEMAND.SUBREGION.0999 S0000") < text.index("| | spec | operation |")
    assert "_Details of 1 plan(s) summarised to fit a comment._" in text
    assert "<details>" not in text
    assert "Estimates: 1 requests at 2 req/s, 504 records" in text and "> Try aurumplan on one week" in text
    rows = re.findall(r"^\| `quickstart.yaml` \| ELEC\.DEMAND\.SUBREGION\.\d{4} \|", text, flags=re.M)
    assert 100 < len(rows) < 1000
    assert rows[0].startswith("| `quickstart.yaml` | ELEC.DEMAND.SUBREGION.0999 |")  # the conflicting one first
    assert f"… and {1000 - len(rows)} more dataset(s)." in text


def test_many_plans_with_many_conflicts_still_fit(project: Path) -> None:
    quick = json.loads(saved_plan(project, "quickstart.yaml").read_text())
    paths = []
    for i in range(300):
        p = project / f"p{i:03d}.json"
        plan = with_conflict(big_plan(quick, 3, 400))
        plan["spec"]["file"] = f"plans/a-rather-long-folder-name/spec-number-{i:03d}.yaml"
        plan["plan_id"] = plan_hash(plan)
        p.write_text(json.dumps(plan))
        paths.append(p)
    text = comment(project, *paths)
    assert len(text) <= GITHUB_LIMIT
    assert "more conflict(s)" in text and "more plan(s)" in text
    assert "_Summarised to fit a comment._" in text


def test_full_text_view_lists_every_series(project: Path) -> None:
    quick = json.loads(saved_plan(project, "quickstart.yaml").read_text())
    path = project / "wide.json"
    path.write_text(json.dumps(big_plan(quick, 1, 12)))
    _, short, _ = run(project, "show", str(path))
    assert "S0000,S0001,S0002,S0003,S0004,S0005,+6" in short
    code, full, _ = run(project, "show", str(path), "--full")
    assert code == 0
    assert ",".join(f"S{i:04d}" for i in range(12)) in full
    assert full.splitlines()[-1] == short.splitlines()[-1]
