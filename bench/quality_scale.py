"""How fast the quality checks judge ten years of hourly data for ten series (876,000 rows).

Writes a SQLite warehouse (through aurumplan.warehouse when it is importable, else the four
warehouse objects of docs/architecture.md created directly), then times loading the frame and each
of the four checks, and prints rows, seconds per phase and peak memory. Goal: the checks together under 10 s.

    PYTHONPATH=. .venv/bin/python bench/quality_scale.py [--years 10] [--series 10] [--plain] [--db FILE]
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from aurumplan.catalog import Catalog, load_catalog
from aurumplan.intervals import HOUR, parse_ts
from aurumplan.quality import evaluate
from aurumplan.quality.accuracy import check_accuracy
from aurumplan.quality.completeness import check_completeness
from aurumplan.quality.consistency import check_consistency
from aurumplan.quality.frame import load_frame
from aurumplan.quality.schema import check_schema

SOURCE, DATASET = "eia", "ELEC.DEMAND"
START = parse_ts("2015-01-01")
BATCH = 50_000

PLAIN_DDL = [
    """CREATE TABLE loads (load_id TEXT PRIMARY KEY, operation_id TEXT NOT NULL, node_id TEXT,
       source TEXT NOT NULL, dataset TEXT NOT NULL, period_start TIMESTAMP, period_end TIMESTAMP,
       series TEXT, status TEXT NOT NULL, records INTEGER, checksum TEXT)""",
    """CREATE TABLE observations (source TEXT NOT NULL, dataset TEXT NOT NULL, series_id TEXT NOT NULL,
       period TIMESTAMP NOT NULL, value FLOAT, unit TEXT, attributes TEXT, load_id TEXT NOT NULL,
       PRIMARY KEY (source, dataset, series_id, period, load_id))""",
    """CREATE TABLE load_displaced (load_id TEXT NOT NULL, source TEXT, dataset TEXT, series_id TEXT,
       period TIMESTAMP, prev_load_id TEXT NOT NULL)""",
    """CREATE VIEW observations_current AS SELECT o.* FROM observations o JOIN loads l
       ON l.load_id = o.load_id WHERE l.status = 'committed'""",
]


def _rows(series: list[str], start: int, hours: int) -> Iterator[tuple[str, int, float | None]]:
    """Daily-cycle demand with noise, a few NULLs and spikes, so every check has work to do."""
    rng = random.Random(42)
    for sid in series:
        base = rng.uniform(20_000, 120_000)
        for h in range(hours):
            ts = start + h * HOUR
            v: float | None = base * (1 + 0.25 * math.sin(2 * math.pi * (h % 24) / 24)) + rng.gauss(0, base * 0.01)
            if h % 9973 == 0:
                v = None
            elif h % 7919 == 0:
                v = base * 5
            yield sid, ts, v


def _write_real(url: str, series: list[str], hours: int) -> str:
    from aurumplan.warehouse import LoadInfo, open_warehouse

    wh = open_warehouse(url)
    lid = "bench-load-1"
    wh.stage_load(LoadInfo(lid, "BENCH_OP", SOURCE, DATASET, START, START + hours * HOUR, tuple(series)))
    batch: list[tuple[str, str, str, int, float | None, str, None]] = []
    for sid, ts, v in _rows(series, START, hours):
        batch.append((SOURCE, DATASET, sid, ts, v, "megawatthours", None))
        if len(batch) >= BATCH:
            wh.write_batch(lid, batch)
            batch = []
    if batch:
        wh.write_batch(lid, batch)
    wh.commit([lid])
    return "aurumplan.warehouse"


def _write_plain(url: str, series: list[str], hours: int) -> str:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for stmt in PLAIN_DDL:
            conn.exec_driver_sql(stmt)
        conn.exec_driver_sql("INSERT INTO loads VALUES ('bench-load-1', 'BENCH_OP', NULL, ?, ?, NULL, NULL, "
                             "'[]', 'committed', 0, 'x')", (SOURCE, DATASET))
        conn.exec_driver_sql(
            "INSERT INTO observations VALUES (?, ?, ?, datetime(?, 'unixepoch'), ?, 'megawatthours', NULL, "
            "'bench-load-1')", [(SOURCE, DATASET, sid, ts, v) for sid, ts, v in _rows(series, START, hours)])
    engine.dispose()
    return "plain DDL"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--series", type=int, default=10)
    ap.add_argument("--plain", action="store_true", help="create the tables directly, not via aurumplan.warehouse")
    ap.add_argument("--trace-memory", action="store_true",
                    help="measure peak Python memory with tracemalloc (slows every phase 2-3x)")
    ap.add_argument("--db", help="SQLite file (default: a temporary one)")
    args = ap.parse_args(argv)
    catalog: Catalog = load_catalog()
    ds = catalog.dataset(SOURCE, DATASET)
    series = ds.series[: args.series] + [f"S{i:02d}" for i in range(max(0, args.series - len(ds.series)))]
    hours = args.years * 8760
    window = (START, START + hours * HOUR)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{args.db or Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        how = "plain DDL"
        if not args.plain:
            try:
                how = _write_real(url, series, hours)
            except ImportError:
                how = _write_plain(url, series, hours)
        else:
            _write_plain(url, series, hours)
        engine = sa.create_engine(url)
        with engine.connect() as conn:  # fold the write-ahead log in, as a settled warehouse would be
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        timings: dict[str, float] = {"write (setup, not judged)": time.perf_counter() - t0}
        if args.trace_memory:
            tracemalloc.start()
        with engine.connect() as conn:
            t = time.perf_counter()
            frame = load_frame(conn, SOURCE, DATASET, window, with_attributes=True)
            timings["load frame"] = time.perf_counter() - t
        judged = sorted(frame.series)
        for name, fn in (("completeness", lambda: check_completeness(ds, frame, judged)),
                         ("accuracy", lambda: check_accuracy(ds, frame, judged)),
                         ("consistency", lambda: check_consistency(ds, frame, judged)),
                         ("schema", lambda: check_schema(ds, frame, judged))):
            t = time.perf_counter()
            result = fn()
            timings[name] = time.perf_counter() - t
            keys = ("missing_periods", "null_values", "outliers", "non_finite", "duplicate_rows", "flagged")
            shown = ", ".join(f"{k} {result.stats[k]}" for k in keys if k in result.stats)
            print(f"  {name:<13} score {result.score:.6f}  findings {len(result.findings)}  ({shown})")
        with engine.connect() as conn:
            t = time.perf_counter()
            q = evaluate(conn, catalog, SOURCE, DATASET, window, series=judged)
            timings["evaluate() end to end"] = time.perf_counter() - t
        print(f"  evaluate()    quality score {q.score:.6f}")
        peak = tracemalloc.get_traced_memory()[1] if args.trace_memory else 0
        tracemalloc.stop()
        engine.dispose()
    end_to_end = timings.pop("evaluate() end to end")
    checks = sum(v for k, v in timings.items() if k in ("completeness", "accuracy", "consistency", "schema"))
    print(f"rows: {frame.rows:,} ({len(judged)} series x {hours:,} hours), warehouse: {how}")
    for k, v in timings.items():
        print(f"  {k:<26} {v:7.2f} s")
    print(f"  {'checks total':<26} {checks:7.2f} s (goal < 10 s)")
    print(f"  {'load + checks':<26} {checks + timings['load frame']:7.2f} s")
    print(f"  {'evaluate() end to end':<26} {end_to_end:7.2f} s (load + all four)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    traced = f"peak traced memory (load + checks): {peak / 2**20:.0f} MiB; " if args.trace_memory else ""
    print(f"{traced}max RSS of the process: {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
