"""`--log-format json` and the per-operation action log that `aurumplan logs OP` reads back."""

from __future__ import annotations

import json
from pathlib import Path

from tests.apply.common import run
from tests.doubles.fakeapis import EiaServer
from tests.observe.conftest import spec

KEY = "test-key-abc"  # the project's EIA key (conftest): never in a log


def records(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def test_json_logs_and_the_action_log_of_an_apply(project: Path, server: EiaServer) -> None:
    server.fail_next(1, status=503)  # one node retries: still succeeds
    code, out, err = run(project, "--log-format", "json", "apply", spec(project), "--auto-approve")
    assert code == 0, out + err
    lines = records(err)
    assert lines and all(set(r) == {"ts", "level", "op_id", "node", "event", "fields"} for r in lines)
    op = json.loads(run(project, "ops", "list", "--json")[1])[0]["id"]
    assert {r["op_id"] for r in lines} == {op}
    nodes = [r for r in lines if r["event"] == "node"]
    assert {r["node"] for r in nodes} >= {"ELEC.DEMAND/extract/00000", "ELEC.DEMAND/commit"}
    finished = [r for r in lines if r["event"] == "finished"]
    assert len(finished) == 1 and finished[0]["fields"]["status"] == "succeeded"
    assert finished[0]["fields"]["outcomes"] == {"ok": server.requests - 1, "retried": 1}

    code, logged, _ = run(project, "logs", op, "--json")
    saved = records(logged)
    assert code == 0 and saved[0]["event"] == "started" and saved[0]["fields"]["command"] == "apply"
    # the file keeps every event but the per-batch progress counts (stderr has those once per interval)
    assert [(r["event"], r["node"]) for r in saved[1:]] == [(r["event"], r["node"]) for r in lines
                                                            if r["event"] != "progress"]
    assert (project / ".aurumplan" / "logs" / f"actions_{op}.jsonl").read_text().count("\n") == len(saved)
    code, text, _ = run(project, "logs", op)
    assert code == 0 and len(text.splitlines()) == len(saved)
    last = text.splitlines()[-1]
    assert " INFO    finished " in last and " status=succeeded" in last and not text.startswith("{")
    assert KEY not in err + logged + text


def test_human_logs_stay_the_default(project: Path) -> None:
    code, out, err = run(project, "apply", spec(project), "--auto-approve", "--progress-interval", "0")
    assert code == 0, out + err
    assert err and not any(x.startswith("{") for x in err.splitlines())


def test_a_failed_node_logs_an_error_with_the_key_masked(project: Path, server: EiaServer) -> None:
    server.fail_next(50, status=400)  # permanent: the node fails
    code, _, err = run(project, "--log-format", "json", "apply", spec(project), "--auto-approve")
    assert code != 0
    errors = [r for r in records(err) if r["level"] == "error"]
    assert errors and all(r["event"] == "node" and r["fields"]["status"] == "failed" for r in errors)
    op = json.loads(run(project, "ops", "list", "--json")[1])[0]["id"]
    saved = run(project, "logs", op, "--json")[1]
    assert '"level":"error"' in saved and KEY not in err + saved


def test_logs_of_an_operation_without_one_is_one_line(project: Path) -> None:
    code, _, err = run(project, "logs", "BACKFILL_20240101_EIA_abcdef")
    assert code == 1 and err.startswith("Error: no action log for operation") and len(err.splitlines()) == 1


def test_secrets_are_masked_in_records() -> None:
    from aurumplan.observe.actionlog import record

    rec = record("OP", "node", {"node": "n", "status": "failed", "error": f"GET x?api_key={KEY}: 500",
                                "detail": {"urls": [f"u?k={KEY}"]}}, secrets=[KEY])
    assert KEY not in json.dumps(rec) and rec["level"] == "error" and rec["fields"]["error"].count("***") == 1


def test_a_rollback_is_in_the_action_log(applied: Path) -> None:
    op = json.loads(run(applied, "ops", "list", "--json")[1])[0]["id"]
    code, out, err = run(applied, "rollback", op, "--auto-approve")
    assert code == 0, out + err
    saved = records(run(applied, "logs", op, "--json")[1])
    assert [r["event"] for r in saved][-2:] == ["started", "rolled_back"]
    assert saved[-2]["fields"] == {"command": "rollback", "mode": "controlled"}
    assert saved[-1]["op_id"] == op and saved[-1]["level"] == "info"
