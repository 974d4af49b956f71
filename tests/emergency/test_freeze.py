"""`aurumplan freeze`: set from another process it pauses a running apply and refuses new writes with its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurumplan.state import open_state
from aurumplan.warehouse import open_warehouse
from tests.apply.common import run
from tests.doubles.fakeapis import EiaServer, Synth
from tests.emergency.common import project, spec, staged, start, status, wait_for
from tests.emergency.test_stop import Background

REASON = "Upstream publishing bad values"


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=5), quota=None, until=1_900_000_000, delay=0.3) as srv:
        yield srv


def test_freeze_from_another_process_pauses_a_running_apply_and_refuses_writes(
        tmp_path: Path, db_url: str, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path / "p", db_url, server.base_url)
    store = open_state(db_url)
    code, out, err = run(proj, "apply", str(spec(proj, "early", "ERCO", last=2)), "--auto-approve", "--json")
    assert code == 0, out + err
    early = json.loads(out)["operation_id"]
    saved = tmp_path / "later.plan.json"
    code, out, err = run(proj, "plan", str(spec(proj, "later", "MISO", last=2)), "-o", str(saved))
    assert code == 0, out + err

    bg = Background(proj, spec(proj, "running", "CISO"))
    wait_for(lambda: staged(store, bg.op_id))
    frozen = start(proj, "freeze", "eia", "--reason", REASON)
    out, err = frozen.communicate(timeout=60)
    assert frozen.returncode == 0 and "Froze 'eia'" in out, out + err
    bg.thread.join(timeout=10)
    assert bg.result.status == "paused"
    [ev] = [e for e in store.events(bg.op_id) if e.kind == "freeze"]
    assert ev.detail["reason"] == REASON

    code, out, err = run(proj, "plan", str(spec(proj, "new", "PJM", last=2)))
    assert "! " in out and f"frozen: {REASON}" in out, out + err
    code, out, err = run(proj, "apply", str(spec(proj, "new", "PJM", last=2)), "--auto-approve")
    assert code == 1 and REASON in out + err
    code, out, err = run(proj, "apply", str(saved))  # planned before the freeze
    assert code == 1 and REASON in err and "aurumplan unfreeze eia" in err, out + err
    code, out, err = run(proj, "resume", bg.op_id)
    assert code == 1 and REASON in err, out + err
    assert status(store, bg.op_id) == "paused"
    code, out, err = run(proj, "freeze", "eia", "--reason", "again")
    assert code == 0 and "already frozen" in out and REASON in out
    code, out, err = run(proj, "rollback", early, "--auto-approve")  # undoing is still allowed
    assert code == 0, out + err

    code, out, err = run(proj, "unfreeze", "eia")
    assert code == 0 and f"aurumplan resume {bg.op_id}" in out, out + err
    code, out, err = run(proj, "resume", bg.op_id)
    assert code == 0, out + err
    assert open_warehouse(db_url).count_current("eia") == 20 * 24
    assert [e.kind for e in store.emergency_log("eia")] == ["freeze", "unfreeze"]
    code, out, err = run(proj, "unfreeze", "eia")
    assert code == 1 and "not frozen" in err


def test_config_frozen_still_blocks_plans(tmp_path: Path, server: EiaServer) -> None:
    proj = project(tmp_path / "p", f"sqlite:///{tmp_path / 'x.db'}", server.base_url)
    cfg = proj / "aurumplan.yaml"
    cfg.write_text(cfg.read_text() + "    frozen: true\n")
    code, _, err = run(proj, "plan", str(spec(proj, "x", "PJM", last=2)), "--json")
    assert code == 1 and "frozen (frozen: true in aurumplan.yaml)" in err
