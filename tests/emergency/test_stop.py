"""`aurumplan stop`: every active operation stops at a checkpoint, from another process, and resumes whole."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aurumplan import api
from aurumplan.apply import emergency
from aurumplan.state import open_state
from aurumplan.warehouse import open_warehouse
from tests.apply.common import run
from tests.doubles.fakeapis import EiaServer, Synth
from tests.emergency.common import project, spec, staged, start, status, wait_for

SEED = 21


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=SEED), quota=None, until=1_900_000_000, delay=0.4) as srv:
        yield srv


class Background:
    """api.apply_plan of a spec in a thread of this process."""

    def __init__(self, proj: Path, spec_path: Path) -> None:
        self.ctx = api.context(proj / "aurumplan.yaml", proj)
        self.plan = api.plan(spec_path, self.ctx).plan
        self.op_id: str = self.plan["operation"]["id"]
        self.result: Any = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.result = api.apply_plan(self.plan, self.ctx)


def reference_checksum(tmp_path: Path, specs: list[tuple[str, str]]) -> str:
    """observations_current of an uninterrupted run of the same specs (fast server, same data)."""
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    with EiaServer(data=Synth(seed=SEED), quota=None, until=1_900_000_000) as fast:
        ref = project(tmp_path / "ref", url, fast.base_url)
        for name, series in specs:
            code, out, err = run(ref, "apply", str(spec(ref, name, series)), "--auto-approve")
            assert code == 0, out + err
    return open_warehouse(url).current_checksum("eia")


def test_stop_all_stops_three_applies_in_two_processes_and_resume_finishes_them(
        tmp_path: Path, db_url: str, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path / "p", db_url, server.base_url)
    store = open_state(db_url)
    other = start(proj, "apply", str(spec(proj, "one", "CISO")), "--auto-approve")
    threads = [Background(proj, spec(proj, "two", "ERCO")), Background(proj, spec(proj, "three", "PJM"))]
    wait_for(lambda: len(store.list_operations()) == 3)
    ids = [o.id for o in store.list_operations()]
    wait_for(lambda: all(staged(store, i) for i in ids))
    t0 = time.monotonic()
    assert all(status(store, i) == "running" for i in ids)
    code, out, err = run(proj, "stop", "--all", "--reason", "Data corruption detected")
    assert code == 0, out + err
    for i in ids:
        assert f"paused {i}" in out and f"aurumplan resume {i}" in out, [(e.kind, e.detail) for e in store.events(i)]
    _, other_err = other.communicate(timeout=30)
    for t in threads:
        t.thread.join(timeout=30)
    assert time.monotonic() - t0 < 5.0
    assert other.returncode == 1 and [t.result.status for t in threads] == ["paused", "paused"], other_err
    for i in ids:
        assert status(store, i) == "paused"
        assert any(c.status in ("pending", "failed") for c in store.checkpoints(i))  # stopped part-way
        [ev] = [e for e in store.events(i) if e.kind == "stop"]
        assert ev.detail["reason"] == "Data corruption detected" and "pid" in ev.detail["by"]
    code, out, err = run(proj, "stop", "--all", "--reason", "Data corruption detected")  # twice: no change
    assert code == 0 and out.count("already paused") == 3, out + err
    assert all(len([e for e in store.events(i) if e.kind == "stop"]) == 1 for i in ids)
    for i in ids:
        code, out, err = run(proj, "resume", i)
        assert code == 0, out + err
    expected = reference_checksum(tmp_path, [("one", "CISO"), ("two", "ERCO"), ("three", "PJM")])
    assert open_warehouse(db_url).current_checksum("eia") == expected


def test_high_priority_keeps_running_unless_include_critical(tmp_path: Path, db_url: str, server: EiaServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path / "p", db_url, server.base_url)
    store = open_state(db_url)
    high = Background(proj, spec(proj, "critical", "PJM", priority="high"))
    wait_for(lambda: staged(store, high.op_id))
    code, out, err = run(proj, "stop", "--source", "eia", "--reason", "bad upstream", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["stopped"] == [] and [k["operation_id"] for k in res["kept"]] == [high.op_id]
    time.sleep(1.0)  # its watcher polled the stop record several times meanwhile
    assert status(store, high.op_id) == "running"
    code, out, err = run(proj, "stop", "--source", "eia", "--reason", "worse", "--include-critical")
    assert code == 0 and f"paused {high.op_id}" in out, out + err
    high.thread.join(timeout=10)
    assert high.result.status == "paused"


def test_an_apply_starting_right_after_a_stop_is_stopped_too(tmp_path: Path, db_url: str, server: EiaServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path / "p", db_url, server.base_url)
    code, out, err = run(proj, "stop", "--all", "--reason", "incident 42")
    assert code == 0 and "no active operations" in out, out + err
    late = Background(proj, spec(proj, "late", "CISO"))
    late.thread.join(timeout=30)
    assert late.result.status == "paused"
    [ev] = [e for e in open_state(db_url).events(late.op_id) if e.kind == "stop"]
    assert ev.detail["reason"] == "incident 42"
    code, out, err = run(proj, "resume", late.op_id)  # an explicit resume after the stop is not stopped again
    assert code == 0, out + err

    monkeypatch.setattr(emergency, "STOP_GRACE", 0.0)  # an apply started after the grace runs normally
    later = Background(proj, spec(proj, "later", "ERCO", last=2))
    later.thread.join(timeout=30)
    assert later.result.status == "succeeded"


def test_stop_cancel_discards_staged_data(tmp_path: Path, db_url: str, server: EiaServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path / "p", db_url, server.base_url)
    store = open_state(db_url)
    bg = Background(proj, spec(proj, "doomed", "CISO"))
    wait_for(lambda: staged(store, bg.op_id))
    code, out, err = run(proj, "stop", "--source", "eia", "--reason", "wrong window", "--cancel")
    assert code == 0 and f"cancelled {bg.op_id}" in out and "next attempt" in out, out + err
    bg.thread.join(timeout=10)
    assert bg.result.status == "cancelled"
    assert all(ld.status != "staged" for ld in open_warehouse(db_url).loads_for_operation(bg.op_id))
    assert open_warehouse(db_url).count_current("eia") == 0


def test_stop_needs_one_scope_and_a_known_source(tmp_path: Path, server: EiaServer) -> None:
    proj = project(tmp_path / "p", f"sqlite:///{tmp_path / 'x.db'}", server.base_url)
    code, _, err = run(proj, "stop", "--reason", "r")
    assert code == 2 and "exactly one of --all or --source" in err
    code, _, err = run(proj, "stop", "--source", "nope", "--reason", "r")
    assert code == 1 and "nope" in err
