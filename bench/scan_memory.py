"""Peak memory and time of `aurumplan scan` (aurumplan.apply.damage.scan) as the warehouse grows.

Issue 15 asks that a scan of 10 years x 100 series runs in bounded memory. For each volume (years of
hourly data for N series) this writes a SQLite warehouse through aurumplan.warehouse (one committed
load, a daily-cycle demand with noise and the same five corrupted days at every volume), then runs
the scan in a fresh process, with --window and without (the whole loaded span), and prints rows,
seconds and the scan process's peak RSS next to its RSS before scanning. Memory that is bounded stays
flat across volumes; memory that grows with the rows shows up as a peak that grows with them.

    PYTHONPATH=. .venv/bin/python bench/scan_memory.py [--years 1,10] [--series 100] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from aurumplan.intervals import DAY, HOUR, fmt_ts, parse_ts

SOURCE, DATASET = "eia", "ELEC.DEMAND"
START = parse_ts("2015-01-01")
BATCH = 50_000
CORRUPT_DAYS = 5
"""The same few damaged days at every volume, so the report (the scan's output) stays the same size."""


def _rows(series: list[str], hours: int) -> Iterator[tuple[str, str, str, int, float, str, None]]:
    rng = random.Random(42)
    bad = {(series[i % len(series)], START + (i * 53 + 3) * DAY) for i in range(CORRUPT_DAYS)}
    for sid in series:
        base = rng.uniform(20_000, 120_000)
        for h in range(hours):
            ts = START + h * HOUR
            day = ts - ts % DAY
            v = -5000.0 if (sid, day) in bad else \
                base * (1 + 0.25 * math.sin(2 * math.pi * (h % 24) / 24)) + rng.gauss(0, base * 0.002)
            yield SOURCE, DATASET, sid, ts, v, "megawatthours", None


def write(folder: Path, years: int, n_series: int) -> dict[str, float]:
    """A project folder whose SQLite warehouse holds years x n_series hourly rows, current."""
    from aurumplan.warehouse import LoadInfo, open_warehouse

    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'warehouse.db'}"
    (folder / "aurumplan.yaml").write_text(f"state: 'sqlite:///{folder / 'state.db'}'\nwarehouse: '{url}'\n")
    series = [f"S{i:03d}" for i in range(n_series)]
    hours = years * 8760
    t0 = time.perf_counter()
    with open_warehouse(url) as wh:
        lid = "bench-load-1"
        wh.stage_load(LoadInfo(lid, "BENCH_OP", SOURCE, DATASET, START, START + hours * HOUR, tuple(series)))
        batch: list[tuple[str, str, str, int, float, str, None]] = []
        for row in _rows(series, hours):
            batch.append(row)
            if len(batch) >= BATCH:
                wh.write_batch(lid, batch)
                batch = []
        if batch:
            wh.write_batch(lid, batch)
        wh.commit([lid])
    return {"rows": hours * n_series, "write_s": time.perf_counter() - t0, "end": START + hours * HOUR}


def _rss_now_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def scan_child(folder: Path, window: str | None) -> None:
    """In its own process: the scan, then its peak RSS (JSON on stdout)."""
    from aurumplan.apply.damage import scan
    from aurumplan.catalog import load_catalog
    from aurumplan.config import load_config

    config = load_config(folder / "aurumplan.yaml")
    catalog = load_catalog(config)
    before = _rss_now_mib()
    t0 = time.perf_counter()
    report = scan(config, catalog, SOURCE, window, ["schema", "completeness", "accuracy", "consistency"])
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"scan_s": seconds, "rss_before_mib": before, "peak_rss_mib": peak,
                      "damaged_periods": report["periods"], "entries": len(report["damage"])}))


def _run_scan(folder: Path, window: str | None) -> dict[str, float]:
    argv = [sys.executable, __file__, "--scan-child", str(folder)] + (["--window", window] if window else [])
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", default="1,10", help="comma-separated volumes in years of hourly data")
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--dir", help="keep the warehouses here (default: a temporary folder)")
    ap.add_argument("--scan-child", help=argparse.SUPPRESS)
    ap.add_argument("--window", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.scan_child:
        scan_child(Path(args.scan_child), args.window)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.dir or tmp)
        print(f"{'years':>5} {'series':>6} {'rows':>11} {'write s':>8} {'scan':<9} {'scan s':>8} "
              f"{'RSS before':>10} {'peak RSS':>9} {'damaged':>8}")
        for years in (int(y) for y in args.years.split(",")):
            folder = root / f"y{years}-s{args.series}"
            w = write(folder, years, args.series)
            window = f"{fmt_ts(START)[:10]}:{fmt_ts(int(w['end']) - DAY)[:10]}"
            for label, win in (("--window", window), ("whole", None)):
                s = _run_scan(folder, win)
                print(f"{years:>5} {args.series:>6} {int(w['rows']):>11,} {w['write_s']:>8.1f} {label:<9} "
                      f"{s['scan_s']:>8.1f} {s['rss_before_mib']:>7.0f} MiB {s['peak_rss_mib']:>5.0f} MiB "
                      f"{int(s['damaged_periods']):>8}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
