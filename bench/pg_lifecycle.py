"""Backfill, Replay and rollback of 61,488 rows on SQLite and PostgreSQL: the seconds of each (issue 18).

One year x 7 balancing authorities of hourly EIA demand from the local EIA API (its own process):
a Backfill, then a Replay of the same window (type correction, originals archived), then the
Replay rolled back, each timed in-process around api.apply_plan / api.rollback_apply. Goal: each
phase on PostgreSQL within 1.5x of SQLite.

    .venv/bin/python bench/pg_lifecycle.py [--runs 1] [--profile DIR] [--statements N] [--processes]

With --profile, each phase's cProfile (main thread) is written to DIR/<db>-<phase>.prof.

With --statements N, each phase's N costliest kinds of SQL statement are printed: how many, their
summed wall time and the thread that sent them. Only statements sent through SQLAlchemy are counted:
the rows the quality checks read through the driver's own cursor are not among them.

With --processes, each phase is an `aurumplan apply SPEC --auto-approve` or `aurumplan rollback OP
--auto-approve` process timed from outside, as a user runs it: start-up, imports, planning and the
driver's import included (the default times api.apply_plan / api.rollback_apply in one process, where
PostgreSQL's phases follow SQLite's and find every module imported).

With --runs above 1, a last line per phase gives its median on each database and their ratio.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply_throughput import PG, drop_pg_schema, pg_schema, start_server

from aurumplan import api

BAS = "[BPAT, CISO, DUK, ERCO, FPL, ISNE, MISO]"
WINDOW = "{start: '2019-01-01T00:00:00', end: '2020-01-01T00:00:00'}"


def spec(folder: Path, kind: str) -> Path:
    extra = "  type: correction\n  archive: {to: archive}\n" if kind == "Replay" else ""
    path = folder / f"{kind.lower()}.yaml"
    path.write_text(f"apiVersion: aurumplan/v1\nkind: {kind}\nmetadata: {{name: bench-{kind.lower()}, reason: bench}}\n"
                    "spec:\n"
                    f"  source: eia\n  datasets: [ELEC.DEMAND]\n  series: {BAS}\n  window: {WINDOW}\n"
                    f"  concurrency: 3\n  batchSize: 5000\n{extra}"
                    "  validation: {checks: [schema], threshold: 0.5}\n")
    return path


class Statements:
    """The wall time of every SQL statement sent through SQLAlchemy while `on`, by kind of statement (its
    text with parameters and numbers blanked) and thread."""

    def __init__(self) -> None:
        self.on = False
        self.seen: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._started = threading.local()
        import sqlalchemy as sa

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._before)
        sa.event.listen(sa.engine.Engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        self._started.t = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.on:
            kind = re.sub(r"(%\(\w+\)s(::\w+)?|\?|\b\d+\b)(, *(%\(\w+\)s(::\w+)?|\?|\b\d+\b))*", "..",
                          " ".join(statement.split()))
            thread = re.sub(r"[_-]\d+$", "", threading.current_thread().name)
            self.seen[(kind[:110], thread)].append(time.perf_counter() - self._started.t)

    def report(self, name: str, top: int) -> None:
        costliest = sorted(self.seen.items(), key=lambda kv: -sum(kv[1]))[:top]
        print(f"  {name}: {sum(len(v) for v in self.seen.values())} statements, "
              f"{sum(map(sum, self.seen.values())):.3f} s in all")
        for (kind, thread), times in costliest:
            print(f"    {len(times):5} x {1000 * sum(times):8.1f} ms  {thread[:24]:24} {kind}")
        self.seen.clear()


STATEMENTS: Statements | None = None
"""Set by --statements."""
TOP = 0


def timed(name: str, profile: Path | None, fn: Callable[[], Any]) -> tuple[float, Any]:
    prof = cProfile.Profile() if profile else None
    if STATEMENTS is not None:
        STATEMENTS.on = True
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    try:
        out = fn()
    finally:
        if STATEMENTS is not None:
            STATEMENTS.on = False
    if prof and profile:
        prof.disable()
        prof.dump_stats(profile / f"{name}.prof")
    elapsed = time.perf_counter() - t0
    if STATEMENTS is not None:
        STATEMENTS.report(f"{name} ({elapsed:.2f} s)", TOP)
    return elapsed, out


@contextmanager
def project(db: str, base_url: str) -> Iterator[Path]:
    """A temporary project folder whose state and warehouse are a SQLite file or a new PostgreSQL schema
    (dropped afterwards)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        schema = None
        if db == "sqlite":
            url = f"sqlite:///{folder / 'wh.db'}"
        else:
            schema = pg_schema()
            url = f"{PG}?options=-csearch_path%3D{schema}"
        try:
            (folder / "aurumplan.yaml").write_text(
                f"state: '{url}'\nwarehouse: '{url}'\nsources:\n  eia:\n    base_url: {base_url}\n"
                "    quota: {per_second: 10000}\n")
            yield folder
        finally:
            if schema:
                drop_pg_schema(schema)


def run(db: str, base_url: str, profile: Path | None) -> dict[str, float]:
    with project(db, base_url) as folder:
        ctx = api.context(folder / "aurumplan.yaml", folder)
        out: dict[str, float] = {}
        for kind in ("Backfill", "Replay"):
            plan = api.plan(spec(folder, kind), ctx).plan
            out[kind], result = timed(f"{db}-{kind.lower()}", profile, lambda p=plan: api.apply_plan(p, ctx))
            assert result.status == "succeeded", result.to_dict()
            out[f"{kind} records"] = result.counters.records
        op_id = result.operation_id
        out["rollback"], _ = timed(f"{db}-rollback", profile, lambda: api.rollback_apply(op_id, ctx))
        return out


def cli_run(db: str, base_url: str) -> dict[str, float]:
    """The same phases as `aurumplan apply SPEC --auto-approve` and `aurumplan rollback OP --auto-approve`,
    each a whole process timed from outside (start-up, imports and planning included), as a user runs them."""
    cli = str(Path(sys.executable).with_name("aurumplan"))
    with project(db, base_url) as folder:
        out: dict[str, float] = {}
        op_id = ""
        for kind in ("Backfill", "Replay", "rollback"):
            args = ["rollback", op_id] if kind == "rollback" else ["apply", str(spec(folder, kind))]
            t0 = time.perf_counter()
            done = subprocess.run([cli, *args, "--auto-approve", "--json"], cwd=folder, capture_output=True,
                                  text=True, check=False)
            out[kind] = time.perf_counter() - t0
            assert done.returncode == 0, done.stderr[-2000:]
            if kind != "rollback":
                summary = json.loads(done.stdout)
                op_id = summary["operation_id"]
                out[f"{kind} records"] = summary["records"]
        return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--profile", type=Path, default=None)
    ap.add_argument("--statements", type=int, default=0, metavar="N",
                    help="print each phase's N costliest kinds of SQL statement (in-process runs only)")
    ap.add_argument("--processes", action="store_true",
                    help="time each phase as a whole `aurumplan` process (start-up, imports and planning included)")
    args = ap.parse_args()
    if args.processes and (args.statements or args.profile):
        ap.error("--statements and --profile look inside one process; they do not apply with --processes")
    if args.statements:
        global STATEMENTS, TOP
        STATEMENTS, TOP = Statements(), args.statements
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("EIA_API_KEY", "bench-key")
    proc, base_url = start_server()
    seen: dict[tuple[str, str], list[float]] = defaultdict(list)
    try:
        for i in range(args.runs):
            res = {db: cli_run(db, base_url) if args.processes else run(db, base_url, args.profile)
                   for db in ("sqlite", "postgresql")}
            for phase in ("Backfill", "Replay", "rollback"):
                seen[("sqlite", phase)].append(res["sqlite"][phase])
                seen[("postgresql", phase)].append(res["postgresql"][phase])
                s, p = res["sqlite"][phase], res["postgresql"][phase]
                print(f"run {i + 1} {phase:9} SQLite {s:6.2f}s  PostgreSQL {p:6.2f}s  ratio {p / s:5.2f}"
                      + (f"  ({res['sqlite'][phase + ' records']:,.0f} records)" if phase != "rollback" else ""),
                      flush=True)
        if args.runs > 1:
            print_medians(seen)
    finally:
        proc.terminate()
        proc.wait()
    return 0


def print_medians(seen: dict[tuple[str, str], list[float]]) -> None:
    """Each phase's median on each database and the ratio of the medians: one run's ratio divides two
    noisy figures, so a fast SQLite run alone can push it past the goal."""
    for phase in ("Backfill", "Replay", "rollback"):
        s, p = statistics.median(seen[("sqlite", phase)]), statistics.median(seen[("postgresql", phase)])
        print(f"median ({len(seen[('sqlite', phase)])} runs) {phase:9} SQLite {s:6.2f}s  PostgreSQL {p:6.2f}s  "
              f"ratio {p / s:5.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
