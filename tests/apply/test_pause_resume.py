"""pause stops a running apply at a checkpoint; resume finishes it with the same data as one run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurumplan.state import open_state
from aurumplan.warehouse import open_warehouse
from tests.apply.common import write_config
from tests.doubles.fakeapis import EiaServer, Synth

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: pausable}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  window: {start: 2024-01-01, end: 2024-03-31}
  concurrency: 1
  retries: {max: 1, backoff: 0.01s, maxBackoff: 0.05s}
  validation: {checks: [schema], threshold: 0.5}
"""


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=4), quota=None, until=1_900_000_000, delay=1.0) as srv:
        yield srv


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aurumplan.cli.main", "--config", str(project / "aurumplan.yaml"),
                           *args], capture_output=True, text=True, env={**os.environ, "EIA_API_KEY": "k"}, timeout=120)


def make(folder: Path, url: str, server: EiaServer) -> Path:
    folder.mkdir()
    write_config(folder, url, server.base_url)
    (folder / "spec.yaml").write_text(SPEC)
    return folder


def test_pause_then_resume(tmp_path: Path, server: EiaServer) -> None:
    ref = make(tmp_path / "ref", f"sqlite:///{tmp_path / 'ref.db'}", server)
    assert cli(ref, "apply", str(ref / "spec.yaml"), "--auto-approve").returncode == 0
    expected = open_warehouse(f"sqlite:///{tmp_path / 'ref.db'}").current_checksum("eia")

    url = f"sqlite:///{tmp_path / 'p.db'}"
    proj = make(tmp_path / "p", url, server)
    store = open_state(url)  # created before the apply runs: no schema work under its write load
    running = subprocess.Popen([sys.executable, "-m", "aurumplan.cli.main", "--config",
                                str(proj / "aurumplan.yaml"), "apply", str(proj / "spec.yaml"), "--auto-approve"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "EIA_API_KEY": "k"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(c.status == "staged" for o in store.list_operations() for c in store.checkpoints(o.id)):
            break
        time.sleep(0.1)
    op_id = store.list_operations()[0].id
    paused = cli(proj, "pause", op_id)
    assert paused.returncode == 0, paused.stderr
    out, err = running.communicate(timeout=60)
    assert running.returncode == 1 and "paused" in out, out + err
    assert store.get_operation(op_id).status == "paused"
    done = {c.node_id for c in store.checkpoints(op_id) if c.status == "staged"}
    total = sum(1 for n in json.loads(store.get_operation(op_id).plan)["graph"]["nodes"] if n["kind"] == "extract")
    assert 0 < len(done) < total  # stopped at a checkpoint, part of the work done
    resumed = cli(proj, "resume", op_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert open_warehouse(url).current_checksum("eia") == expected


def test_ctrl_c_pauses_at_a_checkpoint_and_a_second_forces(tmp_path: Path, server: EiaServer) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    proj = make(tmp_path / "c", url, server)
    store = open_state(url)
    running = subprocess.Popen([sys.executable, "-m", "aurumplan.cli.main", "--config",
                                str(proj / "aurumplan.yaml"), "apply", str(proj / "spec.yaml"), "--auto-approve"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "EIA_API_KEY": "k"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
            c.status == "staged" for o in store.list_operations() for c in store.checkpoints(o.id)):
        time.sleep(0.1)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 1, out + err
    assert "Interrupt received: stopping at the next checkpoint" in err
    [op] = store.list_operations()
    assert op.status == "paused"
    assert any(lease.operation_id == op.id for lease in store.leases(active_only=True))  # kept while paused
    resumed = cli(proj, "resume", op.id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not store.leases(active_only=True)

    second = make(tmp_path / "d", f"sqlite:///{tmp_path / 'd.db'}", server)
    asked = server.requests
    forced = subprocess.Popen([sys.executable, "-m", "aurumplan.cli.main", "--config",
                               str(second / "aurumplan.yaml"), "apply", str(second / "spec.yaml"), "--auto-approve"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "EIA_API_KEY": "k"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.requests == asked:  # a request in flight (1 s on this server):
        time.sleep(0.02)  # interrupted before its first request, the apply would stop before a second Ctrl-C
    lines: list[str] = []
    def read() -> None:
        assert forced.stderr is not None
        for line in forced.stderr:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    forced.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any("Interrupt received" in line for line in lines):
        time.sleep(0.02)
    forced.send_signal(signal.SIGINT)  # while the in-flight request (1 s on this server) still runs
    forced.wait(timeout=30)
    reader.join(timeout=5)
    err = "".join(lines)
    assert forced.returncode == 130 and "Second interrupt" in err, err
