"""Who is served first (state/waiters.py), on SQLite and PostgreSQL: lease waiters by priority then arrival,
dead waiters never block, the shared quota yields to a waiting higher priority without starving the lower one,
and a state made before the queues existed gains them when opened."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from aurumplan.errors import LeaseConflictError
from aurumplan.state import open_state
from aurumplan.state.waiters import AGING

H = 3600
PJM = ("eia", "ELEC.DEMAND", "PJM")
LOW, NORMAL, HIGH = 0, 1, 2


def test_a_freed_range_goes_to_the_higher_priority_waiter_although_the_lower_came_first(db_url: str) -> None:
    store = open_state(db_url)
    store.acquire_leases("HOLD", [(*PJM, 0, 48 * H)], "h", 1, now=1000.0)
    store.register_waiter("t-low", "OP_LOW", "eia", LOW, [(*PJM, 0, 24 * H)], "h", 2, now=1001.0)
    store.register_waiter("t-high", "OP_HIGH", "eia", HIGH, [(*PJM, 12 * H, 36 * H)], "h", 3, now=1002.0)
    assert [w.operation_id for w in store.waiters(now=1003.0)] == ["OP_HIGH", "OP_LOW"]
    store.release_leases("HOLD")
    with pytest.raises(LeaseConflictError) as err:
        store.acquire_leases("OP_LOW", [(*PJM, 0, 24 * H)], "h", 2, priority=LOW, ticket="t-low", now=1003.0)
    assert "awaited by operation OP_HIGH (priority high" in str(err.value)
    store.acquire_leases("OP_HIGH", [(*PJM, 12 * H, 36 * H)], "h", 3, priority=HIGH, ticket="t-high", now=1003.5)
    assert [w.operation_id for w in store.waiters(now=1004.0)] == ["OP_LOW"]  # the winner left the queue
    store.release_leases("OP_HIGH")
    store.acquire_leases("OP_LOW", [(*PJM, 0, 24 * H)], "h", 2, priority=LOW, ticket="t-low", now=1005.0)
    assert store.waiters(now=1005.0) == []
    store.close()


def test_equal_priorities_are_served_in_order_of_arrival_and_disjoint_ranges_never_wait(db_url: str) -> None:
    store = open_state(db_url)
    store.register_waiter("t-1", "OP_1", "eia", NORMAL, [(*PJM, 0, 24 * H)], "h", 1, now=1000.0)
    store.register_waiter("t-2", "OP_2", "eia", NORMAL, [(*PJM, 0, 24 * H)], "h", 2, now=1001.0)
    store.register_waiter("t-1", "OP_1", "eia", NORMAL, [(*PJM, 0, 24 * H)], "h", 1, now=1002.0)  # heartbeat
    with pytest.raises(LeaseConflictError, match="awaited by operation OP_1"):
        store.acquire_leases("OP_2", [(*PJM, 0, 24 * H)], "h", 2, ticket="t-2", now=1002.5)
    with pytest.raises(LeaseConflictError, match="awaited by operation OP_1"):  # a newcomer is behind both
        store.acquire_leases("OP_3", [(*PJM, 6 * H, 7 * H)], "h", 3, now=1002.5)
    store.acquire_leases("OP_4", [(*PJM, 24 * H, 48 * H)], "h", 4, now=1002.5)  # no waiter wants it
    store.acquire_leases("OP_5", [(*PJM, 6 * H, 7 * H)], "h", 5, priority=HIGH, now=1002.5)  # high: ahead of both
    store.close()


def test_a_dead_waiter_never_blocks(db_url: str) -> None:
    store = open_state(db_url)
    store.register_waiter("t-high", "OP_DEAD", "eia", HIGH, [(*PJM, 0, 24 * H)], "h", 9, ttl_seconds=10, now=1000.0)
    with pytest.raises(LeaseConflictError, match="OP_DEAD"):
        store.acquire_leases("OP_LOW", [(*PJM, 0, H)], "h", 2, priority=LOW, now=1009.0)
    store.acquire_leases("OP_LOW", [(*PJM, 0, H)], "h", 2, priority=LOW, now=1010.5)  # no heartbeat for 10 s
    assert store.waiters(now=1010.5) == []
    store.close()


def test_the_shared_quota_serves_a_waiting_higher_priority_first_and_never_starves_the_lower(db_url: str) -> None:
    """One request a second; both operations ask every 0.25 s. The high one is served while it waits, until
    the low one has waited AGING s per level longer; then the low one gets its turn."""
    store = open_state(db_url)
    quota = [(1.0, 1.0)]
    assert store.reserve_request("eia", quota, now=100.0, holder="low", priority=LOW) == 0
    granted: list[tuple[float, str]] = []
    t = 100.1
    while t < 100.1 + 4 * AGING:
        for holder, level in (("low", LOW), ("high", HIGH)):  # low asks first: without the rule it would win
            if store.reserve_request("eia", quota, now=t, holder=holder, priority=level) == 0:
                granted.append((round(t, 2), holder))
        t += 0.25
    who = [h for _, h in granted]
    assert who[0] == "high" and "low" in who
    first_low = next(at for at, h in granted if h == "low")
    assert first_low - 100.1 <= 2 * AGING + 1.5  # it waited at most its aging bound (+ the window and a step)
    assert who.count("high") > who.count("low")
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(granted)]
    assert min(gaps) >= 1.0 - 1e-6  # and together they stayed inside the quota
    store.close()


def test_a_quota_waiter_that_stopped_asking_is_not_waited_for(db_url: str) -> None:
    store = open_state(db_url)
    quota = [(1.0, 1.0)]
    assert store.reserve_request("eia", quota, now=100.0, holder="low", priority=LOW) == 0
    assert store.reserve_request("eia", quota, now=100.5, holder="high", priority=HIGH) > 0  # now waiting
    assert store.reserve_request("eia", quota, now=101.2, holder="low", priority=LOW) > 0  # yields to it
    assert store.reserve_request("eia", quota, now=103.0, holder="low", priority=LOW) == 0  # high gone quiet
    store.close()


def test_a_state_made_before_the_queues_gains_them_when_opened(db_url: str) -> None:
    store = open_state(db_url)
    store.acquire_leases("OLD", [(*PJM, 0, H)], "h", 1, now=1000.0)
    store.close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE lease_waiters"))
        conn.execute(sa.text("DROP TABLE quota_waiters"))
    engine.dispose()
    store = open_state(db_url)
    assert [x.operation_id for x in store.leases(now=1001.0)] == ["OLD"]
    store.register_waiter("t", "OP", "eia", HIGH, [(*PJM, 0, H)], "h", 2, now=1001.0)
    assert [w.operation_id for w in store.waiters(now=1001.0)] == ["OP"]
    assert store.reserve_request("eia", [(1.0, 1.0)], now=1001.0, holder="x", priority=LOW) == 0
    store.close()


def test_a_resume_takes_back_its_own_ranges_and_a_rollback_is_not_queued(db_url: str) -> None:
    store = open_state(db_url)
    store.acquire_leases("OP_A", [(*PJM, 0, 24 * H)], "h", 1, now=1000.0)
    store.register_waiter("t-high", "OP_W", "eia", HIGH, [(*PJM, 0, 48 * H)], "h", 2, now=1001.0)
    store.acquire_leases("OP_A", [(*PJM, 0, 24 * H)], "h", 1, priority=LOW, now=1002.0)  # resume: its own range
    with pytest.raises(LeaseConflictError, match="OP_W"):
        store.acquire_leases("OP_A", [(*PJM, 0, 25 * H)], "h", 1, priority=LOW, now=1002.0)  # more than it held
    store.acquire_leases("ROLLBACK_X", [(*PJM, 24 * H, 48 * H)], "h", 3, priority=None, now=1002.0)
    store.close()
