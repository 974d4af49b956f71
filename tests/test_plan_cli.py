"""Planning as a user runs it: the CLI, the plan file, staleness inputs, gaps, graphs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurumplan.cli.main import cli
from aurumplan.intervals import IntervalSet, parse_ts
from aurumplan.state import WatermarkRef, open_state

ROOT = Path(__file__).resolve().parents[1]

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: t-backfill}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {start: 2024-01-01, end: 2024-01-31}
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "aurumplan.yaml").write_text(
        "state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path


def run(project: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--config", str(project / "aurumplan.yaml"), *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def loaded(project: Path, series: str, start: str, end: str, load: str = "L1", op: str = "OP1") -> None:
    store = open_state(f"sqlite:///{project / 'state.db'}")
    store.set_watermarks("eia", "ELEC.DEMAND", series, IntervalSet([(parse_ts(start), parse_ts(end))]),
                         WatermarkRef(load, op, "c0", "v1"), 10)


def test_plan_is_deterministic_and_detailed_exitcode(project: Path) -> None:
    code, out, _ = run(project, "plan", str(project / "spec.yaml"), "-o", str(project / "a.json"),
                       "--detailed-exitcode")
    assert code == 2
    assert "Plan: 2232 periods to create, 0 to replace, 0 unchanged." in out
    run(project, "plan", str(project / "spec.yaml"), "-o", str(project / "b.json"))
    assert (project / "a.json").read_bytes() == (project / "b.json").read_bytes()
    plan = json.loads((project / "a.json").read_text())
    assert plan["estimates"]["requests"] == 1  # 744 hours x 3 series = 2232 rows: one 5000-row page
    assert plan["operation"]["id"].startswith("BACKFILL_20240131_EIA_")


def test_touched_range_changes_plan_untouched_does_not(project: Path) -> None:
    run(project, "plan", str(project / "spec.yaml"), "-o", str(project / "a.json"))
    loaded(project, "PJM", "2023-06-01", "2023-07-01")  # outside the window
    loaded(project, "CISO", "2024-01-01", "2024-01-10")  # a series the spec does not select
    run(project, "plan", str(project / "spec.yaml"), "-o", str(project / "b.json"))
    assert (project / "a.json").read_bytes() == (project / "b.json").read_bytes()
    loaded(project, "PJM", "2024-01-05", "2024-01-06")
    _code, out, _ = run(project, "plan", str(project / "spec.yaml"), "-o", str(project / "c.json"))
    assert (project / "a.json").read_bytes() != (project / "c.json").read_bytes()
    assert "24 unchanged" in out
    a, c = (json.loads((project / f).read_text()) for f in ("a.json", "c.json"))
    assert a["fingerprints"]["ELEC.DEMAND|MISO"] == c["fingerprints"]["ELEC.DEMAND|MISO"]
    assert a["fingerprints"]["ELEC.DEMAND|PJM"] != c["fingerprints"]["ELEC.DEMAND|PJM"]


def test_no_changes_exit_zero(project: Path) -> None:
    for sid in ("PJM", "MISO", "ERCO"):
        loaded(project, sid, "2024-01-01", "2024-02-01")
    code, out, _ = run(project, "plan", str(project / "spec.yaml"), "--detailed-exitcode")
    assert code == 0
    assert "0 periods to create" in out and "2232 unchanged" in out


def test_show_json_is_the_artifact_and_tamper_is_refused(project: Path) -> None:
    run(project, "plan", str(project / "spec.yaml"), "-o", str(project / "a.json"))
    code, out, _ = run(project, "show", str(project / "a.json"), "--json")
    assert code == 0 and json.loads(out) == json.loads((project / "a.json").read_text())
    code, out, _ = run(project, "show", str(project / "a.json"))
    assert "+ ERCO,MISO,PJM" in out
    data = json.loads((project / "a.json").read_text())
    data["estimates"]["requests"] = 0
    (project / "a.json").write_text(json.dumps(data))
    code, _, err = run(project, "show", str(project / "a.json"))
    assert code == 1 and "modified after it was written" in err and "Traceback" not in err


def test_plan_file_has_no_secret(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "sekret-key-123")
    run(project, "plan", str(project / "spec.yaml"), "-o", str(project / "a.json"))
    text = (project / "a.json").read_text()
    assert "sekret-key-123" not in text and "EIA_API_KEY" in text


def test_gaps_groups_series_with_same_gaps(project: Path) -> None:
    for sid in ("PJM", "MISO"):
        loaded(project, sid, "2024-01-01", "2024-01-10")
    _code, out, _ = run(project, "gaps", "--source", "eia", "--dataset", "ELEC.DEMAND",
                       "--window", "2024-01-01:2024-01-31", "--json")
    rows = json.loads(out)
    by_series = {tuple(r["series"]): r for r in rows}
    assert by_series[("MISO", "PJM")]["intervals"] == [["2024-01-10T00:00Z", "2024-02-01T00:00Z"]]
    assert by_series[("MISO", "PJM")]["periods"] == 22 * 24
    all_missing = next(r for r in rows if "ERCO" in r["series"])
    assert all_missing["periods"] == 31 * 24 and "PJM" not in all_missing["series"]


def test_graph_formats(project: Path) -> None:
    code, out, _ = run(project, "graph", str(project / "spec.yaml"), "--format", "mermaid")
    assert code == 0 and out.startswith("flowchart LR") and "ELEC.DEMAND/commit" in out
    code, out, _ = run(project, "graph", str(project / "spec.yaml"), "--format", "json")
    g = json.loads(out)
    assert [n["kind"] for n in g["nodes"]] == ["extract", "validate", "commit"]


def test_replay_replaces_loaded_and_reports_missing(project: Path) -> None:
    loaded(project, "PJM", "2024-01-10", "2024-01-12", load="OLD", op="BACKFILL_X")
    (project / "replay.yaml").write_text(
        "apiVersion: aurumplan/v1\nkind: Replay\nmetadata: {name: r, reason: fix}\nspec:\n  source: eia\n"
        "  datasets: [ELEC.DEMAND]\n  series: [PJM]\n  window: {start: 2024-01-10, end: 2024-01-12}\n")
    _code, out, _ = run(project, "plan", str(project / "replay.yaml"), "--json")
    plan = json.loads(out)
    actions = {a["action"]: a for a in plan["datasets"][0]["actions"]}
    assert actions["replace"]["load_id"] == "OLD" and actions["replace"]["periods"] == 48
    assert actions["missing"]["periods"] == 24
    assert plan["summary"]["create"] == 0
    cascade = [d for d in plan["datasets"] if d["dataset"] == "ELEC.DEMAND.DAILY"]
    assert cascade and cascade[0]["cascade_from"] == "ELEC.DEMAND"


def test_reprocess_hours_dst_day(project: Path) -> None:
    (project / "rp.yaml").write_text(
        "apiVersion: aurumplan/v1\nkind: Reprocess\nmetadata: {name: r, reason: fix}\nspec:\n  source: iso\n"
        "  series: [BC]\n  timezone: America/New_York\n  date: 2024-11-03\n  hours: [0, 1, 2]\n")
    _code, out, _ = run(project, "plan", str(project / "rp.yaml"), "--json")
    plan = json.loads(out)
    create = plan["datasets"][0]["actions"][0]
    # local 00:00-03:00 on the fall-back day is 4 UTC hours (01:00 happens twice)
    assert create["intervals"] == [["2024-11-03T04:00Z", "2024-11-03T08:00Z"]]
    assert create["periods"] == 4
    assert "selected hours 0-2" in create["reason"]


def test_bad_spec_exit_1_located_no_traceback(project: Path) -> None:
    (project / "bad.yaml").write_text(SPEC.replace("window:", "windwo:"))
    code, _, err = run(project, "plan", str(project / "bad.yaml"))
    assert code == 1 and "Traceback" not in err
    assert f"{project / 'bad.yaml'}:8:3: unknown key 'windwo'" in err


def test_every_example_and_plan_validates_and_plans(project: Path) -> None:
    specs = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "plans").glob("*.yaml"))
    specs = [s for s in specs if s.name != "aurumplan.yaml"]
    assert len(specs) >= 8
    examples_cfg = (ROOT / "examples" / "aurumplan.yaml").read_text()  # quality-profile.yaml names its profile
    with (project / "aurumplan.yaml").open("a") as fh:
        fh.write(examples_cfg[examples_cfg.index("quality_profiles:"):])
    code, _, err = run(project, "validate", *map(str, specs))
    assert code == 0, err
    for spec in specs:
        code, _out, err = run(project, "plan", str(spec))
        assert code == 0, f"{spec}: {err}"



def test_quotas_validate(project: Path) -> None:
    code, out, _ = run(project, "quotas", "validate", "--format", "json")
    reports = {r["source"]: r for r in json.loads(out)}
    assert code == 0 and reports["eia"]["effective_rate"] == pytest.approx(2.0)
    (project / "aurumplan.yaml").write_text(
        "state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\nsources:\n  eia:\n    headroom: 0.3\n")
    code, _, err = run(project, "quotas", "validate")
    assert code == 1 and "headroom" in err


def test_refresh_from_reports_only_changed_ranges(project: Path) -> None:
    run(project, "plan", str(project / "spec.yaml"), "-o", str(project / "a.json"))
    loaded(project, "PJM", "2024-01-05", "2024-01-06", op="BACKFILL_OTHER_X")
    loaded(project, "CISO", "2024-01-05", "2024-01-06")  # not in the plan
    code, out, _ = run(project, "plan", str(project / "spec.yaml"), "--refresh-from", str(project / "a.json"),
                       "-o", str(project / "b.json"))
    assert code == 0
    changed = [line for line in out.splitlines() if "changed since the saved plan" in line]
    assert len(changed) == 1 and "PJM" in changed[0] and "BACKFILL_OTHER_X" in changed[0]
    a, b = (json.loads((project / f).read_text()) for f in ("a.json", "b.json"))
    assert a["fingerprints"]["ELEC.DEMAND|MISO"] == b["fingerprints"]["ELEC.DEMAND|MISO"]
    assert b["summary"]["unchanged"] == 24


@pytest.mark.parametrize("args", [("status",), ("ops", "list"), ("report", "BACKFILL_20240131_EIA_000000"),
                                  ("state", "list"), ("gaps", "--source", "eia")])
def test_read_commands_refuse_a_state_that_is_not_there(project: Path, args: tuple[str, ...]) -> None:
    """A typo in the state URL must not read as "nothing loaded, nothing running"; nothing is created."""
    code, out, err = run(project, *args)
    assert code == 1, out + err
    assert f"no state at sqlite:///{project / 'state.db'}" in err or "no state at sqlite:///state.db" in err, err
    assert "aurumplan init" in err and "Traceback" not in err
    assert not (project / "state.db").exists()
    code, out, err = run(project, "plan", str(project / "spec.yaml"))  # a first plan: no state yet, reads as empty
    assert code == 0, out + err
    assert not (project / "state.db").exists()


def test_windows_outside_what_the_source_publishes_are_clipped_with_a_warning(project: Path) -> None:
    """Before the catalog's available_from (EIA-930 starts 2015-07-01) and after now nothing is published:
    the plan asks for neither and says so."""
    (project / "edges.yaml").write_text(SPEC.replace("series: [PJM, MISO, ERCO]", "series: [PJM]").replace(
        "window: {start: 2024-01-01, end: 2024-01-31}", "window: {start: 2015-06-01, end: 2099-12-31}"))
    code, out, err = run(project, "plan", str(project / "edges.yaml"), "--json")
    assert code == 0, out + err
    plan = json.loads(out)
    [warning] = [w for w in plan["warnings"] if "clipped" in w]
    assert "ELEC.DEMAND" in warning and "2015-07-01" in warning
    [action] = plan["datasets"][0]["actions"]
    start, end = IntervalSet.from_json(action["intervals"]).span or (0, 0)
    assert start == parse_ts("2015-07-01")
    assert parse_ts("2026-01-01") < end <= time.time()
    code, out, err = run(project, "plan", str(project / "edges.yaml"))
    assert "Warning: ELEC.DEMAND: window clipped" in out + err
