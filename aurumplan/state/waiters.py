"""Who is served first when operations wait: for leased ranges (`apply --wait`) and for a shared quota.

Both rules live in the state store, under its write lock, so every process applies them alike
(docs/operations.md, "Priority").

- **Leases.** A waiting apply registers (operation, priority, ranges, heartbeat). When a range frees,
  an apply takes it only if no live waiter wanting an overlapping range is ahead of it: higher priority,
  then earlier arrival (an apply that does not wait arrives now). A waiter whose heartbeat is older than
  its ttl is dead and blocks nobody.
- **Quota.** A request that finds no room registers its operation as waiting for the source. Its turn is
  its arrival minus AGING seconds per priority level; a request yields while a live waiter of the same
  source has an earlier turn. So a higher priority goes first, and no request waits behind newer ones
  for more than AGING x (levels apart) seconds: nothing starves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.intervals import fmt_ts
from aurumplan.state.models import LeaseRange
from aurumplan.state.schema import lease_waiters as lw
from aurumplan.state.schema import quota_waiters as qw
from aurumplan.state.sqlbase import SqlBase

PRIORITY = {"low": 0, "normal": 1, "high": 2}
NAMES = {v: k for k, v in PRIORITY.items()}
WAITER_TTL = 10.0
"""Seconds without a heartbeat after which a lease waiter is dead (waiters heartbeat every poll, ~0.5 s)."""
QUOTA_WAITER_TTL = 2.0
"""Seconds after which a quota waiter that stopped asking is gone (limiters ask at least every 0.5 s)."""
AGING = 5.0
"""Seconds of head start per priority level in the quota queue (the bound on how long a lower one yields)."""
_YIELD = 0.05


@dataclass(frozen=True)
class Waiter:
    """An apply waiting for leased ranges."""

    ticket: str
    operation_id: str
    source: str
    priority: int
    ranges: tuple[tuple[str, str, int, int], ...]  # (dataset, series_id, start, end)
    host: str
    pid: int
    since: float
    heartbeat_at: float
    ttl_seconds: float

    def live(self, now: float) -> bool:
        return now - self.heartbeat_at < self.ttl_seconds

    def ahead_of(self, priority: int, since: float) -> bool:
        """Served before an apply of this priority that arrived at since."""
        return self.priority > priority or (self.priority == priority and self.since < since)

    def overlaps(self, source: str, dataset: str, series_id: str, start: int, end: int) -> bool:
        return self.source == source and any(d == dataset and s == series_id and a < end and start < b
                                             for d, s, a, b in self.ranges)

    def describe(self, now: float) -> str:
        return (f"operation {self.operation_id} (priority {NAMES.get(self.priority, self.priority)}, "
                f"waiting {now - self.since:.0f}s, host {self.host}, pid {self.pid})")


def _waiter(row: Mapping[Any, Any]) -> Waiter:
    data = dict(row)
    data["ranges"] = tuple(tuple(r) for r in json.loads(data["ranges"]))
    return Waiter(**data)


def live_waiters(conn: Connection, now: float, sources: Iterable[str]) -> list[Waiter]:
    rows = conn.execute(sa.select(lw).where(lw.c.source.in_(sorted(set(sources))))).mappings()
    return [w for w in map(_waiter, rows) if w.live(now)]


def waiter_ahead(conn: Connection, now: float, operation_id: str, ranges: list[LeaseRange], priority: int,
                 ticket: str | None) -> str | None:
    """Why an apply may not take ranges yet: a live waiter ahead of it wants one of them (None: it may)."""
    waiters = live_waiters(conn, now, {r[0] for r in ranges})
    mine = next((w for w in waiters if w.ticket == ticket), None)
    since = mine.since if mine is not None else now
    for w in sorted(waiters, key=lambda w: (-w.priority, w.since)):
        if w.ticket == ticket or w.operation_id == operation_id or not w.ahead_of(priority, since):
            continue
        for source, dataset, series_id, start, end in ranges:
            if w.overlaps(source, dataset, series_id, start, end):
                return (f"{source} {dataset} {series_id} {fmt_ts(start)}..{fmt_ts(end)} is awaited by "
                        f"{w.describe(now)}, which goes first")
    return None


@dataclass(frozen=True)
class QuotaPlace:
    """A holder's place in a source's quota queue: queued (has a row), behind (must yield now)."""

    source: str
    holder: str
    priority: int
    at: float
    queued: bool
    behind: bool

    @property
    def yield_wait(self) -> float:
        """Seconds to wait before asking again because a live waiter has an earlier turn (0: none has)."""
        return _YIELD if self.behind else 0.0


class WaitersMixin(SqlBase):
    """The waiting queues of SqlStateStore (leases and shared quota)."""

    def register_waiter(self, ticket: str, operation_id: str, source: str, priority: int,
                        ranges: Iterable[LeaseRange], host: str, pid: int, *, since: float | None = None,
                        ttl_seconds: float = WAITER_TTL, now: float | None = None) -> Waiter:
        """Join (or heartbeat in) the queue for ranges; the first registration's arrival is kept,
        or `since` when given (an apply planned again after waiting keeps its place)."""
        at = self._now(now)
        mine = [(d, s, int(a), int(b)) for src, d, s, a, b in ranges if src == source]
        flat = [list(r) for r in mine]
        with self._write() as conn:
            old = conn.execute(sa.select(lw.c.since).where(lw.c.ticket == ticket)).scalar()
            first = since if since is not None else (old if old is not None else at)
            values = {"operation_id": operation_id, "source": source, "priority": int(priority),
                      "ranges": json.dumps(flat, separators=(",", ":")), "host": host, "pid": int(pid),
                      "since": float(first), "heartbeat_at": at, "ttl_seconds": float(ttl_seconds)}
            if old is None:
                conn.execute(lw.delete().where(lw.c.heartbeat_at + 10 * lw.c.ttl_seconds < at))  # long dead
                conn.execute(lw.insert().values(ticket=ticket, **values))
            else:
                conn.execute(lw.update().where(lw.c.ticket == ticket).values(**values))
        return Waiter(ticket, operation_id, source, int(priority), tuple(mine),
                      host, int(pid), float(first), at, float(ttl_seconds))

    def remove_waiter(self, ticket: str) -> None:
        with self._write() as conn:
            conn.execute(lw.delete().where(lw.c.ticket == ticket))

    def waiters(self, now: float | None = None) -> list[Waiter]:
        """Live lease waiters, in the order they will be served (per overlapping range)."""
        at = self._now(now)
        with self._read() as conn:
            rows = conn.execute(sa.select(lw)).mappings()
            return sorted((w for w in map(_waiter, rows) if w.live(at)), key=lambda w: (-w.priority, w.since))

    # -- quota ---------------------------------------------------------------------------------------

    def quota_queue(self, conn: Connection, source: str, holder: str, priority: int, at: float) -> QuotaPlace:
        """Where holder stands in the source's quota queue now (read under the write lock)."""
        rows = conn.execute(sa.select(qw).where(qw.c.source == source)).mappings().all()
        mine = next((r for r in rows if r["holder"] == holder), None)
        turn = (mine["since"] if mine is not None else at) - AGING * priority
        ahead = any(r["since"] - AGING * r["priority"] < turn for r in rows
                    if r["holder"] != holder and at - r["heartbeat_at"] < QUOTA_WAITER_TTL)
        return QuotaPlace(source, holder, priority, at, queued=mine is not None, behind=ahead)

    def leave_or_join(self, conn: Connection, place: QuotaPlace, booked: bool) -> None:
        """After a reservation: a granted holder leaves the queue, a refused one joins it (or heartbeats)."""
        q = (qw.c.source == place.source) & (qw.c.holder == place.holder)
        if booked:
            if place.queued:
                conn.execute(qw.delete().where(q))
            return
        if place.queued:
            conn.execute(qw.update().where(q).values(heartbeat_at=place.at, priority=place.priority))
        else:
            conn.execute(qw.insert().values(source=place.source, holder=place.holder, priority=place.priority,
                                            since=place.at, heartbeat_at=place.at))
            conn.execute(qw.delete().where(qw.c.source == place.source,
                                           qw.c.heartbeat_at < place.at - 10 * QUOTA_WAITER_TTL))
