"""Quality profiles (aurumplan.yaml) and validation scripts (a spec's own checks) as a user runs them.

Each test works on a copy of examples/ (offline recordings): quickstart.yaml loads a week of demand,
then a Replay of that week is judged by the profile it names and the scripts it lists.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from aurumplan.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SPEC = """\
apiVersion: aurumplan/v1
kind: Replay
metadata: {name: judged-week, reason: "Judge the quickstart week"}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {start: 2024-01-01, end: 2024-01-07}
  type: quality_improvement
{extra}"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in [v for v in __import__("os").environ if v.startswith("AURUMPLAN_")]:
        monkeypatch.delenv(var)
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns(".aurumplan"))
    monkeypatch.chdir(dest)
    return dest


def run(project: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--config", str(project / "aurumplan.yaml"), *args], catch_exceptions=False)
    return res.exit_code, res.stdout + res.stderr


def set_profiles(project: Path, profiles: dict[str, Any]) -> None:
    yaml = YAML()
    cfg = yaml.load((project / "aurumplan.yaml").read_text())
    cfg["quality_profiles"] = profiles
    with (project / "aurumplan.yaml").open("w") as fh:
        yaml.dump(cfg, fh)


def write(project: Path, extra: str, name: str = "judged.yaml") -> Path:
    path = project / name
    path.write_text(SPEC.replace("{extra}", extra))
    return path


def write_check(project: Path, rel: str, body: str) -> None:
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


def planned_validation(project: Path, spec: Path) -> dict[str, Any]:
    code, out = run(project, "plan", str(spec), "--json")
    assert code == 0, out
    validation: dict[str, Any] = json.loads(out)["settings"]["validation"]
    return validation


def gate(project: Path) -> dict[str, Any]:
    code, out = run(project, "ops", "list", "--json")
    op = [o for o in json.loads(out) if o["kind"] == "Replay"][-1]
    code, out = run(project, "report", op["id"], "--format", "json")
    assert code == 0, out
    quality: list[dict[str, Any]] = json.loads(out)["quality"]
    assert len(quality) == 1
    return {**quality[0], "status": op["status"]}


def test_profile_selects_checks_threshold_and_params_and_the_spec_own_values_win(project: Path) -> None:
    set_profiles(project, {"strict": {"checks": ["completeness", "schema"], "threshold": 0.99,
                                      "weights": {"schema": 0.5}, "params": {"window_size": 48}}})
    v = planned_validation(project, write(project, "  qualityProfile: strict\n"))
    assert (v["checks"], v["threshold"], v["profile"]) == (["completeness", "schema"], 0.99, "strict")
    assert v["weights"] == {"schema": 0.5} and v["params"] == {"window_size": 48}
    own = write(project, "  qualityProfile: strict\n  validation: {threshold: 0.5}\n", "own.yaml")
    assert planned_validation(project, own)["threshold"] == 0.5
    assert "profile" not in planned_validation(project, write(project, "", "plain.yaml"))


def test_unknown_profile_is_an_error_at_its_position_for_validate_and_plan(project: Path) -> None:
    set_profiles(project, {"enhanced_validation": {"threshold": 0.97}})
    spec = write(project, "  qualityProfile: enhanced_validaton\n")
    line = spec.read_text().splitlines().index("  qualityProfile: enhanced_validaton") + 1
    for command in ("validate", "plan"):
        code, out = run(project, command, str(spec))
        assert code == 1
        assert re.search(rf"judged\.yaml:{line}:19: spec\.qualityProfile: unknown quality profile "
                         r"'enhanced_validaton'.*enhanced_validation", out), out
        assert "Traceback" not in out


def test_the_gate_judges_with_the_profile_and_the_report_names_it(project: Path) -> None:
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    # schema alone would pass; the profile adds a script check that scores 0 and weighs as much as schema
    write_check(project, "checks/never.py", "def check(data):\n    return 0.0\n")
    set_profiles(project, {"harsh": {"checks": ["schema"], "threshold": 0.6,
                                     "weights": {"schema": 1, "checks/never.py": 1}}})
    spec = write(project, "  qualityProfile: harsh\n  validation: {scripts: [checks/never.py]}\n")
    code, out = run(project, "apply", str(spec), "--auto-approve")
    assert code == 1, out
    q = gate(project)
    assert q["profile"] == "harsh" and q["threshold"] == 0.6
    assert q["score"] == pytest.approx(0.5) and q["checks"] == {"schema": 1.0, "checks/never.py": 0.0}
    assert q["status"] == "halted"
    code, out = run(project, "report", json.loads(run(project, "ops", "list", "--json")[1])[-1]["id"])
    assert "Judged by quality profile `harsh`" in out


def test_a_script_check_counts_in_the_score_with_its_findings(project: Path) -> None:
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    write_check(project, "checks/no_pjm.py", """\
from aurumplan.quality.scripts import ScriptData, ScriptFinding, ScriptResult


def check(data: ScriptData) -> ScriptResult:
    pjm = data.series["PJM"]
    return ScriptResult(2 / 3, [ScriptFinding("PJM", "PJM is not wanted", pjm.periods[:2])])
""")
    spec = write(project, "  validation: {checks: [completeness], threshold: 0.8, scripts: [checks/no_pjm.py]}\n")
    code, out = run(project, "apply", str(spec), "--auto-approve")
    assert code == 0, out
    q = gate(project)
    # completeness 1.0 (weight 0.4) and the script 2/3 (default weight: the mean built-in's, 0.4)
    assert q["score"] == pytest.approx((1 + 2 / 3) / 2)
    assert q["checks"]["checks/no_pjm.py"] == pytest.approx(2 / 3)
    assert any("checks/no_pjm.py: PJM: PJM is not wanted [2024-01-01T00:00Z..2024-01-01T02:00Z]" in f
               for f in q["findings"]), q["findings"]


@pytest.mark.parametrize(("body", "said"), [
    ("def check(data):\n    return 1 / 0\n", r"checks/bad\.py:2: raised ZeroDivisionError: division by zero"),
    ("def check(data):\n    return 'fine'\n", r"checks/bad\.py: check\(\) returned 'fine'; return a score in \[0, 1\]"),
    ("def check(data):\n    return 1.5\n", r"checks/bad\.py: check\(\) returned 1\.5"),
])
def test_a_failing_script_stops_the_gate_in_one_line_and_nothing_becomes_current(
        project: Path, body: str, said: str) -> None:
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    write_check(project, "checks/bad.py", body)
    spec = write(project, "  validation: {scripts: [checks/bad.py]}\n")
    code, out = run(project, "apply", str(spec), "--auto-approve")
    assert code == 1
    assert re.search("validation script " + said, out), out
    assert "Traceback" not in out
    code, listed = run(project, "ops", "list", "--json")
    assert [o["status"] for o in json.loads(listed)][-1] in ("failed", "halted")
    code, state = run(project, "state", "list", "--json")
    loads = [x for e in json.loads(state) if e["dataset"] == "ELEC.DEMAND" for x in e["loads"]]
    assert loads and all(x.startswith("BACKFILL_") for x in loads), loads


def test_a_script_outside_the_spec_folder_or_without_check_is_refused_at_its_position(project: Path) -> None:
    (project.parent / "elsewhere.py").write_text("def check(data):\n    return 1.0\n")
    write_check(project, "checks/nothing.py", "def other(data):\n    return 1.0\n")
    spec = write(project, "  validation:\n    scripts: [checks/nothing.py, ../elsewhere.py]\n")
    code, out = run(project, "validate", str(spec))
    assert code == 1
    text = "    scripts: [checks/nothing.py, ../elsewhere.py]"
    line, col = spec.read_text().splitlines().index(text) + 1, text.index("../") + 1
    assert re.search(rf"judged\.yaml:{line}:{col}: spec\.validation\.scripts: '\.\./elsewhere\.py' leads outside "
                     r"the spec's folder", out), out
    assert re.search(r"nothing\.py:1:1: must define check\(data: ScriptData\)", out), out
    assert "Traceback" not in out


def test_a_saved_plan_carries_its_profile_and_scripts_and_is_refused_once_the_profile_changes(
        project: Path) -> None:
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    code, out = run(project, "plan", "quality-profile.yaml", "-o", "saved.json")
    assert code == 0, out
    saved = json.loads((project / "saved.json").read_text())
    assert "def check(data: ScriptData)" in saved["spec"]["files"]["checks/demand_plausible.py"]["text"]
    cfg = (project / "aurumplan.yaml").read_text()
    (project / "aurumplan.yaml").write_text(cfg.replace("threshold: 0.97", "threshold: 0.9"))
    code, out = run(project, "apply", "saved.json", "--auto-approve")
    assert code == 1 and "settings differ" in out, out
    (project / "aurumplan.yaml").write_text(cfg)
    code, out = run(project, "apply", "saved.json", "--auto-approve")
    assert code == 0, out
    assert gate(project)["profile"] == "enhanced_validation"
