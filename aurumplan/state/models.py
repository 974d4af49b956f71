"""Records the state store hands out: plain frozen values, detached from any database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

OpStatus = Literal["planned", "running", "paused", "failed", "cancelled", "succeeded", "rolled_back"]
OP_STATUSES: frozenset[str] = frozenset(
    ("planned", "running", "paused", "failed", "cancelled", "succeeded", "rolled_back"))
ACTIVE_STATUSES: frozenset[str] = frozenset(("planned", "running", "paused"))
CheckpointStatus = Literal["pending", "running", "staged", "committed", "failed", "skipped"]
CHECKPOINT_STATUSES: frozenset[str] = frozenset(
    ("pending", "running", "staged", "committed", "failed", "skipped"))

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

    def live(self, now: float) -> bool:
        """Held: not released and heartbeated within its ttl."""
        return not self.released and now - self.heartbeat_at < self.ttl_seconds


@dataclass(frozen=True)
class QualityResult:
    operation_id: str
    dataset: str
    node_id: str | None
    score: float
    passed: bool
    detail: dict[str, Any]
    created_at: float
