"""Property tests of the pacing model on a simulated clock: no quota window is ever exceeded, and the
long-run rate is quota x headroom within 2%, for per-second, -minute, -hour, -day and mixed quotas."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from aurumplan.catalog.pacing import Pace, Pacer, schedule_seconds
from aurumplan.config import Quota


def grant_times(pace: Pace, n: int, margin: float = 0.0) -> list[float]:
    """n back-to-back grants as one greedy worker gets them."""
    pacer = Pacer(pace, margin=margin)
    t, out = 0.0, []
    for _ in range(n):
        w = pacer.wait(t)
        while w > 1e-9:
            t += w
            w = pacer.wait(t)
        pacer.take(t)
        out.append(t)
    return out


def most_in_window(times: list[float], window: float) -> int:
    best, j = 0, 0
    for i in range(len(times)):
        j = max(j, i)
        while j < len(times) and times[j] < times[i] + window - 1e-9:
            j += 1
        best = max(best, j - i)
    return best


QUOTAS = st.one_of(
    st.builds(Quota, per_second=st.integers(1, 20)),
    st.builds(Quota, per_minute=st.integers(1, 300)),
    st.builds(Quota, per_hour=st.integers(1, 600)),
    st.builds(Quota, per_day=st.integers(1, 500)),
    st.builds(Quota, per_second=st.integers(2, 10), per_minute=st.integers(5, 300)),
    st.builds(Quota, per_second=st.integers(2, 10), per_hour=st.integers(100, 600)),
    st.builds(Quota, per_second=st.integers(2, 10), per_day=st.integers(100, 500)),
    st.builds(Quota, per_minute=st.integers(2, 120), per_hour=st.integers(50, 600), per_day=st.integers(300, 500)),
)


@settings(max_examples=120, deadline=None)
@given(quota=QUOTAS, headroom=st.floats(0.5, 1.0))
def test_never_over_any_window_and_long_run_rate_is_quota_times_headroom(quota: Quota, headroom: float) -> None:
    pace = Pace.of(quota, headroom)
    w_b, n_b = min(quota.windows(), key=lambda wn: wn[1] / wn[0])
    target = headroom * n_b / w_b
    assert pace.rate == target
    slack = w_b + pace.burst * pace.spacing  # at most one binding window behind the ideal schedule
    n = int(pace.burst + target * 50 * slack) + 2  # long enough that the slack is under 2% of the run
    times = grant_times(pace, n)
    for w, allowed in quota.windows():
        assert most_in_window(times, w) <= allowed
    for k, t in enumerate(times):
        ideal = (k + 1 - pace.burst) / target
        assert ideal - 1e-6 <= t <= max(0.0, ideal) + slack + 1e-6
    measured = (n - pace.burst) / times[-1]
    assert abs(measured - target) <= 0.02 * target


def test_headroom_example_figures() -> None:
    assert Pace.of(Quota(per_second=2), 0.8).rate == 1.6
    times = grant_times(Pace.of(Quota(per_day=500), 0.8), 400)
    assert times[-1] == 0.0  # a daily budget's burst goes at once
    assert math.isclose(Pace.of(Quota(per_minute=6), 0.8).rate, 0.08)


def test_schedule_matches_the_limiter_with_workers_and_latency() -> None:
    pace = Pace.of(Quota(per_second=5), 0.8)
    assert schedule_seconds(pace, 13) == 3.0  # 4/s evenly: the 13th at 3.0 s
    assert schedule_seconds(pace, 13, concurrency=1, latency=1.0) == 13.0  # one slow worker binds
    assert math.isclose(schedule_seconds(pace, 13, concurrency=4, latency=1.0), 4.0)
    assert schedule_seconds(Pace.of(Quota(per_day=500), 0.8), 3, concurrency=3) == 0.0
    assert schedule_seconds(Pace.of(Quota(per_minute=6), 0.8), 0) == 0.0
