"""Who runs an operation now: its newest lease, heartbeating, held by a process that exists.

`interrupted` is not a stored status: it is a `running` operation whose holder is gone (killed,
or its lease expired). Status views and `resume` derive it here (docs/architecture.md).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from aurumplan.intervals import fmt_ts
from aurumplan.state.models import Lease, Operation
from aurumplan.state.store import SqlStateStore


@dataclass(frozen=True)
class Holder:
    """Who runs an operation now, if anyone."""

    alive: bool
    host: str | None = None
    pid: int | None = None
    expired_at: float | None = None

    def describe(self) -> str:
        if self.host is None:
            return "no process holds it"
        gone = f"holder pid {self.pid} on host {self.host} is gone"
        if self.expired_at is not None:
            gone += f", lease expired at {fmt_ts(int(self.expired_at))}"
        return gone


def process_alive(host: str, pid: int) -> bool:
    """False only when the process provably died: same host and no such pid (a kill -9)."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder(store: SqlStateStore, op_id: str, now: float | None = None) -> Holder:
    """The live process running op_id: its newest unreleased lease, heartbeating and not dead."""
    at = time.time() if now is None else now
    mine: list[Lease] = [x for x in store.leases(active_only=False) if x.operation_id == op_id and not x.released]
    if not mine:
        op = store.get_operation(op_id)
        return Holder(False, op.host, op.pid)
    newest = max(mine, key=lambda x: x.token)
    fresh = at - newest.heartbeat_at < newest.ttl_seconds
    if fresh and process_alive(newest.host, newest.pid):
        return Holder(True, newest.host, newest.pid)
    return Holder(False, newest.host, newest.pid, None if fresh else newest.heartbeat_at + newest.ttl_seconds)


def shown_status(store: SqlStateStore, op: Operation) -> tuple[str, str | None]:
    """The status to show and, for an interrupted one, why and what to do."""
    if op.status != "running":
        return op.status, None
    h = holder(store, op.id)
    if h.alive:
        return "running", None
    return "interrupted", f"interrupted ({h.describe()}): resume it with `aurumplan resume {op.id}`"
