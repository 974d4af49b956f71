"""Plan a 10-year hourly Backfill over 1,000 datasets against 100,000 fragmented watermark intervals.

Goal (issue 2): under 2 s and under 300 MB. Prints the time of each phase and the peak memory.

    .venv/bin/python bench/plan_scale.py [--datasets 1000] [--intervals 100000] [--save PLAN.json]

--save writes the plan file text, so a change can be checked to keep the plan byte-for-byte identical.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from aurumplan.catalog import load_catalog
from aurumplan.config import load_config
from aurumplan.hashing import sha256_hex
from aurumplan.intervals import HOUR, parse_ts
from aurumplan.plan.make import plan_spec
from aurumplan.state import open_state
from aurumplan.state.schema import watermarks


def write_project(folder: Path, n_datasets: int) -> Path:
    datasets = "\n".join(
        f"      DS{i:04d}: {{route: electricity/rto/region-data, grain: hourly, period_convention: hour-ending-utc,"
        f" series_template: '{{respondent}}', series: [S{i:04d}], selectors: {{type: [D]}}}}"
        for i in range(n_datasets))
    (folder / "aurumplan.yaml").write_text(
        "state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\nsources:\n"
        "  bench:\n    driver: eia\n    base_url: http://127.0.0.1:9/v2\n    api_key_env: BENCH_KEY\n"
        "    quota: {per_second: 5, per_hour: 9000}\n    limits: {max_rows: 5000}\n    datasets:\n" + datasets + "\n")
    spec = folder / "backfill.yaml"
    spec.write_text("apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {name: bench}\nspec:\n  source: bench\n"
                    "  window: {start: 2015-01-01, end: 2024-12-31}\n")
    return spec


def fill_state(url: str, n_datasets: int, n_intervals: int) -> None:
    """n_intervals watermark rows spread over the datasets: 100-hour loaded runs with 20-hour gaps."""
    open_state(url, create=True).close()
    per = max(1, n_intervals // n_datasets)
    start = parse_ts("2015-01-01")
    rows = [{"source": "bench", "dataset": f"DS{i:04d}", "series_id": f"S{i:04d}", "start": start + k * 120 * HOUR,
             "end": start + k * 120 * HOUR + 100 * HOUR, "load_id": f"L{i}-{k}",
             "operation_id": "BACKFILL_20150101_BENCH_000000", "records": 100, "checksum": "0",
             "schema_version": "v1", "committed_at": 0}
            for i in range(n_datasets) for k in range(per)]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(watermarks.insert(), rows)
    engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=1000)
    ap.add_argument("--intervals", type=int, default=100_000)
    ap.add_argument("--save", type=Path, help="write the plan file text here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = write_project(folder, args.datasets)
        config = load_config(folder / "aurumplan.yaml")
        t0 = time.perf_counter()
        fill_state(config.state_url, args.datasets, args.intervals)
        t_fill = time.perf_counter() - t0
        t1 = time.perf_counter()
        catalog = load_catalog(config)
        store = open_state(config.state_url, create=False)
        planned = plan_spec(spec, catalog, store, cwd=folder)
        t_plan = time.perf_counter() - t1
        text = planned.text
        t_total = time.perf_counter() - t1
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        e = planned.plan["estimates"]
        print(f"datasets={args.datasets} watermark_rows={args.intervals} (state filled in {t_fill:.2f}s)")
        print(f"plan: {t_plan:.2f}s, with plan file serialisation: {t_total:.2f}s")
        print(f"nodes={len(planned.plan['graph']['nodes'])} requests={e['requests']} records={e['records']} "
              f"plan_file={len(text) / 1e6:.1f} MB")
        print(f"peak memory (max RSS of the whole process, state filling included) {rss:.0f} MB")
        if args.save:
            args.save.write_text(text)
            print(f"plan file written to {args.save} (sha256 {sha256_hex(text)})")
        ok = t_total < 2.0 and rss < 300
        print("goal (< 2 s, < 300 MB):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
