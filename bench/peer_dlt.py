"""aurumplan apply vs dlt's `rest_api` source: the same data, same local API, same SQLite, whole processes.

Issue 18: 5 years x 7 balancing authorities of hourly EIA demand (306,768 rows) from the local EIA
API (tests/doubles, its own process, real HTTP over loopback, serving cached pages as the issue sets
it up, so the server is not the limit) into a fresh SQLite file, each tool timed from outside as a
whole process (start-up and imports included), runs alternating after one untimed run of each (it
fills the server's cache). aurumplan runs on its embedded default (`.aurumplan/warehouse.db`, the
state in its own file beside it). dlt lives in
its own virtual environment, created here on first use (bench/.venv-dlt, git-ignored), so it never
becomes a dependency of aurumplan.

    .venv/bin/python bench/peer_dlt.py [--runs 3] [--years 5] [--bas 7]

Prints each run's rows/s for both tools and the ratio aurumplan / dlt (goal: >= 3.0).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DLT_VENV = ROOT / "bench" / ".venv-dlt"
DLT_REQUIREMENT = "dlt[sqlalchemy]==1.31.0"
BAS = ["BPAT", "CISO", "DUK", "ERCO", "FPL", "ISNE", "MISO", "NYIS", "PJM", "SOCO", "SWPP", "TVA"]
START_YEAR = 2019
PAGE = 5000

DLT_PIPELINE = '''
import sys
import dlt
from dlt.sources.rest_api import rest_api_source

base_url, db, start, end, bas = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(",")
source = rest_api_source({
    "client": {"base_url": base_url + "/"},
    "resource_defaults": {"write_disposition": "append"},
    "resources": [{
        "name": f"demand_{ba.lower()}",
        "table_name": "demand",
        "parallelized": True,
        "endpoint": {
            "path": "electricity/rto/region-data/data/",
            "params": {"api_key": "bench-key", "frequency": "hourly", "data[0]": "value",
                       "facets[respondent][]": ba, "facets[type][]": "D", "start": start, "end": end},
            "data_selector": "response.data",
            "paginator": {"type": "offset", "limit": int(sys.argv[7]), "offset_param": "offset",
                          "limit_param": "length", "total_path": "response.total"},
        },
    } for ba in bas],
})
pipeline = dlt.pipeline(pipeline_name="peer", destination=dlt.destinations.sqlalchemy(f"sqlite:///{db}"),
                        dataset_name="main", pipelines_dir=sys.argv[6])
pipeline.run(source)
'''


def ensure_dlt() -> Path:
    """dlt's own venv, created once: dlt must never be importable from aurumplan's."""
    python = DLT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", DLT_REQUIREMENT], check=True)
    return python


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The fake EIA API (tests/doubles) in its own process, serving cached pages (the issue's setup: the
    server is not the limit; each tool's untimed first run fills the cache with the pages it asks for)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.doubles.fakeapis", "eia", "--port", "0", "--no-quota",
                             "--cache-pages"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return secs


def run_aurumplan(base_url: str, start: str, end: str, bas: list[str], env: dict[str, str]) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / ".aurumplan" / "warehouse.db"  # the embedded default: state and warehouse files there
        (folder / "aurumplan.yaml").write_text(
            f"sources:\n  eia:\n    base_url: {base_url}\n    quota: {{per_second: 10000}}\n")
        (folder / "spec.yaml").write_text(
            "apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {name: peer}\nspec:\n  source: eia\n"
            f"  datasets: [ELEC.DEMAND]\n  series: [{', '.join(bas)}]\n"
            f"  window: {{start: '{start}', end: '{end}'}}\n  concurrency: 3\n  batchSize: {PAGE}\n"
            "  validation: {checks: [schema], threshold: 0.5}\n")
        secs = timed([str(Path(sys.executable).with_name("aurumplan")), "apply", "spec.yaml", "--auto-approve"],
                     folder, env)
        return count(db, "observations_active"), secs


def run_dlt(python: Path, base_url: str, start: str, end: str, bas: list[str],
            env: dict[str, str]) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pipe.py").write_text(DLT_PIPELINE)
        db = folder / "wh.db"
        dlt_env = {**env, "RUNTIME__LOG_LEVEL": "WARNING", "HOME": str(folder)}
        secs = timed([str(python), "pipe.py", base_url, str(db), start, end, ",".join(bas),
                      str(folder / "pipes"), str(PAGE)], folder, dlt_env)
        return count(db, "demand"), secs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--bas", type=int, default=7)
    args = ap.parse_args()
    python = ensure_dlt()
    bas = BAS[:args.bas]
    start, end = f"{START_YEAR}-01-01T00:00:00", f"{START_YEAR + args.years}-01-01T00:00:00"
    # Both tools start from compiled modules, as pip installs them: dlt's venv has them from pip, and
    # aurumplan's (an editable install) gets them from its untimed first run. With PYTHONDONTWRITEBYTECODE
    # set (as on this machine) every aurumplan start compiled its ~120 modules again (~0.2 s).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"EIA_API_KEY": "bench-key"}
    proc, base_url = start_server()
    last = f"{START_YEAR + args.years - 1}-12-31T23"  # EIA's start and end are inclusive hours
    try:
        run_aurumplan(base_url, start, end, bas, env)  # untimed: the server caches the pages each tool asks
        run_dlt(python, base_url, start[:13], last, bas, env)
        for i in range(args.runs):
            rows_a, secs_a = run_aurumplan(base_url, start, end, bas, env)
            rows_d, secs_d = run_dlt(python, base_url, start[:13], last, bas, env)
            rate_a, rate_d = rows_a / secs_a, rows_d / secs_d
            print(f"run {i + 1}: aurumplan apply {rows_a:,} rows {secs_a:.2f}s {rate_a:,.0f} rows/s | "
                  f"dlt rest_api {rows_d:,} rows {secs_d:.2f}s {rate_d:,.0f} rows/s | ratio {rate_a / rate_d:.2f}",
                  flush=True)
    finally:
        proc.terminate()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
