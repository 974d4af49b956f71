"""The state store's two faces: planning only reads (StateReader), apply also writes (StateStore).

Planning code takes a StateReader so that the type checker, not discipline, keeps it from
writing. Times are epoch seconds UTC; `now` parameters exist so tests can move the clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

from aurumplan.intervals import Interval, IntervalMap, IntervalSet
from aurumplan.state.models import (
    Checkpoint,
    Lease,
    LeaseRange,
    Operation,
    QualityResult,
    RunRecord,
    SeriesKey,
    WatermarkRef,
    WatermarkRow,
)


class StateReader(ABC):
    """What planning, status and reports may ask of the state."""

    @property
    @abstractmethod
    def url(self) -> str:
        """The store's URL with any password masked."""

    @abstractmethod
    def serial(self) -> int:
        """A counter bumped by every committed change: equal serials mean nothing changed."""

    @abstractmethod
    def lineage(self) -> str:
        """A uuid fixed when the store was created: tells two stores apart."""

    @abstractmethod
    def watermarks(self, source: str, dataset: str | None = None,
                   series: Iterable[str] | None = None) -> dict[SeriesKey, IntervalMap[WatermarkRef]]:
        """Which load holds each committed interval, per (dataset, series_id)."""

    @abstractmethod
    def watermark_rows(self, source: str, dataset: str | None = None,
                       series: Iterable[str] | None = None) -> list[WatermarkRow]:
        """The stored rows behind watermarks(), with records and commit times."""

    @abstractmethod
    def get_operation(self, op_id: str) -> Operation:
        """The operation, or OperationError if there is none with this id."""

    @abstractmethod
    def find_operation(self, op_id: str) -> Operation | None:
        """The operation, or None."""

    @abstractmethod
    def list_operations(self, active_only: bool = False) -> list[Operation]:
        """Operations, oldest first; active means planned, running or paused."""

    @abstractmethod
    def checkpoints(self, op_id: str) -> list[Checkpoint]:
        """The operation's node checkpoints, by node id."""

    @abstractmethod
    def quality_results(self, op_id: str) -> list[QualityResult]:
        """Quality scores recorded for the operation, oldest first."""

    @abstractmethod
    def leases(self, active_only: bool = True, now: float | None = None) -> list[Lease]:
        """Leases; active_only keeps the live ones (not released, heartbeat within ttl)."""

    @abstractmethod
    def recent_runs(self, source: str, limit: int = 5) -> list[RunRecord]:
        """What the source's last single-run, succeeded operations measured, newest first (estimates)."""


class StateStore(StateReader):
    """The state as apply, lifecycle commands and `state unlock` change it."""

    @abstractmethod
    def set_watermarks(self, source: str, dataset: str, series_id: str, where: IntervalSet,
                       ref: WatermarkRef, records: int | Mapping[Interval, int] = 0, *,
                       fence: tuple[str, int] | None = None, now: float | None = None) -> int:
        """Map every instant of `where` to ref, splitting what it overlaps; returns the new serial."""

    @abstractmethod
    def set_watermarks_many(self, source: str, dataset: str,
                            items: Iterable[tuple[str, IntervalSet, WatermarkRef, int]], *,
                            fence: tuple[str, int] | None = None, now: float | None = None,
                            clear: Mapping[str, IntervalSet] | None = None) -> int:
        """set_watermarks for (series_id, where, ref, records) items in one transaction, after
        forgetting `clear` (series id -> periods) in it."""

    @abstractmethod
    def remove_watermarks(self, source: str, dataset: str, series_id: str, where: IntervalSet, *,
                          now: float | None = None) -> int:
        """Forget `where` (e.g. after a rollback); returns the new serial."""

    @abstractmethod
    def create_operation(self, op_id: str, kind: str, source: str, *, status: str = "planned",
                         reason: str | None = None, owner: str | None = None,
                         labels: Mapping[str, Any] | None = None, spec: str | None = None,
                         spec_sha256: str | None = None, plan: str | None = None,
                         host: str | None = None, pid: int | None = None,
                         summary: Mapping[str, Any] | None = None, parent_id: str | None = None,
                         now: float | None = None) -> Operation:
        """Record a new operation; OperationError if the id exists."""

    @abstractmethod
    def update_operation(self, op_id: str, *, status: str | None = None,
                         summary: Mapping[str, Any] | None = None, **fields: Any) -> Operation:
        """Change status, summary (replaced whole) or other columns; bumps the serial."""

    @abstractmethod
    def upsert_checkpoint(self, op_id: str, node_id: str, **fields: Any) -> Checkpoint:
        """Create or update a node's checkpoint with the given columns."""

    @abstractmethod
    def add_quality_result(self, op_id: str, dataset: str, score: float, passed: bool, *,
                           node_id: str | None = None, detail: Mapping[str, Any] | None = None,
                           now: float | None = None) -> QualityResult:
        """Record a quality score."""

    @abstractmethod
    def acquire_leases(self, operation_id: str, ranges: Iterable[LeaseRange], host: str, pid: int,
                       ttl_seconds: float = 60.0, now: float | None = None, *, priority: int | None = 1,
                       ticket: str | None = None) -> int:
        """Lease every range or none (LeaseConflictError); returns a new, higher fencing token."""

    @abstractmethod
    def heartbeat(self, operation_id: str, token: int, now: float | None = None) -> None:
        """Keep the leases of token alive; FencedError if any was broken or taken over."""

    @abstractmethod
    def check_fence(self, operation_id: str, token: int) -> None:
        """FencedError unless the operation still holds every lease issued with token."""

    @abstractmethod
    def release_leases(self, operation_id: str, below_token: int | None = None) -> int:
        """Release the operation's leases (with below_token, those of older tokens); returns how many."""

    @abstractmethod
    def break_lease(self, lease_id: int) -> Lease:
        """Release one lease whatever its holder (`state unlock ID --force`)."""

    @abstractmethod
    def reserve_request(self, source: str, windows: Iterable[tuple[float, float]],
                        now: float | None = None, n: int = 1, *, holder: str | None = None,
                        priority: int = 1) -> float:
        """0 and the request logged if it fits every (window seconds, max requests); else seconds to wait."""

    @abstractmethod
    def close(self) -> None:
        """Release database connections."""
