"""RateLimiter: no window ever over its cap (bursts, threads), throttles slow everyone, recovery, retries."""

from __future__ import annotations

import itertools
import random
import threading
import time

import httpx

from aurumplan.apply.ratelimit import RateLimiter, quota_caps, rate_window, retry_delays
from aurumplan.config import Quota
from aurumplan.intervals import parse_ts
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.eia import DRIVER as EIA
from aurumplan.state.store import open_state
from tests.doubles.fakeapis import EiaServer
from tests.sources.support import KEY, source


class FakeClock:
    """A clock that only moves when someone sleeps; shared by every thread."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(seconds, 1e-6)


def max_in_any_window(grants: list[float], window: float) -> int:
    """The most grants inside any half-open window [t, t + window) (it suffices to start at a grant)."""
    g = sorted(grants)
    best, j = 0, 0
    for i in range(len(g)):
        j = max(j, i)
        while j < len(g) and g[j] < g[i] + window:
            j += 1
        best = max(best, j - i)
    return best


def test_caps_are_quota_times_headroom() -> None:
    assert quota_caps(Quota(per_second=5, per_hour=9000), 0.8) == [(1.0, 4), (3600.0, 7200)]
    assert quota_caps(Quota(per_minute=1), 0.5) == [(60.0, 1)]
    assert rate_window(2.5) == (0.8, 2) and rate_window(0.5) == (2.0, 1)


def test_bursty_threads_never_exceed_any_window() -> None:
    clock = FakeClock()
    windows = [(1.0, 4), (10.0, 25), (60.0, 100), (3600.0, 500)]
    lim = RateLimiter(windows, clock=clock, sleep=clock.sleep, margin=0.0, keep_history=True)
    rng = random.Random(7)
    # mostly back-to-back demand, a few idle gaps (the shared clock jumps) so bursts restart at odd times
    plans = [[25.0 if k == 30 * (i + 1) else rng.choice([0, 0, 0, 0, 0.05, 0.3]) for k in range(150)]
             for i in range(4)]

    def worker(pauses: list[float]) -> None:
        for pause in pauses:
            lim.acquire()
            if pause:
                clock.sleep(pause)

    threads = [threading.Thread(target=worker, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lim.history is not None and len(lim.history) == 600
    for w, cap in windows:
        assert max_in_any_window(lim.history, w) == cap  # reached (bursts) but never exceeded
    grants = sorted(lim.history)
    # the shortest window's grants are spread evenly, so late sends cannot bunch up at the server
    assert min(b - a for a, b in itertools.pairwise(grants)) >= 1.0 / 4 - 1e-9


def test_explicit_rate_with_fraction() -> None:
    clock = FakeClock()
    lim = RateLimiter.for_source(Quota(per_second=5), 0.8, rate=2.5, clock=clock, sleep=clock.sleep, margin=0.0,
                                 keep_history=True)
    start = clock()
    for _ in range(100):
        lim.acquire()
    assert lim.history is not None
    assert max_in_any_window(lim.history, 0.8) == 2 and max_in_any_window(lim.history, 1.0) <= 5  # the API quota
    assert 100 / 2.5 - 1 <= clock() - start <= 100 / 2.5  # long-run rate 2.5/s exactly


def test_throttle_pauses_every_worker_then_rate_recovers() -> None:
    clock = FakeClock()
    lim = RateLimiter([(1.0, 4)], clock=clock, sleep=clock.sleep, margin=0.0, keep_history=True, recovery=0.1)
    lim.acquire()
    t0 = clock()
    lim.on_throttle(retry_after=5.0)
    assert lim.factor == 0.5 and lim.effective_rate == 2.0
    threads = [threading.Thread(target=lim.acquire) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lim.history is not None
    seen = lim.history[1:]
    assert min(seen) >= t0 + 5.0  # nobody went before Retry-After
    gaps = [b - a for a, b in zip(sorted(seen), sorted(seen)[1:], strict=False)]
    assert all(g >= 1 / 2.0 - 1e-9 for g in gaps)  # halved rate: 2/s instead of 4/s
    for _ in range(5):
        lim.on_success()
    assert lim.factor == 1.0
    clock.sleep(1.0)  # let the 1 s window empty
    before = clock()
    for _ in range(4):
        lim.acquire()
    assert abs(clock() - before - 3 * 0.25) < 1e-6  # the full rate again: one grant per 0.25 s


def test_repeated_throttles_floor_the_rate() -> None:
    lim = RateLimiter([(1.0, 4)], min_factor=0.1)
    for _ in range(10):
        lim.on_throttle(0)
    assert lim.factor == 0.1


def test_retry_delays_are_bounded_jittered_and_honor_retry_after() -> None:
    rng = random.Random(3)
    runs = [retry_delays(6, 2.0, 30.0, rng=rng) for _ in range(200)]
    for delays in runs:
        assert len(delays) == 6
        for i, d in enumerate(delays):
            assert 0 <= d <= min(30.0, 2.0 * 2 ** i)
    assert len({round(r[3], 6) for r in runs}) > 100  # full jitter, not a fixed schedule
    assert max(r[5] for r in runs) > 20
    assert all(d >= 45.0 for d in retry_delays(4, 2.0, 30.0, retry_after=45.0))
    assert retry_delays(0, 1.0, 10.0) == []


def test_shared_mode_keeps_two_processes_under_one_quota(tmp_path: object) -> None:
    store = open_state(f"sqlite:///{tmp_path}/state.db")
    windows = [(1.0, 10)]
    limiters = [RateLimiter(windows, source="eia", keep_history=True,
                            reserve=lambda s, w, now: store.reserve_request(s, w)) for _ in range(2)]

    def run(lim: RateLimiter) -> None:
        for _ in range(15):
            lim.acquire()

    wall: list[float] = []
    threads = [threading.Thread(target=run, args=(lim,)) for lim in limiters]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall.append(time.monotonic() - start)
    store.close()
    both = [t for lim in limiters for t in (lim.history or [])]
    assert len(both) == 30
    assert max_in_any_window(both, 1.0) <= 10  # each alone would allow 10, together still 10
    assert wall[0] >= 2.0


def test_real_time_against_eia_server_quota() -> None:
    """5 req/s x 0.8 headroom against a server enforcing 5/s: no 429, near the planned pace."""
    n = 40
    lim = RateLimiter.for_source(Quota(per_second=5), 0.8)
    with EiaServer(api_key=KEY, quota={"per_second": 5}, until=parse_ts("2025-01-01")) as srv:
        src = source("eia", srv.base_url)
        ds = src.datasets["ELEC.DEMAND"]
        req = RequestSpec("eia", "ELEC.DEMAND", ("PJM",), parse_ts("2024-01-01"), parse_ts("2024-01-02"), 24)
        call = EIA.first_call(src, ds, req)
        statuses: list[int] = []
        lock = threading.Lock()

        def worker(k: int) -> None:
            with httpx.Client() as client:
                for _ in range(k):
                    lim.acquire()
                    r = client.send(call.build(client, KEY))
                    EIA.parse(src, ds, req, call, r)
                    lim.on_success()
                    with lock:
                        statuses.append(r.status_code)

        start = time.monotonic()
        threads = [threading.Thread(target=worker, args=(k,)) for k in (14, 13, 13)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    assert srv.throttled == 0 and statuses == [200] * n
    assert elapsed <= 1.10 * n / (0.8 * 5)
    assert elapsed >= (n / 4 - 1) * 1.0 - 0.05  # the limiter really held requests back
