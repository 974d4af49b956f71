"""Processes that compete for one state store, run by the concurrency tests.

`python -m tests.state.workers race URL OP_ID START_AT` acquires an overlapping lease at
START_AT (epoch seconds) and prints `won TOKEN` or `conflict`.
`python -m tests.state.workers quota URL START_AT SECONDS` reserves requests for SECONDS,
sleeping whenever told to wait, and prints how many were granted and refused.
"""

from __future__ import annotations

import os
import sys
import time

from aurumplan.errors import LeaseConflictError
from aurumplan.state import open_state

RACE_RANGE = ("eia", "ELEC.DEMAND", "PJM")
QUOTA = [(1.0, 5.0), (60.0, 1000.0)]


def _wait_until(at: float) -> None:
    while time.time() < at:
        time.sleep(0.001)


def race(url: str, op_id: str, start_at: float) -> None:
    store = open_state(url, create=False)
    offset = int(op_id.rsplit("-", 1)[1]) * 3600
    _wait_until(start_at)
    try:
        token = store.acquire_leases(op_id, [(*RACE_RANGE, offset, offset + 86400)], "host", os.getpid())
    except LeaseConflictError:
        print("conflict")
    else:
        print(f"won {token}")
    store.close()


def quota(url: str, start_at: float, seconds: float) -> None:
    store = open_state(url, create=False)
    granted = refused = 0
    _wait_until(start_at)
    while time.time() < start_at + seconds:
        wait = store.reserve_request("eia", QUOTA)
        if wait == 0:
            granted += 1
        else:
            refused += 1
            time.sleep(wait)
    print(granted, refused)
    store.close()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "race":
        race(args[0], args[1], float(args[2]))
    else:
        quota(args[0], float(args[1]), float(args[2]))
