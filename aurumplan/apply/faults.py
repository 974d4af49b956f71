"""Crash points for the kill -9 tests: `AURUMPLAN_CRASH_AT=<point>[:<n>]` kills the process there.

The process sends itself SIGKILL at the n-th time (default 1st) it reaches the named point,
exactly as an operator's kill -9 or an OOM kill would stop it: no cleanup, no finally blocks.
"""

from __future__ import annotations

import os
import signal
import threading

_counts: dict[str, int] = {}
_lock = threading.Lock()


def crash_point(name: str) -> None:
    spec = os.environ.get("AURUMPLAN_CRASH_AT")
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        if _counts[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
