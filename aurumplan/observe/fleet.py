"""One row of figures per operation, and quota used per source: what every fleet view reads.

Figures of an ended operation come from its summary (summed over every run); those of one still
under way come from its checkpoints through inspect.progress, the one progress calculation.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from aurumplan.catalog import Catalog
from aurumplan.config import Quota
from aurumplan.inspect.progress import progress, stored_plan
from aurumplan.state import Operation, SqlStateStore
from aurumplan.state.holders import holder, shown_status

DAY = 86400.0
FIGURES = ("requests", "records", "bytes", "throttles", "retries")


@dataclass
class OpFigures:
    """What the fleet views know of one operation."""

    id: str
    kind: str
    source: str
    owner: str | None
    status: str
    created_at: float
    updated_at: float
    requests: int = 0
    records: int = 0
    bytes: int = 0
    throttles: int = 0
    retries: int = 0
    failures: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the applying process over every run (0 while one runs)
    quota_days: float = 0.0  # requests / the source's per_day quota: days of quota the operation used
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fleet_status(store: SqlStateStore, op: Operation) -> str:
    """The shown status, where an apply serving its own /metrics still counts as running.

    holders.process_alive treats this process's pid as gone (a resume in the same process takes over),
    but the exporter of `apply --metrics-port` runs inside the apply that holds the operation.
    """
    shown, _ = shown_status(store, op)
    if shown == "interrupted":
        h = holder(store, op.id)
        if h.expired_at is None and h.pid == os.getpid() and h.host == socket.gethostname():
            return "running"
    return shown


def figures(store: SqlStateStore, catalog: Catalog, op: Operation, now: float | None = None) -> OpFigures:
    """The operation's counters, live for one that runs."""
    shown = fleet_status(store, op)
    s = op.summary or {}
    f = OpFigures(op.id, op.kind, op.source, op.owner, shown, op.created_at, op.updated_at)
    if "requests" in s:
        for k in FIGURES:
            setattr(f, k, int(s.get(k) or 0))
        f.errors = [str(e) for e in s.get("failures") or []]
        f.outcomes = {str(k): int(v) for k, v in (s.get("outcomes") or {}).items()}
        f.duration_seconds = float(s.get("duration_seconds") or 0.0)
        f.cpu_seconds = float(s.get("cpu_seconds") or 0.0)
    else:
        p = progress(stored_plan(op), store.checkpoints(op.id), catalog.sources.get(op.source), shown == "running")
        for k in FIGURES:
            setattr(f, k, int(getattr(p, k)))
        f.errors = p.errors
        f.outcomes = dict(p.outcomes)
        if p.first_start is not None:
            end = time.time() if now is None else now
            f.duration_seconds = round(max(0.0, (end if shown == "running" else op.updated_at) - p.first_start), 3)
    f.failures = len(f.errors)
    source = catalog.sources.get(op.source)
    cap = daily_cap(source.quota) if source is not None else None
    f.quota_days = round(f.requests / cap, 4) if cap else 0.0
    return f


def fleet(store: SqlStateStore, catalog: Catalog, now: float | None = None) -> list[OpFigures]:
    """Figures of every operation, oldest first."""
    return [figures(store, catalog, op, now) for op in store.list_operations()]


def quota_used(store: SqlStateStore, source: str, window: float = DAY, now: float | None = None) -> int:
    """Requests the shared request_log holds for source in the last `window` seconds (the sliding day)."""
    return store.requests_since(source, (time.time() if now is None else now) - window)


def daily_cap(quota: Quota) -> int | None:
    """Requests a source's quota allows per day, if it has a daily window."""
    return int(quota.per_day) if quota.per_day is not None else None

