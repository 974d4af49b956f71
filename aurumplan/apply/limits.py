"""The rate limiter an operation's workers share, built from the source's quota and the spec's rateLimit."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from aurumplan.catalog import SourceDef


class WindowLimiter:
    """Sliding logs, one per quota window, each capped at quota x headroom."""

    def __init__(self, windows: list[tuple[float, float]]) -> None:
        self.windows = [(w, max(1, int(n))) for w, n in windows]
        self.logs: list[deque[float]] = [deque() for _ in self.windows]
        self.lock = threading.Lock()
        self.paused_until = 0.0

    def acquire(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                wait = max(0.0, self.paused_until - now)
                for (w, cap), log in zip(self.windows, self.logs, strict=True):
                    while log and log[0] <= now - w:
                        log.popleft()
                    if len(log) >= cap:
                        wait = max(wait, log[0] + w - now)
                if wait <= 0:
                    for log in self.logs:
                        log.append(now)
                    return
            time.sleep(min(wait, 0.5))

    def on_throttle(self, retry_after: float | None = None) -> None:
        with self.lock:
            self.paused_until = max(self.paused_until, time.monotonic() + (retry_after or 1.0))

    def on_success(self) -> None:
        return None


def make_limiter(source: SourceDef, settings: dict[str, Any], store: Any) -> WindowLimiter:
    rate = settings.get("rateLimit", "auto")
    if rate not in (None, "auto"):
        return WindowLimiter([(1.0, float(rate))])
    return WindowLimiter([(w, n * source.headroom) for w, n in source.quota.windows()])
