"""Leases, fencing tokens and shared quota, within one process and between processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurumplan.errors import FencedError, LeaseConflictError, OperationError
from aurumplan.state import open_state
from tests.state.workers import QUOTA

ROOT = Path(__file__).resolve().parents[2]
H = 3600
PJM = ("eia", "ELEC.DEMAND", "PJM")


def test_overlap_is_refused_naming_the_holder(db_url: str) -> None:
    store = open_state(db_url)
    store.acquire_leases("OP_A", [(*PJM, 0, 24 * H)], "host-a", 4242, now=1000.0)
    with pytest.raises(LeaseConflictError) as err:
        store.acquire_leases("OP_B", [(*PJM, 48 * H, 72 * H), (*PJM, 12 * H, 36 * H)], "host-b", 7,
                             now=1030.0)
    message = str(err.value)
    assert "OP_A" in message and "host-a" in message and "4242" in message and "30s ago" in message
    assert [x.operation_id for x in store.leases(now=1030.0)] == ["OP_A"]  # all or nothing
    store.close()


def test_disjoint_ranges_are_both_granted_with_rising_tokens(db_url: str) -> None:
    store = open_state(db_url)
    t1 = store.acquire_leases("OP_A", [(*PJM, 0, 24 * H)], "h", 1)
    t2 = store.acquire_leases("OP_B", [(*PJM, 24 * H, 48 * H), ("eia", "ELEC.DEMAND", "MISO", 0, 24 * H),
                                       ("eia", "ELEC.GEN", "PJM", 0, 24 * H), ("fred", "ELEC.DEMAND", "PJM", 0, H)],
                              "h", 2)
    t3 = store.acquire_leases("OP_A", [(*PJM, 12 * H, 20 * H)], "h", 1)  # its own range again
    assert t1 < t2 < t3
    assert len(store.leases()) == 6
    store.close()


def test_expired_lease_is_taken_over_and_old_holder_is_fenced(db_url: str) -> None:
    store = open_state(db_url)
    old = store.acquire_leases("OP_A", [(*PJM, 0, 24 * H)], "h", 1, ttl_seconds=60, now=1000.0)
    store.heartbeat("OP_A", old, now=1050.0)
    with pytest.raises(LeaseConflictError):
        store.acquire_leases("OP_B", [(*PJM, 0, H)], "h", 2, ttl_seconds=60, now=1100.0)
    new = store.acquire_leases("OP_B", [(*PJM, 0, H)], "h", 2, ttl_seconds=60, now=1111.0)
    assert new > old
    with pytest.raises(FencedError):
        store.heartbeat("OP_A", old, now=1112.0)
    with pytest.raises(FencedError):
        store.check_fence("OP_A", old)
    store.check_fence("OP_B", new)
    store.heartbeat("OP_B", new, now=1112.0)
    store.close()


def test_released_and_broken_leases_stop_blocking(db_url: str) -> None:
    store = open_state(db_url)
    token = store.acquire_leases("OP_A", [(*PJM, 0, H), (*PJM, 5 * H, 6 * H)], "h", 1)
    lease = next(x for x in store.leases() if x.start == 5 * H)
    assert store.break_lease(lease.id).operation_id == "OP_A"
    with pytest.raises(FencedError, match="broken or taken over"):
        store.heartbeat("OP_A", token)
    store.acquire_leases("OP_B", [(*PJM, 5 * H, 6 * H)], "h", 2)
    assert store.release_leases("OP_A") == 1
    store.acquire_leases("OP_C", [(*PJM, 0, H)], "h", 3)
    assert sorted(x.operation_id for x in store.leases()) == ["OP_B", "OP_C"]
    assert len(store.leases(active_only=False)) == 4
    with pytest.raises(OperationError):
        store.break_lease(999)
    with pytest.raises(FencedError):
        store.check_fence("OP_Z", 1)
    store.close()


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.state.workers", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _results(procs: list[subprocess.Popen[str]]) -> list[str]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
        out.append(stdout.strip())
    return out


def test_processes_racing_for_overlapping_ranges_exactly_one_wins(db_url: str) -> None:
    open_state(db_url).close()
    start_at = f"{time.time() + 2.0:.3f}"
    results = _results([_spawn("race", db_url, f"OP-{i}", start_at) for i in range(4)])
    assert sorted(r.split()[0] for r in results) == ["conflict", "conflict", "conflict", "won"]


def test_quota_shared_by_two_processes_never_exceeds_the_window(db_url: str) -> None:
    store = open_state(db_url)
    assert store.reserve_request("cpi", [(10.0, 2)], now=100.0) == 0
    assert store.reserve_request("cpi", [(10.0, 2)], now=101.0) == 0
    assert 8.0 <= store.reserve_request("cpi", [(10.0, 2)], now=102.0) <= 8.05
    assert store.reserve_request("cpi", [(10.0, 2)], now=110.5) == 0
    start_at = f"{time.time() + 2.0:.3f}"
    counts = [r.split() for r in _results([_spawn("quota", db_url, start_at, "2.5") for _ in range(2)])]
    granted, refused = [int(g) for g, _ in counts], [int(r) for _, r in counts]
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        times = sorted(conn.execute(sa.text("SELECT at FROM request_log WHERE source = 'eia'")).scalars())
    engine.dispose()
    store.close()
    per_second = int(QUOTA[0][1])
    assert len(times) == sum(granted) >= 10 and min(refused) >= 1  # both competed for the same quota
    spans = [times[i + per_second] - times[i] for i in range(len(times) - per_second)]
    assert min(spans) >= 1.0 - 1e-6
