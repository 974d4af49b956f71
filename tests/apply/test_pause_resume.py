"""pause stops a running apply at a checkpoint; resume finishes it with the same data as one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
