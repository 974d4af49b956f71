"""A day and a month of the current version read from a dataset with years of history: the seconds of each.

A warehouse holds N hourly series over Y years, written through aurumplan.warehouse (one load per year,
committed). Each read is `warehouse.reads.observation_rows` of the active version, the read every quality
check, scan, compare and rollback score makes. It runs two ways, alternated: with the dataset's series named
(one key range each, `reads.window_series`) and as a dataset with too many series to name
(`SERIES_IN_MAX = 0`: the whole dataset's active keys filtered by period, as every read did before).

    .venv/bin/python bench/window_reads.py [--series 50] [--years 10] [--db sqlite|postgresql|both] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply_throughput import PG, drop_pg_schema, pg_schema

from aurumplan.intervals import DAY, HOUR, parse_ts
from aurumplan.warehouse import LoadInfo, Warehouse, open_warehouse, reads

START = parse_ts("2015-01-01")


def fill(wh: Warehouse, series: int, years: int) -> int:
    ids = tuple(f"S{i:04d}" for i in range(series))
    hours = years * 8760
    for year in range(years):
        lo, hi = year * 8760, min(hours, (year + 1) * 8760)
        lid = f"L{year:02d}"
        wh.stage_load(LoadInfo(lid, "OP1", "eia", "DS", START + lo * HOUR, START + hi * HOUR, ids, node_id=lid))
        wh.write_batch(lid, [("eia", "DS", sid, START + h * HOUR, float(h % 997), "MWh", None)
                             for sid in ids for h in range(lo, hi)])
        wh.commit([lid])
    return series * hours


def read(wh: Warehouse, lo: int, hi: int) -> tuple[int, float]:
    with wh.connect() as conn:
        t0 = time.perf_counter()
        n = sum(1 for r in reads.observation_rows(conn, "eia", "DS", (lo, hi)) if lo <= r[1] < hi)
        return n, time.perf_counter() - t0


def bench(url: str, name: str, series: int, years: int, rounds: int) -> None:
    wh = open_warehouse(url)
    t0 = time.perf_counter()
    rows = fill(wh, series, years)
    print(f"{name}: {rows:,} active rows ({series} series x {years} years, hourly), written in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    mid = START + (years * 8760 // 2) * HOUR
    mid -= mid % DAY
    named_max = reads.SERIES_IN_MAX
    for label, days in (("a day", 1), ("a month", 31)):
        times: dict[str, list[float]] = {"series named": [], "whole dataset": []}
        got = 0
        for _ in range(rounds):
            for way, most in (("series named", named_max), ("whole dataset", 0)):
                reads.SERIES_IN_MAX = most
                got, took = read(wh, mid, mid + days * DAY)
                times[way].append(took)
        reads.SERIES_IN_MAX = named_max
        print(f"  {label:8} {got:7,} rows   " + "   ".join(
            f"{way}: median {1000 * statistics.median(t):8.1f} ms (min {1000 * min(t):.1f})"
            for way, t in times.items()), flush=True)
    wh.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=50)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            bench(f"sqlite:///{tmp}/wh.db", "SQLite", args.series, args.years, args.rounds)
    if args.db in ("postgresql", "both"):
        schema = pg_schema()
        try:
            bench(f"{PG}?options=-csearch_path%3D{schema}", "PostgreSQL", args.series, args.years, args.rounds)
        finally:
            drop_pg_schema(schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
