"""The pacing model of a source's quota: one arithmetic for the rate limiter and the plan's estimates.

Each quota window is a sliding log at its raw count (never more than `per_second: 2` in any
second). Headroom scales the long-run *rate*, not the count: a token bucket refills at
headroom x the tightest window's rate (2/s at 0.8 is 1.6 requests/s, not floor(1.6) = 1).

Short windows (seconds) are paced evenly: a request reaches the server some milliseconds after
its grant and that delay varies, so two bursts one window apart could land in one window of the
server's log. Long windows (minute, hour, day) keep their bursts: the bucket holds headroom x the
binding window's count, so a few requests against 500/day go at once. Long windows are enforced
`margin` seconds longer, which costs nothing at their scale. See docs/sources.md ("Quotas").

A throttle pauses until Retry-After, exactly, and cuts the rate to `decrease`; the rate comes
back linearly over `recovery` seconds of clean answers.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

from aurumplan.config import Quota

SHORT_WINDOW = 10.0
"""Windows up to this many seconds are paced evenly; longer ones keep their bursts."""

_EPS = 1e-9


@dataclass(frozen=True)
class Pace:
    """How a source is paced: raw windows, long-run rate, burst and the least gap between grants."""

    windows: tuple[tuple[float, float], ...]
    rate: float
    burst: float = 1.0
    spacing: float = 0.0

    @classmethod
    def of(cls, quota: Quota, headroom: float, rate: float | str | None = None) -> Pace:
        """The pace `rateLimit: auto` (rate None/"auto") or an explicit requests/s rate gives a quota."""
        windows = tuple(quota.windows())
        if rate not in (None, "auto"):
            r = float(rate)
            if r <= 0:
                raise ValueError("rateLimit must be > 0 requests per second")
            return cls(windows, r, 1.0, 1.0 / r)
        if not windows:
            return cls(windows, math.inf, 1.0, 0.0)
        w_b, n_b = min(windows, key=lambda wn: wn[1] / wn[0])
        r = headroom * n_b / w_b
        short = [n / w for w, n in windows if w <= SHORT_WINDOW]
        spacing = 1.0 / (headroom * min(short)) if short else 0.0
        burst = 1.0 if w_b <= SHORT_WINDOW else max(1.0, headroom * n_b)
        return cls(windows, r, burst, spacing)


class Pacer:
    """The grant schedule of one Pace, on whatever clock the caller passes (no threads, no sleeping)."""

    def __init__(self, pace: Pace, *, margin: float = 0.15, decrease: float = 0.5, recovery: float = 2.0,
                 min_factor: float = 0.05) -> None:
        self.pace = pace
        self.spans = [w + (margin if w > SHORT_WINDOW else 0.0) for w, _ in pace.windows]
        self.caps = [max(1, int(n + _EPS)) for _, n in pace.windows]
        self.logs: list[deque[float]] = [deque() for _ in pace.windows]
        self.decrease, self.recovery, self.min_factor = decrease, recovery, min_factor
        self.tokens = pace.burst
        self.refilled: float | None = None
        self.last_grant = -math.inf
        self.paused_until = -math.inf
        self.floor = 1.0

    def factor(self, now: float) -> float:
        """Share of the full rate allowed now: cut by a throttle, back to 1 over `recovery` seconds."""
        if self.floor >= 1.0:
            return 1.0
        done = (now - self.paused_until) / self.recovery if self.recovery > 0 else 1.0
        if done >= 1.0:
            self.floor = 1.0
            return 1.0
        return self.floor + (1.0 - self.floor) * max(0.0, done)

    def _refill(self, now: float, factor: float) -> None:
        if self.refilled is None:
            self.refilled = now
        if now > self.refilled and math.isfinite(self.pace.rate):
            self.tokens = min(self.pace.burst, self.tokens + (now - self.refilled) * self.pace.rate * factor)
            self.refilled = now

    def wait(self, now: float) -> float:
        """Seconds until a request may be granted (<= 0: now)."""
        f = self.factor(now)
        wait = max(self.paused_until - now, self.last_grant + self.pace.spacing / f - now)
        for log, span, cap in zip(self.logs, self.spans, self.caps, strict=True):
            while log and log[0] + span <= now:
                log.popleft()
            if len(log) >= cap:
                wait = max(wait, log[len(log) - cap] + span - now)
        if math.isfinite(self.pace.rate):
            self._refill(now, f)
            if self.tokens < 1.0 - _EPS:
                wait = max(wait, (1.0 - self.tokens) / (self.pace.rate * f))
        return wait

    def take(self, now: float) -> None:
        """Book a grant at `now` (call only when wait(now) <= 0)."""
        for log in self.logs:
            log.append(now)
        self.last_grant = now
        if math.isfinite(self.pace.rate):
            self._refill(now, self.factor(now))
            self.tokens -= 1.0

    def shared_windows(self) -> list[tuple[float, float]]:
        """The windows several processes sharing one key book together: the raw quota, plus the
        even spacing of short windows as one request per spacing."""
        out = [(span, float(cap)) for span, cap in zip(self.spans, self.caps, strict=True)]
        if self.pace.spacing > 0:
            out.append((self.pace.spacing, 1.0))
        return out

    def throttle(self, now: float, retry_after: float) -> None:
        """The API said slow down: no grant before now + retry_after, then a cut rate that recovers.

        Answers to requests already in flight when the pause began do not cut the rate again.
        """
        if now >= self.paused_until:
            self.floor = max(self.min_factor, self.factor(now) * self.decrease)
        self.paused_until = max(self.paused_until, now + max(0.0, retry_after))
        self.tokens = max(self.tokens, 1.0)  # one request when the pause ends, then the cut rate
        self.refilled = self.paused_until
        self.last_grant = -math.inf  # the pause stands in for the spacing


def schedule_seconds(pace: Pace, requests: int, concurrency: int = 1, latency: float = 0.0,
                     simulate: int = 20000) -> float:
    """Seconds from the first grant until the last of `requests` answers, with `concurrency` workers
    each waiting `latency` per request: the limiter's own schedule, simulated (beyond `simulate`
    requests, the rest at the long-run rate)."""
    if requests <= 0:
        return 0.0
    pacer = Pacer(pace)
    free = [0.0] * max(1, concurrency)
    end = 0.0
    for _ in range(min(requests, simulate)):
        t = heapq.heappop(free)
        w = pacer.wait(t)
        while w > _EPS:
            t += w
            w = pacer.wait(t)
        pacer.take(t)
        end = max(end, t + latency)
        heapq.heappush(free, t + latency)
    rest = requests - simulate
    if rest > 0:
        per_second = min(pace.rate, max(1, concurrency) / latency if latency > 0 else math.inf)
        end += rest / per_second if math.isfinite(per_second) else 0.0
    return end
