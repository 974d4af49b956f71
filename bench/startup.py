"""Start-up of the CLI: import time and whole-process wall time of `--help`, `--version` and a quickstart plan.

Issue 18: `aurumplan --help`, `aurumplan --version` and `aurumplan plan quickstart.yaml` (in a project made
by the README's first command: a copy of examples/ where `aurumplan apply quickstart.yaml --auto-approve`
ran) under 0.3 s of import time. Import time is what `python -X importtime` reports for the console
script: the sum of the cumulative microseconds of the top-level imports. Wall time is the whole process
(interpreter start to exit), measured from outside in separate runs without -X importtime, and CPU time
(user + system) of those runs: on a machine other work shares, wall and import times grow with the
load, CPU time much less.

    .venv/bin/python bench/startup.py [--runs 5] [--apply] [--modules]

Prints a table of medians over the runs; `--apply` adds an apply of the quickstart into a fresh state
(each run its own copy of the project), `--modules` the heavy third-party modules each command imports.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "aurumplan"
GOAL_S = 0.3
HEAVY = ("sqlalchemy", "networkx", "pydantic", "httpx", "psycopg", "jinja2", "pyarrow", "pyhocon", "rich",
         "deepdiff", "ruamel")
COMMANDS: dict[str, list[str]] = {
    "aurumplan --help": ["--help"],
    "aurumplan --version": ["--version"],
    "aurumplan plan quickstart.yaml": ["plan", "quickstart.yaml"],
}
APPLY = ["apply", "quickstart.yaml", "--auto-approve"]


def make_project(parent: Path, name: str = "project", applied: bool = True) -> Path:
    """A copy of examples/ (no state); with `applied`, after the README's first command ran in it."""
    project = parent / name
    shutil.copytree(ROOT / "examples", project, ignore=shutil.ignore_patterns(".aurumplan"))
    if applied:
        run(project, APPLY)
    return project


def run(cwd: Path, args: list[str], importtime: bool = False) -> subprocess.CompletedProcess[str]:
    flags = ["-X", "importtime"] if importtime else []
    # Compiled modules, as pip installs them: without PYTHONDONTWRITEBYTECODE (set on this machine) the
    # first, untimed apply of make_project writes them; with it every start compiled ~120 modules again.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPROFILEIMPORTTIME", "AURUMPLAN_CONFIG", "PYTHONDONTWRITEBYTECODE")}
    out = subprocess.run([sys.executable, *flags, str(SCRIPT), *args], cwd=cwd, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"`aurumplan {' '.join(args)}` exited {out.returncode}: {out.stderr.strip()[-500:]}")
    return out


def import_log(stderr: str) -> list[tuple[int, int, str]]:
    """(depth, cumulative µs, module) per line of -X importtime output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.split("|")
        rows.append(((len(name) - len(name.lstrip(" ")) - 1) // 2, int(cumulative), name.strip()))
    return rows


def import_seconds(rows: list[tuple[int, int, str]]) -> float:
    return sum(cum for depth, cum, _ in rows if depth == 0) / 1e6


def heavy_modules(rows: list[tuple[int, int, str]]) -> list[str]:
    return sorted({name.split(".")[0] for _, _, name in rows} & set(HEAVY))


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def measure(runs: int, fresh: Callable[[], Path], args: list[str]) -> tuple[float, float, float, list[str]]:
    """Median import seconds, wall seconds and CPU seconds, and the heavy modules of `aurumplan ARGS`."""
    imports, walls, cpus, heavy = [], [], [], []
    for _ in range(runs):
        out = run(fresh(), args, importtime=True)
        rows = import_log(out.stderr)
        imports.append(import_seconds(rows))
        heavy = heavy_modules(rows)
        cwd = fresh()
        t0, c0 = time.perf_counter(), cpu_seconds()
        run(cwd, args)
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    return statistics.median(imports), statistics.median(walls), statistics.median(cpus), heavy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--apply", action="store_true", help="also an apply of the quickstart into a fresh state")
    ap.add_argument("--modules", action="store_true", help="list the heavy third-party modules each command imports")
    opts = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aurumplan-startup-") as tmp:
        base = Path(tmp)
        project = make_project(base)
        rows: list[tuple[str, float, float, float, list[str]]] = []
        for label, args in COMMANDS.items():
            rows.append((label, *measure(opts.runs, lambda: project, args)))
        if opts.apply:
            count = iter(range(10**6))
            rows.append(("aurumplan apply quickstart.yaml (fresh state)",
                         *measure(opts.runs, lambda: make_project(base, f"p{next(count)}", applied=False), APPLY)))
    print(f"median of {opts.runs} runs; python {sys.version.split()[0]}; load average {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after; goal: imports < {GOAL_S} s")
    print("| command | import time (-X importtime) | wall time (whole process) | CPU time (whole process) |")
    print("|---|---|---|---|")
    for label, imp, wall, cpu, _ in rows:
        print(f"| `{label}` | {imp:.3f} s{'' if imp < GOAL_S else ' (over)'} | {wall:.3f} s | {cpu:.3f} s |")
    if opts.modules:
        print()
        for label, _, _, _, heavy in rows:
            print(f"{label}: {', '.join(heavy) or 'none of ' + ', '.join(HEAVY)}")


if __name__ == "__main__":
    main()
