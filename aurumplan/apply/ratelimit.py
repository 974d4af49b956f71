"""The per-source rate limiter every worker of an operation shares, and retry delays.

The schedule itself is catalog.pacing (the plan's estimates simulate the same one): every quota
window a sliding log at its raw count, headroom scaling the long-run rate, even spacing only for
windows of seconds, bursts kept for minute/hour/day windows. This module adds threads, sleeping,
throttle answers (pause until Retry-After, exactly; the rate comes back over a few seconds of
clean answers) and, with `reserve` set (shared mode), books each grant in the state store so
several processes using one key stay under the quota together. See docs/sources.md ("Quotas").
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from aurumplan.catalog.pacing import Pace, Pacer
from aurumplan.config import Quota
from aurumplan.executors.http import backoff_delay

Reserve = Callable[[str, list[tuple[float, float]], float], float]
"""reserve(source, windows, now) -> 0 when the request is booked, else seconds to wait."""


class RateLimiter:
    """Thread-safe limiter over one Pace, slowed by throttle answers."""

    def __init__(self, pace: Pace, *, source: str = "", clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, reserve: Reserve | None = None,
                 default_pause: float = 1.0, max_sleep: float = 0.5, keep_history: bool = False,
                 margin: float = 0.15, decrease: float = 0.5, recovery: float = 2.0,
                 min_factor: float = 0.05) -> None:
        self.pace = pace
        self.source = source
        self._pacer = Pacer(pace, margin=margin, decrease=decrease, recovery=recovery, min_factor=min_factor)
        self._clock, self._sleep, self._reserve = clock, sleep, reserve
        self.default_pause, self.max_sleep = default_pause, max_sleep
        self._lock = threading.Lock()
        self.granted = 0
        self.throttles = 0
        self.history: list[float] | None = [] if keep_history else None

    @classmethod
    def for_source(cls, quota: Quota, headroom: float, rate: float | str | None = "auto",
                   **kw: Any) -> RateLimiter:
        """The limiter for a source: `rateLimit: auto` (quota x headroom) or an explicit requests/s
        rate; either way the API's own windows are never exceeded."""
        return cls(Pace.of(quota, headroom, rate), **kw)

    @property
    def factor(self) -> float:
        """Share of the full rate allowed now (below 1 for a few seconds after a throttle)."""
        with self._lock:
            return self._pacer.factor(self._clock())

    @property
    def base_rate(self) -> float:
        """Requests/s allowed in the long run."""
        return self.pace.rate

    @property
    def effective_rate(self) -> float:
        return self.base_rate * self.factor

    def acquire(self) -> None:
        """Block until every window (and the store, in shared mode) has room; then take the slot."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._pacer.wait(now)
                if wait <= 0 and self._reserve is not None:
                    wait = self._reserve(self.source, self._pacer.shared_windows(), now)
                if wait <= 0:
                    self._pacer.take(now)
                    self.granted += 1
                    if self.history is not None:
                        self.history.append(now)
                    return
            self._sleep(min(wait, self.max_sleep))

    def on_throttle(self, retry_after: float | None = None) -> None:
        """The API throttled us: every worker pauses until Retry-After, and the rate is cut."""
        with self._lock:
            self.throttles += 1
            self._pacer.throttle(self._clock(), self.default_pause if retry_after is None else retry_after)

    def on_success(self) -> None:
        """A request went through (the rate recovers with time since the last pause; nothing to do)."""

    def grants(self) -> list[list[float]]:
        """Grant times still in each window's log (for tests and diagnostics)."""
        with self._lock:
            return [list(log) for log in self._pacer.logs]


def retry_delays(max_retries: int, backoff: float, max_backoff: float, retry_after: float | None = None,
                 rng: random.Random | None = None) -> list[float]:
    """Delays before retries 1..max, as the executors wait them (executors.http.backoff_delay)."""
    return [backoff_delay(i, backoff, max_backoff, retry_after, rng) for i in range(max(0, max_retries))]


__all__ = ["Pace", "RateLimiter", "Reserve", "retry_delays"]
