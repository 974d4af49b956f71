"""`health`: healthy, and each failure on its own line with exit 1; keys and passwords never shown."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from aurumplan.state import open_state
from tests.apply.common import run
from tests.doubles.fakeapis import EiaServer
from tests.observe.conftest import free_port, write_project

KEY = "test-key-abc"


def checks(project: Path, *args: str) -> tuple[int, dict[str, dict]]:
    code, out, err = run(project, "health", "--json", *args)
    data = json.loads(out)
    assert data["ok"] is (code == 0), err
    assert KEY not in out + err
    return code, {c["name"]: c for c in data["checks"]}


def test_healthy(applied: Path, server: EiaServer) -> None:
    before = server.requests
    code, c = checks(applied)
    assert code == 0
    assert set(c) == {"state", "warehouse", "source eia", "quota eia", "leases", "operations"}
    assert c["source eia"]["detail"].startswith("reachable, key accepted")
    assert server.requests == before + 1
    assert c["quota eia"]["detail"] == "4998 of 5000 requests left today (2 used in the last 24h)"
    code, out, _ = run(applied, "health")
    assert code == 0 and out.splitlines()[0].startswith("ok    state")


def test_offline_sends_nothing(applied: Path, server: EiaServer) -> None:
    before = server.requests
    code, c = checks(applied, "--offline")
    assert code == 0 and "source eia" not in c and server.requests == before


def test_state_down_and_password_masked(tmp_path: Path, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", KEY)
    p = write_project(tmp_path, server.base_url, state=f"postgresql+psycopg://u:hunter2@127.0.0.1:{free_port()}/x")
    code, out, err = run(p, "health")
    assert code == 1 and "hunter2" not in out + err
    line = next(x for x in out.splitlines() if " state " in x)
    assert line.startswith("DOWN") and "127.0.0.1" in line
    assert "source eia" in out  # the other checks still ran


def test_missing_state_is_down(tmp_path: Path, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", KEY)
    p = write_project(tmp_path, server.base_url)
    code, c = checks(p, "--offline")
    assert code == 1 and not c["state"]["ok"] and "no aurumplan state" in c["state"]["detail"]
    assert c["warehouse"]["ok"]


def test_wrong_key(applied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "wrong-key-xyz")
    code, out, _ = run(applied, "health", "--json")
    data = json.loads(out)
    src = next(c for c in data["checks"] if c["name"] == "source eia")
    assert code == 1 and not src["ok"] and src["detail"].startswith("key rejected")
    assert "wrong-key-xyz" not in out


def test_key_unset(applied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EIA_API_KEY")
    code, c = checks(applied)
    assert code == 1 and c["source eia"]["detail"] == "environment variable EIA_API_KEY is not set"


def test_api_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", KEY)
    p = write_project(tmp_path, f"http://127.0.0.1:{free_port()}/v2")
    open_state(f"sqlite:///{p}/db.sqlite").close()
    code, c = checks(p)
    assert code == 1 and c["source eia"]["detail"].startswith("unreachable: ConnectError")
    assert c["state"]["ok"]


def test_stale_lease_and_interrupted_operation(applied: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    store = open_state(f"sqlite:///{applied}/db.sqlite")
    host = socket.gethostname()
    store.create_operation("OP_DEAD", "Backfill", "eia", status="running", host=host, pid=dead.pid)
    store.acquire_leases("OP_DEAD", [("eia", "ELEC.DEMAND", "PJM", 0, 3600)], host, dead.pid)
    store.close()
    code, c = checks(applied, "--offline")
    assert code == 1
    assert not c["leases"]["ok"] and "OP_DEAD" in c["leases"]["detail"] and "state unlock" in c["leases"]["detail"]
    assert not c["operations"]["ok"] and "resume OP_DEAD" in c["operations"]["detail"]


def test_quota_exhausted(applied: Path) -> None:
    store = open_state(f"sqlite:///{applied}/db.sqlite")
    store.reserve_request("eia", [(86400.0, 10_000.0)], n=4999)
    store.close()
    code, c = checks(applied, "--offline")
    assert code == 1 and c["quota eia"]["detail"].startswith("0 of 5000 requests left today")
