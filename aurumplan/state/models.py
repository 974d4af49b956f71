"""Records the state store hands out: plain frozen values, detached from any database session."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from aurumplan.errors import OperationError

OpStatus = Literal["planned", "running", "paused", "failed", "halted", "cancelled", "succeeded", "rolled_back"]
OP_STATUSES: frozenset[str] = frozenset(
    ("planned", "running", "paused", "failed", "halted", "cancelled", "succeeded", "rolled_back"))
ACTIVE_STATUSES: frozenset[str] = frozenset(("planned", "running", "paused"))
RETRYABLE_STATUSES: frozenset[str] = frozenset(("failed", "halted", "cancelled", "rolled_back"))
"""Ended without its data current: planning the same spec again starts the next attempt."""
OPERATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
"""What an operation id may hold: it names files (failure logs) and load ids, so no `/`, `.` or spaces."""
"""Stored statuses; `interrupted` is derived (running, its holder gone): see apply/lifecycle.py."""
CheckpointStatus = Literal["pending", "running", "staged", "committed", "partial", "failed", "skipped"]
CHECKPOINT_STATUSES: frozenset[str] = frozenset(
    ("pending", "running", "staged", "committed", "partial", "failed", "skipped"))
"""`partial`: a commit node that made some of its dataset current (`commit: progressive`)."""

SeriesKey = tuple[str, str]
"""(dataset, series_id)."""
LeaseRange = tuple[str, str, str, int, int]
"""(source, dataset, series_id, start, end): a half-open range of one series."""


class WatermarkRef(NamedTuple):
    """Which load holds an interval: the value of the watermark interval maps.

    A named tuple rather than a frozen dataclass: planning builds one per distinct load read
    (100,000s), and a tuple is built 3-4x faster. Same fields, constructor, hash and repr; immutable;
    equal to another ref with the same fields (and, being a tuple, to a plain tuple of them).
    """

    load_id: str
    operation_id: str
    checksum: str | None = None
    schema_version: str | None = None


@dataclass(frozen=True)
class WatermarkRow:
    source: str
    dataset: str
    series_id: str
    start: int
    end: int
    ref: WatermarkRef
    records: int
    committed_at: float


@dataclass(frozen=True)
class Operation:
    id: str
    kind: str
    source: str
    status: str
    reason: str | None
    owner: str | None
    labels: dict[str, Any]
    spec: str | None
    spec_sha256: str | None
    plan: str | None
    created_at: float
    updated_at: float
    host: str | None
    pid: int | None
    summary: dict[str, Any]
    parent_id: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class Checkpoint:
    operation_id: str
    node_id: str
    status: str = "pending"
    load_id: str | None = None
    requests: int = 0
    records: int = 0
    bytes: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    checksum: str | None = None
    error: str | None = None
    attempts: int = 0
    external_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


CHECKPOINT_FIELDS: frozenset[str] = frozenset(
    ("status", "load_id", "requests", "records", "bytes", "started_at", "finished_at", "checksum",
     "error", "attempts", "external_id", "detail"))


@dataclass(frozen=True)
class Lease:
    id: int
    operation_id: str
    source: str
    dataset: str
    series_id: str
    start: int
    end: int
    host: str
    pid: int
    token: int
    acquired_at: float
    heartbeat_at: float
    ttl_seconds: float
    released: bool
    paused: bool = False
    """Held by a paused operation: live without a heartbeat until it is resumed or cancelled."""

    def live(self, now: float) -> bool:
        """Held: not released and heartbeated within its ttl."""
        return not self.released and now - self.heartbeat_at < self.ttl_seconds


@dataclass(frozen=True)
class OperationEvent:
    """One line of an operation's audit trail: what happened to it, when, by whom."""

    operation_id: str
    at: float
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class QualityResult:
    operation_id: str
    dataset: str
    node_id: str | None
    score: float
    passed: bool
    detail: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class RunRecord:
    """What one finished run of an operation measured, for the plan's estimates (catalog/estimate.py).

    Times are epoch seconds: `began` when apply started (None for runs recorded before it was kept),
    `first_start`/`last_end` the first extract node's start and the last one's end, `ended` when the
    operation's outcome was written. `requests` counts every request sent, retries included.
    """

    operation_id: str
    began: float | None
    created_at: float
    first_start: float
    last_end: float
    ended: float
    requests: int
    retries: int
    throttles: int
    records: int
    concurrency: int
    rate_limit: float | str | None
    extract_nodes: int
    other_nodes: int


@dataclass(frozen=True)
class Freeze:
    """A source frozen by `aurumplan freeze` (docs/emergency.md): plans of it are `! conflict`."""

    source: str
    reason: str
    by: str
    at: float


def check_operation_id(op_id: str) -> str:
    """Refuse an id that could name a path or break a load id (`BACKFILL_../../etc`)."""
    if not isinstance(op_id, str) or not OPERATION_ID.fullmatch(op_id):
        raise OperationError(f"invalid operation id {op_id!r}: ids are letters, digits, '_' and '-', "
                             "e.g. BACKFILL_20241231_EIA_3f9a1c", hint="`aurumplan ops list` shows them")
    return op_id
