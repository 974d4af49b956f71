"""Two applies at once: overlapping ranges -> the second is refused; disjoint ranges -> both run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurumplan.state import open_state
from tests.apply.common import write_config
from tests.doubles.fakeapis import EiaServer, Synth

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: {name}}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [{series}]
  window: {{start: 2024-03-01, end: 2024-03-02}}
  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.05s}}
  validation: {{threshold: 0.5}}
"""


@pytest.fixture()
def slow_server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=3), quota=None, until=1_900_000_000, delay=8.0) as srv:
        yield srv


def start(project: Path, spec: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "aurumplan.cli.main", "--config", str(project / "aurumplan.yaml"),
                             "apply", str(spec), "--auto-approve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "EIA_API_KEY": "k"})


def test_overlapping_refused_disjoint_both_run(tmp_path: Path, db_url: str, slow_server: EiaServer) -> None:
    write_config(tmp_path, db_url, slow_server.base_url)
    a, b, c = (tmp_path / f"{n}.yaml" for n in "abc")
    a.write_text(SPEC.format(name="a", series="PJM, MISO"))
    b.write_text(SPEC.format(name="b", series="MISO"))
    c.write_text(SPEC.format(name="c", series="ERCO"))
    store = open_state(db_url)  # created before any apply runs: no schema work under their write load
    first = start(tmp_path, a)
    deadline = time.monotonic() + 20
    while not store.leases(active_only=True) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert store.leases(active_only=True), "first apply never took its leases"
    second = start(tmp_path, b)
    third = start(tmp_path, c)
    out_b = second.communicate(timeout=60)
    out_c = third.communicate(timeout=60)
    out_a = first.communicate(timeout=60)
    assert first.returncode == 0, out_a
    assert second.returncode == 1, out_b
    assert "BACKFILL_20240302_EIA_" in out_b[1] and "pid" in out_b[1] and "Traceback" not in out_b[1]
    assert third.returncode == 0, out_c
