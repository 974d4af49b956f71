"""The plan's duration estimate against the measured apply, for the five sources' example specs.

Each example (examples/backfill-{eia,fred,cpi,iso,noaa}.yaml) runs against its local fake API over
real HTTP, the server enforcing the quota the catalog sets, the client pacing at headroom x quota:

  cold  plan on an empty state (no earlier runs: the estimate uses the default latency) -> apply, timed
  warm  plan the same window on a fresh state that holds the cold run's history (its watermarks
        removed, so everything is planned again) and a fresh warehouse -> apply, timed

Each plan and apply runs in a process of its own, as `aurumplan apply` does; the measured time is
that of `api.apply_plan` in it (leases, requests, validation, commit, and what a process does the
first time: driver imports, the first connection), not the interpreter's start. The goal is a warm
estimate within 25% of the measured apply for all five (issue 13); docs/operations.md ("Estimates")
explains the model.

    PYTHONPATH=. .venv/bin/python bench/estimate_accuracy.py [eia fred cpi iso noaa]
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aurumplan import api
from aurumplan.catalog import load_catalog
from tests.doubles.fakeapis import SERVERS, Synth

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WINDOW = {1.0: "per_second", 60.0: "per_minute", 3600.0: "per_hour", 86400.0: "per_day"}
GOAL = 0.25


def _config(folder: Path, source: str, base_url: str) -> Path:
    path = folder / "aurumplan.yaml"
    path.write_text("state: sqlite:///state.db\nwarehouse: sqlite:///wh.db\nexecutor: local\n"
                    f"sources:\n  {source}:\n    base_url: {base_url}\n")
    return path


def _one(folder: Path, base_url: str, source: str) -> None:
    """In a process of its own: plan spec.yaml in `folder`, apply it, print the figures as JSON."""
    ctx = api.context(_config(folder, source, base_url), folder)
    os.environ.setdefault(ctx.catalog.source(source).api_key_env, "bench-key")
    planned = api.plan(folder / "spec.yaml", ctx)
    start = time.perf_counter()
    result = api.apply_plan(planned.plan, ctx)
    print(json.dumps({"estimates": planned.plan["estimates"], "measured": time.perf_counter() - start,
                      "status": result.status}))


def _timed(folder: Path, spec_text: str, base_url: str, source: str) -> tuple[dict[str, Any], float, str]:
    """Plan the spec in `folder` and apply it in a new process: (estimates, measured seconds, status)."""
    (folder / "spec.yaml").write_text(spec_text)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, __file__, "--one", str(folder), base_url, source], env=env,
                         check=True, capture_output=True, text=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    return got["estimates"], float(got["measured"]), str(got["status"])


def _history_only(src: Path, dest: Path) -> None:
    """A copy of the state with its operations (the history) but no watermarks, so the window plans
    again, and no quota bookings (the server's quota is reset too): the warm run starts as fresh."""
    dest.mkdir()
    shutil.copy(src / "state.db", dest / "state.db")
    with sqlite3.connect(dest / "state.db") as db:
        db.execute("DELETE FROM watermarks")
        db.execute("DELETE FROM leases")
        db.execute("DELETE FROM request_log")


def run(name: str) -> list[tuple[str, float, float]]:
    spec = (EXAMPLES / f"backfill-{name}.yaml").read_text()
    source = spec.split("source:", 1)[1].split()[0]
    quota = {WINDOW[w]: n for w, n in load_catalog().source(source).quota.windows()}
    out = []
    with tempfile.TemporaryDirectory() as tmp, SERVERS[source](data=Synth(seed=5), quota=quota) as srv:
        cold, warm = Path(tmp) / "cold", Path(tmp) / "warm"
        cold.mkdir()
        for label, folder, text in (("cold", cold, spec), ("warm", warm, spec + "# planned again\n")):
            if label == "warm":
                _history_only(cold, warm)
                srv.quota.reset()
            est, measured, status = _timed(folder, text, srv.base_url, source)
            error = (est["duration_seconds"] - measured) / measured
            basis = est.get("basis", {})
            print(f"{name:<5} {label}  requests {est['requests']:>3}  estimate {est['duration_seconds']:7.2f}s "
                  f"(quota floor {est['min_duration_seconds']:6.2f}s; {basis.get('runs', 0)} earlier runs)  "
                  f"measured {measured:7.2f}s  error {100 * error:+6.1f}%  {status}", flush=True)
            out.append((label, est["duration_seconds"], measured))
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        _one(Path(argv[1]), argv[2], argv[3])
        return 0
    names = argv or ["eia", "fred", "cpi", "iso", "noaa"]
    ok = True
    for name in names:
        for label, est, measured in run(name):
            if label == "warm" and abs(est - measured) > GOAL * measured:
                ok = False
    print("warm estimates within 25%: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
