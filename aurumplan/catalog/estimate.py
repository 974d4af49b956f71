"""One estimator for how long an apply takes: the plan's `duration_seconds` and `status`'s ETA.

The time of an apply is modelled as

    overhead + schedule(pace, requests x (1 + retry ratio), concurrency, latency) + per_node x nodes

where `schedule` is the rate limiter's own grant schedule (catalog/pacing.py: quota windows, headroom,
rateLimit, concurrency), `latency` the seconds a worker is busy per request (the answer, parsing,
writing the rows), `overhead` the fixed cost before the first request (verification, leases) and
`per_node` the cost of each validate and commit node after the last one.

Those figures come from the source's last runs in the state (`StateReader.recent_runs`): each run's
latency is the one that makes the schedule last as long as its requests did; its overhead and node
cost are the times before its first and after its last request. The medians of the last runs are
used; with no history, the defaults below (measured with bench/estimate_accuracy.py). See
docs/operations.md ("Estimates").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aurumplan.catalog.pacing import Pace, schedule_seconds
from aurumplan.config import Quota
from aurumplan.state.models import RunRecord

DEFAULT_LATENCY = 0.1
"""Seconds one request keeps a worker busy when no earlier run says better."""
DEFAULT_OVERHEAD = 0.12
"""Seconds an apply spends before its first request (verification, leases) with no earlier run."""
DEFAULT_PER_NODE = 0.03
"""Seconds per validate or commit node after the last request, with no earlier run."""
RUNS = 5
"""How many earlier runs the figures come from."""
_FIT_SIMULATE = 1000


@dataclass(frozen=True)
class Observed:
    """A source's figures for the estimator: from `runs` earlier runs, or the defaults (runs 0)."""

    runs: int = 0
    latency: float = DEFAULT_LATENCY
    overhead: float = DEFAULT_OVERHEAD
    per_node: float = DEFAULT_PER_NODE
    retry_ratio: float = 0.0

    def basis(self) -> dict[str, Any]:
        """What the estimate rests on, as the plan's `estimates.basis` records it."""
        return {"runs": self.runs, "latency_seconds": round(self.latency, 4),
                "overhead_seconds": round(self.overhead, 3), "per_node_seconds": round(self.per_node, 4),
                "retry_ratio": round(self.retry_ratio, 4)}


def pace_of(quota: Quota, headroom: float, rate: Any = None, recorded: bool = False) -> Pace:
    """The pace apply will keep: none for a source served from recordings (it spends no quota)."""
    return Pace.of(Quota() if recorded else quota, headroom, None if recorded else rate)


def fit_latency(pace: Pace, requests: int, concurrency: int, span: float) -> float:
    """The per-request latency with which the limiter's schedule of `requests` lasts `span` seconds.

    The schedule grows with the latency (the last answer comes `latency` after its grant), so a
    bisection finds it; a span shorter than the quota allows at all gives 0.
    """
    if requests <= 0 or span <= 0:
        return 0.0
    n = min(requests, _FIT_SIMULATE)
    target = span * n / requests if requests > _FIT_SIMULATE else span

    def at(lat: float) -> float:
        return schedule_seconds(pace, n, concurrency, lat, simulate=_FIT_SIMULATE)

    if at(0.0) >= target:
        return 0.0
    lo, hi = 0.0, target * max(1, concurrency)
    for _ in range(40):
        mid = (lo + hi) / 2
        if at(mid) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < max(1e-4, 1e-3 * lo):
            break
    return (lo + hi) / 2


def _median(values: list[float]) -> float:
    """The median (statistics.median, without importing what that module imports: planning starts fast)."""
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def observe(runs: Sequence[RunRecord], quota: Quota, headroom: float, recorded: bool = False) -> Observed:
    """The figures of the given runs (newest first; the first RUNS are used), or the defaults."""
    runs = list(runs)[:RUNS]
    if not runs:
        return Observed()
    latencies, overheads, per_node = [], [], []
    for r in runs:
        pace = pace_of(quota, headroom, r.rate_limit, recorded)
        latencies.append(fit_latency(pace, r.requests, r.concurrency, r.last_end - r.first_start))
        if r.began is not None:
            overheads.append(max(0.0, r.first_start - r.began))
        per_node.append(max(0.0, r.ended - r.last_end) / max(1, r.other_nodes))
    sent = sum(r.requests for r in runs)
    retried = sum(min(r.retries, r.requests) for r in runs)
    return Observed(runs=len(runs), latency=_median(latencies),
                    overhead=_median(overheads) if overheads else DEFAULT_OVERHEAD,
                    per_node=_median(per_node),
                    retry_ratio=retried / (sent - retried) if sent > retried else 0.0)


def estimate(requests: int, pace: Pace, concurrency: int, nodes: int, observed: Observed) -> float:
    """Seconds an apply of `requests` requests and `nodes` validate/commit nodes takes (0: nothing to do)."""
    if requests <= 0 and nodes <= 0:
        return 0.0
    sent = requests + round(requests * observed.retry_ratio)
    return (observed.overhead + schedule_seconds(pace, sent, max(1, concurrency), observed.latency)
            + observed.per_node * nodes)


def remaining(requests_left: int, pace: Pace, concurrency: int, nodes_left: int, observed: Observed,
              done: int = 0, elapsed: float | None = None) -> float:
    """Seconds a running operation still needs: the estimator for what is left (the schedule of all its
    requests less that of the `done` ones, so a burst already spent is not counted again), blended
    with this run's own pace once it has one (its weight grows with the requests it has answered)."""
    c = max(1, concurrency)
    ratio = 1 + observed.retry_ratio
    total, before = round((done + requests_left) * ratio), round(done * ratio)
    model = (max(0.0, schedule_seconds(pace, total, c, observed.latency)
                  - schedule_seconds(pace, before, c, observed.latency)) + observed.per_node * nodes_left)
    if not done or not elapsed or elapsed <= 0:
        return model
    own = requests_left * elapsed / done + observed.per_node * nodes_left
    weight = done / (done + 3)
    return weight * own + (1 - weight) * model
