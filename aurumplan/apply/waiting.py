"""`apply --wait`: queue for ranges another operation leases instead of refusing at once.

The applier registers in the state's queue (operation, priority, ranges, heartbeat) and tries again
every poll; the state store lets it take the ranges only when no live waiter ahead of it (higher
priority, then earlier arrival) wants one of them (state/waiters.py; docs/operations.md, "Priority").
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aurumplan.errors import LeaseConflictError
from aurumplan.state import LeaseRange, SqlStateStore
from aurumplan.state.waiters import PRIORITY


@dataclass
class Wait:
    """How long an apply waits for its ranges, and its place in the queue (kept across re-plans)."""

    timeout: float
    poll: float = 0.5
    ticket: str = field(default_factory=lambda: uuid.uuid4().hex)
    since: float | None = None  # first registration: an apply planned again keeps its place
    waited: bool = False  # it had to wait (its plan may be stale by then)
    replan: bool = False  # a spec, planned again when it went stale while waiting (keeps its place)


def level(priority: str) -> int:
    """The spec's priority as the queue's number (low 0, normal 1, high 2)."""
    return PRIORITY[priority]


def lease_or_wait(store: SqlStateStore, op_id: str, ranges: list[LeaseRange], host: str, pid: int,
                  ttl: float, priority: str, wait: Wait | None, stop: threading.Event,
                  hook: Callable[[str, dict[str, Any]], None]) -> int:
    """The fencing token of the leased ranges; without wait a conflict is raised at once."""
    if wait is None:
        return store.acquire_leases(op_id, ranges, host, pid, ttl_seconds=ttl, priority=level(priority))
    deadline = time.monotonic() + wait.timeout
    while True:
        try:
            return store.acquire_leases(op_id, ranges, host, pid, ttl_seconds=ttl, priority=level(priority),
                                        ticket=wait.ticket)
        except LeaseConflictError as exc:
            if time.monotonic() >= deadline or stop.is_set():
                store.remove_waiter(wait.ticket)
                raise LeaseConflictError(f"{exc.message} (waited {wait.timeout:g}s with --wait)",
                                         hint=exc.hint) from None
            source = ranges[0][0]
            w = store.register_waiter(wait.ticket, op_id, source, level(priority), ranges, host, pid,
                                      since=wait.since)
            if not wait.waited:
                hook("waiting", {"operation_id": op_id, "priority": priority, "reason": str(exc)})
            wait.since, wait.waited = w.since, True
        stop.wait(wait.poll)


def keep_place(store: SqlStateStore, op_id: str, ranges: list[LeaseRange], host: str, pid: int, priority: str,
               wait: Wait | None) -> None:
    """Back in the queue at the original arrival before giving up leases taken after a wait, so an
    apply that re-plans (the ranges changed while it waited) is not overtaken meanwhile."""
    if wait is not None and wait.waited and wait.replan and ranges:
        store.register_waiter(wait.ticket, op_id, ranges[0][0], level(priority), ranges, host, pid,
                              since=wait.since)


class PausedLeasesOnly:
    """The state as planning sees it for an apply that will wait: ranges leased by running operations
    are planned as usual (the apply queues for them); those of paused operations stay conflicts."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def leases(self, active_only: bool = True) -> list[Any]:
        return [x for x in self._state.leases(active_only=active_only) if getattr(x, "paused", False)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)
