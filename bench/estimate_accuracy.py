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

    PYTHONPATH=. .venv/bin/python bench/estimate_accuracy.py [--warm N] [eia fred cpi iso noaa]

`--warm N` makes N warm runs, each on a fresh state holding the history of every run before it
(the N-th estimate rests on N earlier runs: the median of their figures).
"""

from __future__ import annotations

import json
import os
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
    with sqlite3.connect(src / "state.db") as a, sqlite3.connect(dest / "state.db") as b:
        a.backup(b)  # with what the write-ahead log holds, which a file copy would miss
    with sqlite3.connect(dest / "state.db") as db:
        db.execute("DELETE FROM watermarks")
        db.execute("DELETE FROM leases")
        db.execute("DELETE FROM request_log")


def run(name: str, warm_runs: int) -> list[tuple[str, float, float]]:
    """The cold run, then `warm_runs` warm ones, each on a fresh state holding every earlier run's history."""
    spec = (EXAMPLES / f"backfill-{name}.yaml").read_text()
    source = spec.split("source:", 1)[1].split()[0]
    quota = {WINDOW[w]: n for w, n in load_catalog().source(source).quota.windows()}
    out = []
    with tempfile.TemporaryDirectory() as tmp, SERVERS[source](data=Synth(seed=5), quota=quota) as srv:
        previous: Path | None = None
        for k in range(warm_runs + 1):
            label = "cold" if k == 0 else f"warm{k}"
            folder = Path(tmp) / label
            if previous is None:
                folder.mkdir()
            else:
                _history_only(previous, folder)
                srv.quota.reset()
            text = spec + (f"# planned again ({k})\n" if k else "")  # another operation id each time
            est, measured, status = _timed(folder, text, srv.base_url, source)
            error = (est["duration_seconds"] - measured) / measured
            basis = est.get("basis", {})
            print(f"{name:<5} {label:<5}  requests {est['requests']:>3}  estimate {est['duration_seconds']:5.2f}s "
                  f"(quota floor {est['min_duration_seconds']:5.2f}s; {basis.get('runs', 0)} earlier runs)  "
                  f"measured {measured:5.2f}s  error {100 * error:+6.1f}%  {status}", flush=True)
            out.append((label, est["duration_seconds"], measured))
            previous = folder
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        _one(Path(argv[1]), argv[2], argv[3])
        return 0
    warm_runs = 1
    if argv[:1] == ["--warm"]:
        warm_runs, argv = int(argv[1]), argv[2:]
    names = argv or ["eia", "fred", "cpi", "iso", "noaa"]
    misses = []
    for name in names:
        for label, est, measured in run(name, warm_runs):
            if label != "cold" and abs(est - measured) > GOAL * measured:
                misses.append(f"{name} {label}")
    print("warm estimates within 25%: " + ("all" if not misses else "not " + ", ".join(misses)))
    return 0 if not misses else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
