"""The per-source rate limiter every worker of an operation shares, and retry delays.

Sliding logs, one per quota window, each capped at quota x headroom (or one window for an
explicit requests-per-second `rateLimit`): a request is granted only when every window of its
length still has room, so bursts never exceed a cap inside ANY window of that length.

A throttle answer (`on_throttle`) pauses every worker until Retry-After and halves the effective
rate (multiplicative decrease, as pacing on top of the windows); each success adds a little back
(additive increase) until the full rate is reached again. With `reserve` set (shared mode) each
grant is also booked in the state store, so several processes using one key stay under the quota
together.

Grants are spread evenly over the shortest window (cap 4 per second: one every 0.25 s). A request
reaches the server some milliseconds after its grant, and that delay varies (a busy worker sends
late); two full bursts granted exactly one window apart could then land inside one window of the
server's own log and draw a 429. Evenly spaced grants tolerate a delay of up to one spacing and
cost no throughput: the 13th request of a 4-per-second cap still goes at 3.0 s. Longer windows
(minute, hour, day) keep their bursts; `margin` (seconds) lengthens each of them a little instead,
which costs nothing measurable at their scale.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from aurumplan.config import Quota
from aurumplan.executors.http import backoff_delay

Reserve = Callable[[str, list[tuple[float, float]], float], float]
"""reserve(source, windows, now) -> 0 when the request is booked, else seconds to wait."""


def quota_caps(quota: Quota, headroom: float) -> list[tuple[float, int]]:
    """(window seconds, requests allowed) per quota window, each capped at quota x headroom (>= 1)."""
    return [(w, max(1, math.floor(n * headroom + 1e-9))) for w, n in quota.windows()]


def rate_window(rate: float) -> tuple[float, int]:
    """An explicit requests/s rate as one sliding window with the same long-run rate and a small burst."""
    if rate <= 0:
        raise ValueError("rate must be > 0 requests per second")
    k = max(1, math.floor(rate))
    return k / rate, k


class RateLimiter:
    """Thread-safe sliding-window limiter with AIMD slow-down on throttling."""

    def __init__(self, windows: Sequence[tuple[float, float]], *, source: str = "",
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 reserve: Reserve | None = None, decrease: float = 0.5, recovery: float = 0.05,
                 min_factor: float = 0.05, default_pause: float = 1.0, max_sleep: float = 0.5,
                 keep_history: bool = False, margin: float = 0.15) -> None:
        self.windows = [(float(w), max(1, int(n))) for w, n in windows]
        self.margin = margin
        shortest = min(range(len(self.windows)), key=lambda i: self.windows[i][0], default=None)
        self._paced = shortest
        self.spacing = self.windows[shortest][0] / self.windows[shortest][1] if shortest is not None else 0.0
        self.source = source
        self._clock, self._sleep, self._reserve = clock, sleep, reserve
        self.decrease, self.recovery, self.min_factor = decrease, recovery, min_factor
        self.default_pause, self.max_sleep = default_pause, max_sleep
        self._logs: list[deque[float]] = [deque() for _ in self.windows]
        self._lock = threading.Lock()
        self._paused_until = -math.inf
        self._last_grant = -math.inf
        self.factor = 1.0
        self.granted = 0
        self.throttles = 0
        self.history: list[float] | None = [] if keep_history else None

    @classmethod
    def for_source(cls, quota: Quota, headroom: float, rate: float | str | None = "auto",
                   **kw: Any) -> RateLimiter:
        """The limiter for a source: quota x headroom windows, or an explicit rate under the raw quota.

        An explicit rate still never exceeds the API's own quota windows (validate_quotas reports
        a rate above the quota as an error).
        """
        if rate in (None, "auto"):
            return cls(quota_caps(quota, headroom), **kw)
        return cls([rate_window(float(rate)), *quota_caps(quota, 1.0)], **kw)

    @property
    def base_rate(self) -> float:
        """Requests/s the tightest window allows in the long run."""
        return min((n / w for w, n in self.windows), default=math.inf)

    @property
    def effective_rate(self) -> float:
        return self.base_rate * self.factor

    def _span(self, i: int) -> float:
        """Window i as enforced: the paced one exactly, the others lengthened by the margin."""
        return self.windows[i][0] + (0.0 if i == self._paced else self.margin)

    def _wait(self, now: float) -> float:
        spacing = self.spacing
        if self.factor < 1.0 and math.isfinite(self.base_rate):
            spacing = max(spacing, 1.0 / (self.base_rate * self.factor))
        wait = max(self._paused_until - now, self._last_grant + spacing - now)
        for i, log in enumerate(self._logs):
            w, cap = self._span(i), self.windows[i][1]
            while log and log[0] + w <= now:
                log.popleft()
            if len(log) >= cap:
                wait = max(wait, log[len(log) - cap] + w - now)
        return wait

    def acquire(self) -> None:
        """Block until every window (and the store, in shared mode) has room; then take the slot."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait(now)
                if wait <= 0 and self._reserve is not None:
                    wait = self._reserve(self.source, [(self._span(i), n) for i, (_, n) in enumerate(self.windows)],
                                         now)
                if wait <= 0:
                    for log in self._logs:
                        log.append(now)
                    self._last_grant = now
                    self.granted += 1
                    if self.history is not None:
                        self.history.append(now)
                    return
            self._sleep(min(wait, self.max_sleep))

    def on_throttle(self, retry_after: float | None = None) -> None:
        """The API throttled us: every worker pauses until Retry-After, and the rate is cut."""
        with self._lock:
            self.throttles += 1
            pause = self.default_pause if retry_after is None else max(0.0, retry_after)
            self._paused_until = max(self._paused_until, self._clock() + pause)
            self.factor = max(self.min_factor, self.factor * self.decrease)

    def on_success(self) -> None:
        """A request went through: win back a little of the rate lost to throttling."""
        with self._lock:
            if self.factor < 1.0:
                self.factor = self.factor + self.recovery
                if self.factor >= 1.0 - 1e-9:
                    self.factor = 1.0

    def grants(self) -> list[list[float]]:
        """Grant times still in each window's log (for tests and diagnostics)."""
        with self._lock:
            return [list(log) for log in self._logs]


def retry_delays(max_retries: int, backoff: float, max_backoff: float, retry_after: float | None = None,
                 rng: random.Random | None = None) -> list[float]:
    """Delays before retries 1..max, as the executors wait them (executors.http.backoff_delay)."""
    return [backoff_delay(i, backoff, max_backoff, retry_after, rng) for i in range(max(0, max_retries))]
