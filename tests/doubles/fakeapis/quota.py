"""Sliding-window request quotas, so a fake answers with the API's throttle signal at the real rate."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

WINDOW_SECONDS = {"per_second": 1.0, "per_minute": 60.0, "per_hour": 3600.0, "per_day": 86400.0}


def quota_windows(quota: Any) -> list[tuple[float, int]]:
    """(window seconds, allowed requests) from a dict like {"per_second": 5}, a config Quota or pairs."""
    if quota is None:
        return []
    if hasattr(quota, "windows"):
        return [(float(w), int(n)) for w, n in quota.windows()]
    if isinstance(quota, Mapping):
        unknown = set(quota) - set(WINDOW_SECONDS)
        if unknown:
            raise ValueError(f"unknown quota window(s) {sorted(unknown)}; use {sorted(WINDOW_SECONDS)}")
        return [(WINDOW_SECONDS[k], int(v)) for k, v in quota.items() if v is not None]
    return [(float(w), int(n)) for w, n in quota]


class SlidingWindowQuota:
    """Admits a request when every window still has room; throttled requests do not use up quota."""

    def __init__(self, quota: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.windows = quota_windows(quota)
        self._clock = clock
        self._seen: list[deque[float]] = [deque() for _ in self.windows]
        self._lock = threading.Lock()

    def admit(self) -> float | None:
        """None when admitted, else the seconds until the tightest full window frees a slot."""
        with self._lock:
            now = self._clock()
            wait = 0.0
            for (span, limit), seen in zip(self.windows, self._seen, strict=True):
                while seen and seen[0] <= now - span:
                    seen.popleft()
                if len(seen) >= limit:
                    wait = max(wait, seen[0] + span - now) if seen else max(wait, span)
            if wait > 0 or any(limit <= 0 for _, limit in self.windows):
                return max(wait, 0.001)
            for seen in self._seen:
                seen.append(now)
            return None

    def reset(self) -> None:
        """Forget every admitted request (a new day, a fresh key)."""
        with self._lock:
            for seen in self._seen:
                seen.clear()
