"""How long n requests take at the least under every quota window, and how many days of quota."""

from __future__ import annotations

import math

from aurumplan.config import Quota


def _caps(quota: Quota, headroom: float, rate: float | None) -> list[tuple[float, int]]:
    if rate is not None:
        return [(1.0, max(1, math.floor(rate)))] if rate >= 1 else [(1.0 / rate, 1)]
    return [(w, max(1, math.floor(n * headroom))) for w, n in quota.windows()]


def min_duration_seconds(requests: int, quota: Quota, headroom: float, rate: float | None = None) -> float:
    """A sliding window of w seconds lets `cap` requests through per w: n need (ceil(n/cap)-1)*w at least."""
    if requests <= 0:
        return 0.0
    worst = 0.0
    for w, cap in _caps(quota, headroom, rate):
        worst = max(worst, (math.ceil(requests / cap) - 1) * w)
    return worst


def days_needed(requests: int, quota: Quota, headroom: float) -> int:
    """Days of quota the requests use (1 when no daily limit binds)."""
    daily = [n * headroom for w, n in quota.windows() if w >= 86400]
    if not daily or requests <= 0:
        return 1 if requests > 0 else 0
    return max(1, math.ceil(requests / math.floor(daily[0])))
