"""`apply --wait` in real processes: while a third operation holds the range, a low-priority apply queues
first and a high-priority one second; when the range frees, the high one runs first, and the low one, whose
plan the high one made stale, is planned again and finishes what is left (docs/operations.md, "Priority")."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aurumplan.apply.ratelimit import RateLimiter
from aurumplan.apply.waiting import Wait, lease_or_wait
from aurumplan.config import Quota
from aurumplan.errors import LeaseConflictError
from aurumplan.intervals import parse_ts
from aurumplan.state import open_state
from tests.apply.common import run, write_config
from tests.doubles.fakeapis import EiaServer, Synth

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: {name}}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM]
  window: {{start: {start}, end: {end}}}
  priority: {priority}
  retries: {{max: 0, backoff: 0.01s, maxBackoff: 0.05s}}
  validation: {{checks: [schema], threshold: 0.5}}
"""


def _start(project: Path, spec: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aurumplan.cli.main", "--config", str(project / "aurumplan.yaml"), "--log-format",
         "json", "apply", str(project / spec), "--auto-approve", "--wait", "--wait-timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "EIA_API_KEY": "test-key-0042"})


def _until(cond: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_high_priority_waiter_runs_before_an_earlier_low_one(tmp_path: Path, db_url: str) -> None:
    with EiaServer(data=Synth(seed=3), until=1_900_000_000) as srv:
        write_config(tmp_path, db_url, srv.base_url)
        (tmp_path / "low.yaml").write_text(SPEC.format(name="low", start="2024-01-01", end="2024-01-07",
                                                       priority="low"))
        (tmp_path / "high.yaml").write_text(SPEC.format(name="high", start="2024-01-04", end="2024-01-10",
                                                        priority="high"))
        store = open_state(db_url)
        store.acquire_leases("HOLDER", [("eia", "ELEC.DEMAND", "PJM", parse_ts("2023-12-25"),
                                         parse_ts("2024-01-20"))], "elsewhere", 1, ttl_seconds=300)
        low = _start(tmp_path, "low.yaml")
        _until(lambda: [w.operation_id for w in store.waiters()] != [], "the low apply to queue")
        high = _start(tmp_path, "high.yaml")
        _until(lambda: len(store.waiters()) == 2, "the high apply to queue")
        assert [w.priority for w in store.waiters()] == [2, 0]  # served high first, though it came second
        code, shown, _ = run(tmp_path, "state", "show")
        assert code == 0
        lines = [x for x in shown.splitlines() if x.startswith("waiting #")]
        assert [x.split()[3:5] for x in lines] == [["priority", "high"], ["priority", "low"]], shown
        store.release_leases("HOLDER")
        outs = [p.communicate(timeout=90) for p in (low, high)]
        assert [p.returncode for p in (low, high)] == [0, 0], [o[1][-800:] for o in outs]
        ops = sorted(store.list_operations(), key=lambda o: o.created_at)
        assert [o.kind for o in ops] == ["Backfill", "Backfill"]
        assert ["priority: high" in (o.spec or "") for o in ops] == [True, False]
        assert store.waiters() == []
        store.close()
        # the low one planned again after the high one loaded Jan 4-10: it loaded only Jan 1-3, no overlap
        assert [o.summary["planned"]["create"] for o in ops] == [7 * 24, 3 * 24]
        code, out, _ = run(tmp_path, "state", "list", "--json")
        assert code == 0 and '"ranges": 1' in out and '"records": 240' in out
        assert '"waiting"' in outs[0][1]  # its log says why it waited


def test_a_wait_that_times_out_names_the_holder_and_leaves_the_queue(db_url: str) -> None:
    store = open_state(db_url)
    store.acquire_leases("HOLDER", [("eia", "ELEC.DEMAND", "PJM", 0, 3600)], "elsewhere", 7)
    events: list[str] = []
    wait = Wait(timeout=0.3, poll=0.05)
    started = time.monotonic()
    with pytest.raises(LeaseConflictError) as err:
        lease_or_wait(store, "OP_W", [("eia", "ELEC.DEMAND", "PJM", 0, 7200)], "h", 1, 60.0, "high", wait,
                      threading.Event(), lambda event, _data: events.append(event))
    assert 0.3 <= time.monotonic() - started < 5
    assert "leased by operation HOLDER" in str(err.value) and "waited 0.3s with --wait" in str(err.value)
    assert events == ["waiting"] and store.waiters() == []
    store.close()


def test_two_limiters_sharing_a_quota_serve_the_high_priority_first(db_url: str) -> None:
    """Real threads and limiters (as make_limiter builds them): a low operation starts first; a high one
    arriving 0.3 s later gets every grant until its work is done, and the total stays inside the quota."""
    store = open_state(db_url)
    grants: list[tuple[float, str]] = []
    lock = threading.Lock()

    def work(name: str, level: int, n: int, delay: float) -> None:
        time.sleep(delay)
        limiter = RateLimiter.for_source(Quota(per_second=10), 1.0, source="eia", reserve=(
            lambda s, windows, _now: store.reserve_request(s, windows, holder=name, priority=level)))
        for _ in range(n):
            limiter.acquire()
            with lock:
                grants.append((time.monotonic(), name))

    threads = [threading.Thread(target=work, args=("low", 0, 12, 0.0)),
               threading.Thread(target=work, args=("high", 2, 8, 0.3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    who = [n for _, n in grants]
    first_high = who.index("high")
    last_high = len(who) - 1 - who[::-1].index("high")
    assert who[first_high:last_high + 1].count("low") <= 1  # at most one already on its way when high queued
    assert who[last_high + 1:] == ["low"] * (len(who) - last_high - 1) and who.count("low") == 12
    times = sorted(t for t, _ in grants)
    assert all(b - a >= 0.98 for a, b in zip(times, times[10:], strict=False))  # <= 10 a second together
    store.close()
