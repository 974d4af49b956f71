"""Where the time of bench/peer_dlt.py's aurumplan apply goes: its phases, run by run (issue 18).

The same workload, server and project as peer_dlt.py (306,768 rows of EIA demand from the local API,
serving cached pages, into the embedded default), aurumplan alone. Each run is timed from outside as a
whole process; the phases come from the apply's own records: its `--log-format json` events (the first
and last extract node staged) and the checkpoints in its state (when validation and the commit ended).

    .venv/bin/python bench/peer_timeline.py [--runs 3]

Prints, per run, seconds from the process start: first page staged, last page staged, validation done,
commit done, and the whole process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer_dlt import BAS, PAGE, START_YEAR, run_aurumplan, start_server


def phases(base_url: str, env: dict[str, str], years: int, bas: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "aurumplan.yaml").write_text(
            f"sources:\n  eia:\n    base_url: {base_url}\n    quota: {{per_second: 10000}}\n")
        (folder / "spec.yaml").write_text(
            "apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {name: peer}\nspec:\n  source: eia\n"
            f"  datasets: [ELEC.DEMAND]\n  series: [{', '.join(bas)}]\n"
            f"  window: {{start: '{START_YEAR}-01-01T00:00:00', end: '{START_YEAR + years}-01-01T00:00:00'}}\n"
            f"  concurrency: 3\n  batchSize: {PAGE}\n  validation: {{checks: [schema], threshold: 0.5}}\n")
        t0 = time.time()
        done = subprocess.run([str(Path(sys.executable).with_name("aurumplan")), "--log-format", "json", "apply",
                               "spec.yaml", "--auto-approve"], cwd=folder, env=env, capture_output=True, text=True)
        whole = time.time() - t0
        if done.returncode != 0:
            raise SystemExit(f"apply failed ({done.returncode}):\n{done.stderr[-2000:]}")
        staged = []
        for line in (done.stdout + done.stderr).splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and (event.get("fields") or {}).get("status") == "staged":
                staged.append(dt.datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp() - t0)
        with sqlite3.connect(folder / ".aurumplan" / "state.db") as conn:
            ends = dict(conn.execute("SELECT node_id, finished_at FROM checkpoints WHERE node_id LIKE '%/validate' "
                                     "OR node_id LIKE '%/commit'").fetchall())
        ended = {kind: max(at for node, at in ends.items() if node.endswith(kind)) - t0
                 for kind in ("/validate", "/commit")}
        return {"first staged": min(staged), "last staged": max(staged), "validated": ended["/validate"],
                "committed": ended["/commit"], "whole": whole}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--bas", type=int, default=7)
    args = ap.parse_args()
    bas = BAS[:args.bas]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"EIA_API_KEY": "bench-key"}
    proc, base_url = start_server()
    try:
        start, end = f"{START_YEAR}-01-01T00:00:00", f"{START_YEAR + args.years}-01-01T00:00:00"
        run_aurumplan(base_url, start, end, bas, env)  # untimed: fills the server's page cache
        for i in range(args.runs):
            got = phases(base_url, env, args.years, bas)
            print(f"run {i + 1}: " + "  ".join(f"{k} {v:.2f}s" for k, v in got.items()), flush=True)
    finally:
        proc.terminate()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
