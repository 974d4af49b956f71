"""Runs hostile-input cases through the CLI entry point in one process, measuring each one.

Used by tests/test_hostile_input.py as `python -m tests.hostile_worker CASES.json OUT.json`: each
case is a working folder and an argv; the result is its exit code, output, CPU seconds and wall
seconds, plus the process's peak memory. The address space is capped so a case that escaped its
limits fails here instead of taking the machine down.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sys
import time
from typing import Any

from aurumplan.cli.main import main


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_mb() -> float:
    """This process's own peak resident memory (VmHWM). Not getrusage's ru_maxrss: on Linux that keeps the
    high-water mark of the parent across fork and exec, so a worker started by a large pytest process
    would report the parent's memory as its own."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    os.chdir(case["cwd"])
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    c0, w0 = cpu(), time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(case["argv"])
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # a crash is exactly what the test looks for
            code = f"crash: {type(exc).__name__}: {exc}"
    return {"name": case["name"], "code": code, "stdout": out.getvalue()[-2000:],
            "stderr": "\n".join(err.getvalue().splitlines()[:40]), "cpu": cpu() - c0, "wall": time.monotonic() - w0,
            "peak_mb_after": peak_mb()}


def worker(cases_file: str, out_file: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
    with open(cases_file) as f:
        cases = json.load(f)
    results = [run_case(c) for c in cases]
    peak = peak_mb()
    with open(out_file, "w") as f:
        json.dump({"results": results, "peak_mb": peak}, f)


if __name__ == "__main__":
    worker(sys.argv[1], sys.argv[2])
