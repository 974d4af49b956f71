"""RateLimiter: no window ever over its cap (bursts, threads), throttles slow everyone, recovery, retries."""

from __future__ import annotations

import itertools
import random
import threading
import time

import httpx

from aurumplan.apply.ratelimit import RateLimiter, retry_delays
from aurumplan.catalog.pacing import Pace
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


def test_headroom_scales_the_rate_not_the_count() -> None:
    """2/s at 0.8 is 1.6 requests/s (not floor(1.6) = 1), and never more than 2 in any second."""
    clock = FakeClock()
    lim = RateLimiter.for_source(Quota(per_second=2), 0.8, clock=clock, sleep=clock.sleep, keep_history=True)
    start = clock()
    for _ in range(161):
        lim.acquire()
    assert lim.history is not None
    assert max_in_any_window(lim.history, 1.0) <= 2
    assert abs((clock() - start) - 160 / 1.6) < 0.01


def test_long_windows_keep_their_bursts() -> None:
    """A few requests against 500/day or 6/min go at once; the rate then settles at quota x headroom."""
    for quota, n in ((Quota(per_day=500), 5), (Quota(per_minute=6), 4)):
        clock = FakeClock()
        lim = RateLimiter.for_source(quota, 0.8, clock=clock, sleep=clock.sleep)
        start = clock()
        for _ in range(n):
            lim.acquire()
        assert clock() - start < 1e-3
    clock = FakeClock()
    lim = RateLimiter.for_source(Quota(per_second=5, per_minute=6), 0.8, clock=clock, sleep=clock.sleep,
                                 keep_history=True)
    for _ in range(4):
        lim.acquire()
    assert lim.history is not None
    assert [round(t - lim.history[0], 6) for t in lim.history] == [0.0, 0.25, 0.5, 0.75]  # seconds: evenly


def test_bursty_threads_never_exceed_any_window() -> None:
    clock = FakeClock()
    quota = Quota(per_second=5, per_minute=100, per_hour=500)
    lim = RateLimiter.for_source(quota, 0.8, clock=clock, sleep=clock.sleep, margin=0.0, keep_history=True)
    rng = random.Random(7)
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
    for w, cap in quota.windows():
        assert max_in_any_window(lim.history, w) <= cap
    grants = sorted(lim.history)
    # the per-second window's grants are spread evenly, so late sends cannot bunch up at the server
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


def test_throttle_pauses_exactly_then_rate_recovers_in_seconds() -> None:
    clock = FakeClock()
    lim = RateLimiter.for_source(Quota(per_second=5), 0.8, clock=clock, sleep=clock.sleep, keep_history=True)
    lim.acquire()
    t0 = clock()
    lim.on_throttle(retry_after=5.0)
    lim.on_throttle(retry_after=5.0)  # an answer to a request already in flight: no second cut
    assert lim.factor == 0.5
    for _ in range(3):
        lim.acquire()
    assert lim.history is not None
    seen = lim.history[1:]
    assert abs(seen[0] - (t0 + 5.0)) < 1e-6  # the first request goes when Retry-After says, not later
    assert all(b - a >= 0.25 for a, b in itertools.pairwise(seen))
    clock.sleep(3.0)  # a few seconds of clean answers
    assert lim.factor == 1.0
    before = clock()
    for _ in range(5):
        lim.acquire()
    assert abs(clock() - before - 4 * 0.25) < 1e-6  # the full rate again: one grant per 0.25 s


def test_seven_throttles_cost_little_more_than_their_pauses() -> None:
    """Seven 429s with Retry-After: 1 among 24 requests at 4/s: about 6 s of work plus 7 s of pauses."""
    clock = FakeClock()
    lim = RateLimiter.for_source(Quota(per_second=5), 0.8, clock=clock, sleep=clock.sleep)
    start = clock()
    for k in range(31):
        lim.acquire()
        if k % 4 == 3 and k < 28:
            lim.on_throttle(retry_after=1.0)
    assert clock() - start <= 24 / 4 + 7 * 1.0 + 4.0


def test_repeated_throttles_floor_the_rate() -> None:
    clock = FakeClock()
    lim = RateLimiter.for_source(Quota(per_second=4), 1.0, min_factor=0.1, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        lim.on_throttle(0)
        clock.sleep(0.01)
    assert abs(lim.factor - 0.1) < 0.01


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
    limiters = [RateLimiter(Pace(((1.0, 10.0),), 10.0), source="eia", keep_history=True,
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
    # Each alone would allow 10, together still 10 (20 if the store were not shared). The store books each
    # request at its own clock, read under its lock; these times are read before it, so a thread that
    # waited for the lock (a busy machine) shows up to ~50 ms early here: a window of 0.95 s allows for that.
    assert max_in_any_window(both, 0.95) <= 10
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
