"""SQLite: the order rows go into the warehouse's keys, for staging and for the commit (issue 18).

Two measurements on the warehouse's own tables (aurumplan.warehouse.schema, WITHOUT ROWID), in a
fresh file each:

- staging: 1M rows of 12 hourly series written in 200 transactions of ~5,000 rows with multi-row
  INSERTs, in the order an API returns a page (by period, the series interleaved) and in key order
  (series, then period: executors/parsepool.Keep.records), each row binding all 8 columns; then in
  key order with the local executor's own statement (warehouse/writes._sqlite_insert: the load's
  id, source and dataset bound once per statement, 5 values per row).
- commit: 306,768 rows of 7 series in 62 staged loads (the peer_dlt workload) made active, load by
  load (one INSERT ... SELECT per load) and series by series across the loads
  (warehouse/commits._switch_by_series), in one transaction.

    .venv/bin/python bench/insert_order.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from aurumplan.warehouse.schema import observations, observations_active
from aurumplan.warehouse.writes import _sqlite_insert

EPOCH = dt.datetime(2016, 1, 1)


def _fresh(folder: Path, name: str) -> sqlite3.Connection:
    """A new SQLite file with the warehouse's observation tables and the executor's pragmas."""
    path = folder / name
    engine = sa.create_engine(f"sqlite:///{path}")
    observations.metadata.create_all(engine, tables=[observations, observations_active])
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _stamps(hours: int) -> list[str]:
    return [(EPOCH + dt.timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S.000000") for h in range(hours)]


def staging(folder: Path, order: str, once: bool = False) -> float:
    """Seconds spent inserting 200 loads of 5,000 rows, in `order` ('period' or 'key'); with `once`, by
    the executor's statement, binding each load's constant columns once."""
    conn = _fresh(folder, f"stage-{order}-{once}.db")
    series = [f"S{i:02d}" for i in range(12)]
    per_load = 5000 // len(series)
    stamps = _stamps(200 * per_load)
    spent = 0.0
    for n in range(200):
        lid = f"BACKFILL_20160101_EIA_abcdef/ELEC.DEMAND/extract/{n:05d}"
        hours = range(n * per_load, (n + 1) * per_load)
        pairs = [(s, h) for h in hours for s in series] if order == "period" else \
            [(s, h) for s in series for h in hours]
        head = [lid, "eia", "ELEC.DEMAND"]
        flat = [v for s, h in pairs for v in ((s, stamps[h], float(h), "MWh", None) if once else
                                              (*head, s, stamps[h], float(h), "MWh", None))]
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        if once:
            for i in range(0, len(flat), 5000):
                part = flat[i:i + 5000]
                conn.execute(_sqlite_insert(len(part) // 5), head + part)
        else:
            for i in range(0, len(flat), 8000):
                part = flat[i:i + 8000]
                conn.execute("INSERT INTO observations VALUES " + ",".join(["(?,?,?,?,?,?,?,?)"] * (len(part) // 8)),
                             part)
        conn.execute("COMMIT")
        spent += time.perf_counter() - started
    conn.close()
    return spent


def commit(folder: Path, how: str) -> float:
    """Seconds to make 62 staged loads (7 series, 5 years hourly) active, `how` 'load' or 'series'."""
    conn = _fresh(folder, f"commit-{how}.db")
    series = ["BPAT", "CISO", "DUK", "ERCO", "FPL", "ISNE", "MISO"]
    hours = 43824
    stamps = _stamps(hours)
    per = hours // 62 + 1
    lids = [f"BACKFILL_20231231_EIA_84cad9/ELEC.DEMAND/extract/{n:05d}" for n in range(62)]
    conn.execute("BEGIN")
    for n, lid in enumerate(lids):
        conn.executemany("INSERT INTO observations VALUES (?,?,?,?,?,?,?,?)",
                         [(lid, "eia", "ELEC.DEMAND", s, stamps[h], 1.0, "MWh", None)
                          for s in series for h in range(n * per, min(hours, (n + 1) * per))])
    conn.execute("COMMIT")
    cols = "source, dataset, series_id, period, load_id"
    marks = ",".join("?" * len(lids))
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    if how == "load":
        for lid in lids:
            conn.execute(f"INSERT INTO observations_active ({cols}) SELECT {cols} FROM observations "
                         "WHERE load_id = ?", (lid,))
    else:
        for sid in series:
            conn.execute(f"INSERT INTO observations_active ({cols}) SELECT {cols} FROM observations "
                         f"WHERE load_id IN ({marks}) AND source = 'eia' AND dataset = 'ELEC.DEMAND' "
                         "AND series_id = ?", (*lids, sid))
        conn.execute(f"SELECT count(*) FROM observations WHERE load_id IN ({marks})", lids).fetchone()
    conn.execute("COMMIT")
    spent = time.perf_counter() - started
    assert conn.execute("SELECT count(*) FROM observations_active").fetchone()[0] == 306_768
    conn.close()
    return spent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            period, key, once = staging(folder, "period"), staging(folder, "key"), staging(folder, "key", True)
            by_load, by_series = commit(folder, "load"), commit(folder, "series")
        print(f"round {r + 1}: staging 999,600 rows: period order {period:.2f} s "
              f"({period / 999_600 * 1e6:.2f} us/row), "
              f"key order {key:.2f} s ({key / 999_600 * 1e6:.2f} us/row), "
              f"key order, constants bound once {once:.2f} s ({once / 999_600 * 1e6:.2f} us/row) | "
              "commit 306,768 rows: "
              f"load by load {by_load:.2f} s, series by series {by_series:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
