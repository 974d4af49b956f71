"""Load N records from the local EIA API server into SQLite and PostgreSQL; print records/s and memory.

The server runs in its own process (as a real API would), so the figures are aurumplan's own:
HTTP client, JSON parsing, the driver's per-record path, batched writes, commit. Goal (issue 3):
at least 100,000 records/s into SQLite on this 2-core machine, memory flat as volume grows.

    .venv/bin/python bench/apply_throughput.py [--records 1000000] [--db sqlite|postgresql|both]

It first measures the API alone: the same planned requests, sent by the same number of threads
with a bare httpx client that only downloads the bodies. That rate is the ceiling the API (here,
the local server sharing the two cores) allows; aurumplan's fetch + stage rate is compared with it.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa

from aurumplan import api
from aurumplan.catalog import load_catalog
from aurumplan.intervals import HOUR, fmt_ts, parse_ts
from aurumplan.plan.model import ExtractNode, decode
from aurumplan.sources.registry import get_driver

ROOT = Path(__file__).resolve().parents[1]
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SERIES = ["BPAT", "CISO", "DUK", "ERCO", "FPL", "ISNE", "MISO", "NYIS", "PJM", "SOCO", "SWPP", "TVA"]


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The fake EIA API (tests/doubles, not installed) in its own process, run from the repository root. It
    caches the pages it built (the API-alone pass asks every page first), so the server is not the limit."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.doubles.fakeapis", "eia", "--port", "0", "--no-quota",
                             "--cache-pages"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def project(folder: Path, url: str, base_url: str, records: int, batch: int, concurrency: int = 3,
            state: str | None = None) -> Path:
    """The bench project; SQLite keeps the state in its own file (the embedded default's layout)."""
    hours = records // len(SERIES)
    start = parse_ts("2016-01-01")
    end = start + hours * HOUR
    (folder / "aurumplan.yaml").write_text(
        f"state: '{state or url}'\nwarehouse: '{url}'\nsources:\n  eia:\n    base_url: {base_url}\n"
        "    quota: {per_second: 10000}\n")
    spec = folder / "spec.yaml"
    window = f"{{start: '{fmt_ts(start)[:-1]}', end: '{fmt_ts(end)[:-1]}'}}"
    spec.write_text("apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {name: bench}\nspec:\n  source: eia\n"
                    f"  datasets: [ELEC.DEMAND]\n  window: {window}\n"
                    f"  concurrency: {concurrency}\n  batchSize: {batch}\n"
                    "  validation: {checks: [schema], threshold: 0.5}\n")
    return spec


def pg_schema() -> str:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    eng = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    return schema


def drop_pg_schema(schema: str) -> None:
    eng = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    eng.dispose()


def run(db: str, records: int, base_url: str, batch: int, concurrency: int = 3) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        schema = state = None
        if db == "sqlite":
            url = f"sqlite:///{folder / 'wh.db'}"
            state = f"sqlite:///{folder / 'state.db'}"
        else:
            schema = pg_schema()
            url = f"{PG}?options=-csearch_path%3D{schema}"
        try:
            spec = project(folder, url, base_url, records, batch, concurrency, state)
            ctx = api.context(folder / "aurumplan.yaml", folder)
            planned = api.plan(spec, ctx)
            stamps: dict[str, float] = {}

            def hook(event: str, data: dict[str, object]) -> None:
                if event == "node" and data.get("status") == "staged":
                    stamps["last_staged"] = time.perf_counter()

            t0 = time.perf_counter()
            result = api.apply_plan(planned.plan, ctx, hook)
            total = time.perf_counter() - t0
            assert result.status == "succeeded", result.to_dict()
            loaded = result.counters.records
            extract = stamps.get("last_staged", t0 + total) - t0
        finally:
            if schema:
                drop_pg_schema(schema)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"records": loaded, "requests": planned.plan["estimates"]["requests"], "extract_s": extract,
            "total_s": total, "extract_rate": loaded / extract, "total_rate": loaded / total, "rss_mb": rss}


def api_alone(base_url: str, records: int, concurrency: int) -> tuple[int, float]:
    """Bodies of the planned requests downloaded and dropped: (bytes, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = project(folder, f"sqlite:///{folder / 'state.db'}", base_url, records, 5000, concurrency)
        ctx = api.context(folder / "aurumplan.yaml", folder)
        plan = decode(api.plan(spec, ctx).plan, str(spec))
    src = load_catalog(ctx.config).source("eia")
    driver = get_driver(src.driver)
    calls = []
    for node in plan.graph.nodes:
        if isinstance(node, ExtractNode):
            calls.append(driver.first_call(src, src.datasets[node.dataset], node.request_spec("eia")))
    with httpx.Client(timeout=60) as client:
        def get(call: object) -> int:
            return len(client.send(call.build(client, os.environ["EIA_API_KEY"])).content)  # type: ignore[attr-defined]

        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            size = sum(pool.map(get, calls))
        return size, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("EIA_API_KEY", "bench-key")
    proc, base_url = start_server()
    try:
        size, secs = api_alone(base_url, args.records, args.concurrency)
        print(f"API alone  {size / 2**20:.0f} MB in {secs:.1f}s: {args.records / secs:,.0f} rec/s "
              f"(bare httpx, {args.concurrency} threads, bodies dropped)")
        for db in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
            r = run(db, args.records, base_url, args.batch, args.concurrency)
            print(f"{db:10} records={r['records']:,} requests={r['requests']} "
                  f"fetch+stage {r['extract_s']:.1f}s ({r['extract_rate']:,.0f} rec/s), "
                  f"whole apply incl. validate+commit {r['total_s']:.1f}s ({r['total_rate']:,.0f} rec/s), "
                  f"max RSS {r['rss_mb']:.0f} MB")
    finally:
        proc.terminate()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
