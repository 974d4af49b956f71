"""Leases on series ranges with fencing tokens, and a source's request quota shared by processes.

Both run under the store's write lock, so "check then insert" is atomic across processes.
A lease whose holder stopped heartbeating for ttl seconds no longer blocks anyone; whoever
takes the range over marks it released, so the old holder's next heartbeat is refused.
Who goes first when several wait (priority, then arrival) is state/waiters.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.errors import FencedError, LeaseConflictError, OperationError
from aurumplan.intervals import fmt_ts
from aurumplan.state import reads
from aurumplan.state.models import Lease, LeaseRange
from aurumplan.state.schema import lease_waiters as lw
from aurumplan.state.schema import leases as ls
from aurumplan.state.schema import request_log as rl
from aurumplan.state.sqlbase import text_query
from aurumplan.state.waiters import WaitersMixin, waiter_ahead

_EPS = 1e-6
_JITTER = 0.02


_lease = reads.lease


def _describe(held: Lease, now: float, paused: bool = False) -> str:
    where = f"{held.source} {held.dataset} {held.series_id} {fmt_ts(held.start)}..{fmt_ts(held.end)}"
    if paused:
        return f"{where} is held by paused operation {held.operation_id}: resume or cancel it"
    return (f"{where} is leased by operation {held.operation_id} (host {held.host}, pid {held.pid}, lease {held.id}, "
            f"acquired {now - held.acquired_at:.0f}s ago, last heartbeat {now - held.heartbeat_at:.0f}s ago)")


def _paused(conn: Connection) -> set[str]:
    return reads.paused_operations(text_query(conn))


def _limits(windows: Iterable[tuple[float, float]]) -> list[tuple[float, int]]:
    """(window, max) pairs as whole request counts: 0.5 per second becomes 1 per 2 seconds."""
    out = []
    for window, allowed in windows:
        if window <= 0 or allowed <= 0:
            raise ValueError(f"quota window {window}s / {allowed} requests must be positive")
        if allowed < 1:
            out.append((window / allowed, 1))
        else:
            out.append((float(window), math.floor(allowed)))
    return out


class LeasesMixin(WaitersMixin):
    """Leases, fencing and shared quota of SqlStateStore."""

    def _unreleased(self, conn: Connection, *where: Any) -> list[Lease]:
        q = sa.select(ls).where(ls.c.released == sa.false(), *where).order_by(ls.c.id)
        return [_lease(r) for r in conn.execute(q).mappings()]

    def acquire_leases(self, operation_id: str, ranges: Iterable[LeaseRange], host: str, pid: int,
                       ttl_seconds: float = 60.0, now: float | None = None, *, priority: int | None = 1,
                       ticket: str | None = None) -> int:
        """Lease every range or none. Refused (LeaseConflictError) while another operation holds one, or
        while a live waiter ahead of this apply (higher priority, then earlier arrival; ticket names this
        apply's own place in the queue) wants one it does not hold already; on success the ticket leaves the
        queue. priority None (a rollback) is not queued: it goes before every waiter."""
        wanted = list(ranges)
        for r in wanted:
            if r[4] <= r[3]:
                raise ValueError(f"empty lease range {r}")
        with self._write() as conn:
            at = self._now(now)
            sources = sorted({r[0] for r in wanted})
            others = self._unreleased(conn, ls.c.operation_id != operation_id, ls.c.source.in_(sources))
            by_series: dict[tuple[str, str, str], list[Lease]] = {}
            for held in others:
                by_series.setdefault((held.source, held.dataset, held.series_id), []).append(held)
            taken: set[int] = set()
            paused = _paused(conn) if others else set()
            for source, dataset, series_id, start, end in wanted:
                for held in by_series.get((source, dataset, series_id), []):
                    if held.start < end and start < held.end:
                        if held.operation_id in paused:
                            raise LeaseConflictError(_describe(held, at, paused=True), hint=(
                                f"`aurumplan resume {held.operation_id}` or `aurumplan cancel {held.operation_id}`"))
                        if held.live(at):
                            raise LeaseConflictError(_describe(held, at), hint=(
                                f"wait for it to finish, or `aurumplan state unlock {held.id} --force` "
                                "if that process is dead"))
                        taken.add(held.id)
            own = self._unreleased(conn, ls.c.operation_id == operation_id) if priority is not None else []
            queued = [r for r in wanted if not any((x.source, x.dataset, x.series_id) == r[:3] and x.start <= r[3]
                                                   and r[4] <= x.end for x in own)]  # a resume keeps its own
            ahead = waiter_ahead(conn, at, operation_id, queued, priority, ticket) \
                if priority is not None and queued else None
            if ahead is not None:
                raise LeaseConflictError(ahead, hint="apply with --wait to queue behind it")
            if ticket is not None:
                conn.execute(lw.delete().where(lw.c.ticket == ticket))
            if taken:
                conn.execute(ls.update().where(ls.c.id.in_(sorted(taken))).values(released=True))
            token = self._bump(conn, "fence")
            if wanted:
                conn.execute(ls.insert(), [
                    {"operation_id": operation_id, "source": s, "dataset": d, "series_id": sid, "start": a,
                     "end": b, "host": host, "pid": pid, "token": token, "acquired_at": at,
                     "heartbeat_at": at, "ttl_seconds": float(ttl_seconds), "released": False}
                    for s, d, sid, a, b in wanted])
            return token

    def _held(self, conn: Connection, operation_id: str, token: int) -> list[Lease]:
        q = sa.select(ls).where(ls.c.operation_id == operation_id, ls.c.token == token)
        found = [_lease(r) for r in conn.execute(q).mappings()]
        if not found:
            raise FencedError(f"operation {operation_id} holds no leases with token {token}")
        lost = [x for x in found if x.released]
        if lost:
            raise FencedError(f"operation {operation_id} lost lease {lost[0].id} "
                              f"({lost[0].dataset} {lost[0].series_id}): it was broken or taken over")
        return found

    def heartbeat(self, operation_id: str, token: int, now: float | None = None) -> None:
        with self._write() as conn:
            self._held(conn, operation_id, token)
            conn.execute(ls.update().where(ls.c.operation_id == operation_id, ls.c.token == token)
                         .values(heartbeat_at=self._now(now)))

    def check_fence(self, operation_id: str, token: int) -> None:
        with self._read() as conn:
            self._held(conn, operation_id, token)

    def release_leases(self, operation_id: str, below_token: int | None = None) -> int:
        """Release the operation's leases (only those older than below_token: a resume's earlier ones)."""
        cond = (ls.c.operation_id == operation_id) & (ls.c.released == sa.false())
        if below_token is not None:
            cond = cond & (ls.c.token < below_token)
        with self._write() as conn:
            return conn.execute(ls.update().where(cond).values(released=True)).rowcount

    def break_lease(self, lease_id: int) -> Lease:
        with self._write() as conn:
            row = conn.execute(sa.select(ls).where(ls.c.id == lease_id)).mappings().first()
            if row is None:
                raise OperationError(f"no lease {lease_id}", hint="`aurumplan state list` shows leases")
            conn.execute(ls.update().where(ls.c.id == lease_id).values(released=True))
        return _lease(row)

    def break_leases_of(self, operation_id: str) -> int:
        """Release every lease of an operation whatever its holder (`state unlock --operation`)."""
        return self.release_leases(operation_id)

    def leases(self, active_only: bool = True, now: float | None = None) -> list[Lease]:
        """Leases; active_only keeps the live ones and those of paused operations (they hold)."""
        at = self._now(now)
        with self._read() as conn:
            return reads.leases(text_query(conn), active_only, at)

    # -- quota -------------------------------------------------------------------------------

    def requests_since(self, source: str, since: float) -> int:
        """Requests the shared quota log holds for source after `since` (quota left, docs/operations.md#health)."""
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(rl.c.n), 0))
                                    .where(rl.c.source == source, rl.c.at > since)).scalar_one())

    def reserve_request(self, source: str, windows: Iterable[tuple[float, float]],
                        now: float | None = None, n: int = 1, *, holder: str | None = None,
                        priority: int = 1) -> float:
        """Leave now=None in concurrent use: the clock is then read under the lock, in order.

        With holder (one per applying operation) the request also takes its turn in the source's quota
        queue: it yields while a waiter with an earlier turn is live (state/waiters.py)."""
        limits = _limits(windows)
        for window, allowed in limits:
            if n > allowed:
                raise ValueError(f"{n} requests can never fit {allowed} per {window:g}s")
        with self._write() as conn:
            at = self._now(now)
            place = self.quota_queue(conn, source, holder, priority, at) if holder is not None else None
            if place is not None and place.behind:
                self.leave_or_join(conn, place, booked=False)
                return place.yield_wait
            wait = 0.0
            for window, allowed in limits:
                since = at - window
                used = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(rl.c.n), 0))
                                    .where(rl.c.source == source, rl.c.at > since)).scalar_one()
                excess = int(used) + n - allowed
                if excess <= 0:
                    continue
                oldest = conn.execute(sa.select(rl.c.at, rl.c.n).where(rl.c.source == source, rl.c.at > since)
                                      .order_by(rl.c.at).limit(excess)).all()
                freed = 0
                for t, k in oldest:
                    freed += k
                    if freed >= excess:
                        wait = max(wait, t + window - at + _EPS)
                        break
            if place is not None:
                self.leave_or_join(conn, place, booked=wait <= 0)
            if wait > 0:
                return wait + random.uniform(0, _JITTER)  # so that waiting processes take turns
            horizon = max(w for w, _ in limits) if limits else 0.0
            conn.execute(rl.delete().where(rl.c.source == source, rl.c.at <= at - horizon))
            conn.execute(rl.insert().values(source=source, at=at, n=n))
            return 0.0
