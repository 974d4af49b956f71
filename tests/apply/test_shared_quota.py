"""Two applies with one API key share the source's quota through the state store: no 429 together.

Headroom 0.6 gives each window 3 requests: two processes that did not share would send 6 per
second against the server's 5, so a pass means the shared reservation held them to 3 together.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
  window: {{start: 2018-01-01, end: 2023-12-31}}
  concurrency: 3
  retries: {{max: 0, backoff: 0.01s, maxBackoff: 0.05s}}
  validation: {{checks: [schema], threshold: 0.5}}
"""


def test_two_processes_stay_under_one_quota(tmp_path: Path, db_url: str) -> None:
    with EiaServer(data=Synth(seed=2), quota={"per_second": 5}, until=1_900_000_000) as srv:
        write_config(tmp_path, db_url, srv.base_url, "{per_second: 5, per_hour: null}\n    headroom: 0.6")
        open_state(db_url, create=True).close()  # one shared state, made before both start (as `init` does)
        procs = []
        for name, series in (("a", "PJM"), ("b", "MISO")):
            (tmp_path / f"{name}.yaml").write_text(SPEC.format(name=name, series=series))
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "aurumplan.cli.main", "--config", str(tmp_path / "aurumplan.yaml"), "apply",
                 str(tmp_path / f"{name}.yaml"), "--auto-approve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env={**os.environ, "EIA_API_KEY": "k"}))
        outs = [p.communicate(timeout=120) for p in procs]
        logs = [f.read_text() for f in (tmp_path / ".aurumplan" / "logs").glob("*.jsonl")] \
            if (tmp_path / ".aurumplan" / "logs").exists() else []
        assert [p.returncode for p in procs] == [0, 0], (logs, [o[1][-500:] for o in outs])
        assert srv.requests == 2 * 11
        assert srv.throttled == 0
