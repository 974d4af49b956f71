"""What the emergency tests share: a project on a slow local EIA API, specs per series, and waiting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aurumplan.state import SqlStateStore
from tests.apply.common import write_config

SPEC = """\
apiVersion: aurumplan/v1
kind: {kind}
metadata: {{name: {name}, reason: emergency test}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [{series}]
  window: {{start: 2024-01-01, end: 2024-01-{last:02d}}}
  concurrency: 1
  priority: {priority}
  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.02s}}
  validation: {{checks: [schema], threshold: 0.5}}
{extra}"""


def project(folder: Path, db_url: str, base_url: str) -> Path:
    """Pages of 24 rows: one request per day and series."""
    path = write_config(folder, db_url, base_url)
    path.write_text(path.read_text() + "    limits: {max_rows: 24}\n")
    return folder


def spec(proj: Path, name: str, series: str = "CISO", *, kind: str = "Backfill", last: int = 20,
         priority: str = "normal", extra: str = "") -> Path:
    path = proj / f"{name}.yaml"
    path.write_text(SPEC.format(kind=kind, name=name, series=series, last=last, priority=priority, extra=extra))
    return path


def start(proj: Path, *args: str) -> subprocess.Popen[str]:
    """`aurumplan ARGS` in its own process."""
    return subprocess.Popen([sys.executable, "-m", "aurumplan.cli.main", "--config", str(proj / "aurumplan.yaml"),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "EIA_API_KEY": "k"})


def wait_for(what: Callable[[], bool], timeout: float = 30.0) -> float:
    """Poll until what() holds; the seconds it took (AssertionError after timeout)."""
    t0 = time.monotonic()
    while not what():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - t0


def staged(store: SqlStateStore, op_id: str) -> bool:
    return any(c.status == "staged" for c in store.checkpoints(op_id))


def status(store: SqlStateStore, op_id: str) -> str:
    op = store.find_operation(op_id)
    return op.status if op else "absent"
