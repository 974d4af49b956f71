"""`report`: an operation's figures, its quality gate, and before/after of a replay, in three formats."""

from __future__ import annotations

import json

from aurumplan.state import open_state
from tests.quality_cli.conftest import BACKFILL, REPLAY, ROUTE, Project

PERIOD = "2024-01-02T05:00Z"


def test_backfill_report_figures_and_formats(backfilled: tuple[Project, str]) -> None:
    project, op = backfilled
    data = project.json("report", op, "--json")
    fig = data["figures"]
    assert data["operation"]["id"] == op and data["operation"]["kind"] == "Backfill"
    assert (fig["records"], fig["requests"], fig["throttles"], fig["retries"]) == (216, 1, 0, 0)
    assert fig["periods"] == {"loaded": 216, "failed": 0, "skipped": 0} and fig["failures"] == []
    assert fig["duration_seconds"] > 0 and data["performance"]["records_per_second"] > 0
    assert data["performance"]["vs_estimate"]["records"] == {"estimated": 216, "actual": 216}
    (gate,) = data["quality"]
    assert (gate["dataset"], gate["passed"], gate["decision"], gate["threshold"]) == ("ELEC.DEMAND", True, "pass", 0.5)
    assert set(gate["checks"]) == {"completeness", "accuracy", "consistency", "schema"}
    assert [(x["dataset"], x["records"], x["status"]) for x in data["loads"]] == [
        ("ELEC.DEMAND", 216, {"committed": 1})]
    assert data["comparison"] is None
    code, md, _ = project.run("report", op)
    assert code == 0 and md.startswith(f"# Backfill {op}: succeeded\n")
    assert "| periods loaded | 216 |" in md and "| records | 216 |" in md and "Before and after" not in md
    code, out, _ = project.run("report", op, "-o", str(project.root / "r.md"))
    assert out == f"Wrote the markdown report of {op} to {project.root / 'r.md'}.\n"
    assert code == 0 and (project.root / "r.md").read_text() == md
    assert project.run("report", op, "--format", "json")[1] == project.run("report", op, "--json")[1]


def test_replay_report_compares_before_and_after_then_survives_rollback(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    old = project.server.data.value("eia", ROUTE, "PJM.D", PERIOD)
    project.revise("PJM", PERIOD, old + 1000)
    op = project.apply(REPLAY, start="2024-01-02", end="2024-01-02", threshold=0.5)
    data = project.json("report", op, "--json")
    assert data["figures"]["periods"]["loaded"] == 72 and data["figures"]["records"] == 72
    (c,) = data["comparison"]
    assert (c["dataset"], c["state"]) == ("ELEC.DEMAND", "committed")
    assert (c["changed"], c["added"], c["removed"], c["unchanged"]) == (1, 0, 0, 71)
    assert c["largest"] == [{"series_id": "PJM", "period": PERIOD, "before": old, "after": old + 1000, "diff": 1000}]
    assert c["per_series"]["PJM"]["changed"] == 1 and c["per_series"]["MISO"]["unchanged"] == 24
    assert set(c["scores"]) == {"completeness", "accuracy", "consistency", "schema", "quality"}
    assert c["scores"]["completeness"] == {"before": 1.0, "after": 1.0}
    code, md, _ = project.run("report", op, "--format", "markdown")
    assert "## Before and after" in md and "| PJM | 1 | 0 | 0 | 23 | 1,000 |" in md
    assert "Reason: fix <b>PJM</b> & co." in md
    code, out, _ = project.run("report", op, "-o", str(project.root / "reports" / "replay.html"))
    assert "Wrote the html report" in out
    page = (project.root / "reports" / "replay.html").read_text()  # the folder is created
    assert code == 0 and page.startswith("<!DOCTYPE html>") and "<h2>Before and after</h2>" in page
    assert "fix &lt;b&gt;PJM&lt;/b&gt; &amp; co" in page and "<b>PJM" not in page
    assert project.run("rollback", op, "--auto-approve")[0] == 0
    after = project.json("report", op, "--json")
    assert after["operation"]["status"] == "rolled_back"
    (c,) = after["comparison"]
    assert (c["state"], c["changed"], c["unchanged"]) == ("rolled_back", 1, 71)


def test_replay_halted_by_the_gate_reports_decision_and_staged_comparison(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    project.revise("PJM", PERIOD, 5_000_000)
    op = project.apply(REPLAY, start="2024-01-02", end="2024-01-02", threshold=0.999)
    data = project.json("report", op, "--json")
    assert data["operation"]["status"] == "halted"
    (gate,) = data["quality"]
    assert gate["passed"] is False and gate["decision"] == "halt"
    assert any("accuracy: PJM: 1 values above the maximum" in f for f in gate["findings"])
    assert data["loads"][0]["status"] == {"staged": 1}
    (c,) = data["comparison"]
    assert (c["state"], c["changed"]) == ("staged", 1) and c["largest"][0]["after"] == 5_000_000
    assert c["scores"]["accuracy"]["after"] < c["scores"]["accuracy"]["before"]
    md = project.run("report", op)[1]
    assert "| ELEC.DEMAND |" in md and "| **no** | halt |" in md.replace("\\", "") and "## Failures" in md


def test_unknown_operation(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    code, _, err = project.run("report", "BACKFILL_20990101_EIA_000000")
    assert code == 1 and "no operation BACKFILL_20990101_EIA_000000" in err and "Traceback" not in err


def test_running_operation_figures_come_from_its_checkpoints(project: Project) -> None:
    spec = project.root / "b.yaml"
    spec.write_text(BACKFILL.format(start="2024-01-01", end="2024-01-03"))
    assert project.run("plan", str(spec), "-o", str(project.root / "p.json"))[0] == 0
    plan = json.loads((project.root / "p.json").read_text())
    op = plan["operation"]["id"]
    (extract,) = [n["id"] for n in plan["graph"]["nodes"] if n["kind"] == "extract"]
    with open_state(project.db_url) as store:  # what a running (or killed) apply has recorded so far
        store.create_operation(op, "Backfill", "eia", status="running", plan=json.dumps(plan),
                               summary={"planned": plan["summary"], "estimates": plan["estimates"]})
        store.upsert_checkpoint(op, extract, status="staged", requests=3, records=200, bytes=999, attempts=2,
                                started_at=1000.0, finished_at=1004.0, detail={"throttles": 2, "retries": 1})
    data = project.json("report", op, "--json")
    fig = data["figures"]
    assert (fig["requests"], fig["records"], fig["bytes"], fig["throttles"], fig["retries"]) == (3, 200, 999, 2, 1)
    assert fig["periods"] == {"loaded": 0, "failed": 0, "skipped": 0} and fig["duration_seconds"] == 4.0
    assert fig["nodes"] == {"pending": 2, "staged": 1}
    assert data["performance"]["slowest_nodes"] == [
        {"node": extract, "seconds": 4.0, "requests": 3, "records": 200, "attempts": 2}]
    assert data["quality"] == [] and data["comparison"] is None
