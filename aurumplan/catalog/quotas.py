"""Quota arithmetic: effective rates, how long n requests take at least, and a consistency check.

`quotas validate` and the plan's estimates use these, so what the plan promises is what the
rate limiter (apply.ratelimit) will actually allow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aurumplan.catalog.loader import Catalog
from aurumplan.config import Config, Quota

DAY = 86400.0
WINDOW_NAMES = {1.0: "per_second", 60.0: "per_minute", 3600.0: "per_hour", 86400.0: "per_day"}


def caps(quota: Quota, headroom: float) -> list[tuple[float, int]]:
    """(window seconds, requests the limiter allows) = floor(quota x headroom), at least 1."""
    return [(w, max(1, math.floor(n * headroom + 1e-9))) for w, n in quota.windows()]


def auto_rate(quota: Quota, headroom: float) -> float | None:
    """rateLimit: auto as requests/s: headroom x the tightest window's long-run rate (None: no quota)."""
    rates = [cap / w for w, cap in caps(quota, headroom)]
    return min(rates) if rates else None


def _windows(quota: Quota, headroom: float, rate: float | None) -> list[tuple[float, int]]:
    if rate is None:
        return caps(quota, headroom)
    k = max(1, math.floor(rate))
    return [(k / rate, k), *caps(quota, 1.0)]


def min_duration_seconds(requests: int, quota: Quota, headroom: float, rate: float | None = None) -> float:
    """The least time n requests take under every window: max over windows of (ceil(n/cap) - 1) x window.

    A sliding window of w seconds lets cap requests through per w, so the n-th request cannot be
    sent before (ceil(n/cap) - 1) x w; an explicit rate r counts as a window of k/r seconds for k requests.
    """
    windows = _windows(quota, headroom, rate)
    if requests <= 0 or not windows:
        return 0.0
    return max((math.ceil(requests / cap) - 1) * w for w, cap in windows)


def days_needed(requests: int, quota: Quota, headroom: float) -> int:
    """Days of daily quota the requests use (1 when no daily window binds, 0 for no requests)."""
    if requests <= 0:
        return 0
    daily = [cap for w, cap in caps(quota, headroom) if w >= DAY]
    return max(1, math.ceil(requests / daily[0])) if daily else 1


@dataclass
class SourceQuotaReport:
    """What `quotas validate` says about one source."""

    source: str
    quota: dict[str, float]
    headroom: float
    rate_origin: str
    effective_rate: float | None
    concurrency: int
    windows: list[dict[str, Any]] = field(default_factory=list)
    day_budget: int | None = None
    day_budget_lasts_seconds: float | None = None  # at the fastest pace the shorter windows allow
    planned_requests: int | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "quota": self.quota, "headroom": self.headroom,
                "rate_origin": self.rate_origin, "effective_rate": self.effective_rate,
                "concurrency": self.concurrency, "windows": self.windows, "day_budget": self.day_budget,
                "day_budget_lasts_seconds": self.day_budget_lasts_seconds,
                "planned_requests": self.planned_requests, "ok": self.ok, "errors": self.errors,
                "warnings": self.warnings}


def _name(w: float) -> str:
    return WINDOW_NAMES.get(w, f"per_{w:g}s")


def validate_quotas(catalog: Catalog, config: Config | None = None, concurrency: int = 3,
                    planned_requests: Mapping[str, int] | None = None,
                    rate_limits: Mapping[str, float | str] | None = None) -> list[SourceQuotaReport]:
    """One report per source (those the config names, or all when it names none).

    Errors: an explicit rate above a quota window, headroom outside 0.5..1.0, a planned operation
    needing more requests than one day's budget. Warnings: no quota, an explicit rate that leaves
    no headroom, more workers than the shortest window admits at once.
    """
    names = sorted(config.sources) if config is not None and config.sources else sorted(catalog.sources)
    out = []
    for name in names:
        src = catalog.source(name)
        explicit = (rate_limits or {}).get(name, "auto")
        rate = None if explicit in (None, "auto") else float(explicit)
        out.append(_report(name, src.quota, src.headroom, rate, concurrency, (planned_requests or {}).get(name)))
    return out


def _report(name: str, quota: Quota, headroom: float, rate: float | None, concurrency: int,
            planned: int | None) -> SourceQuotaReport:
    effective = rate if rate is not None else auto_rate(quota, headroom)
    rep = SourceQuotaReport(name, {_name(w): n for w, n in quota.windows()}, headroom,
                            "explicit" if rate is not None else "auto", effective, concurrency,
                            planned_requests=planned)
    if not 0.5 <= headroom <= 1.0:
        rep.errors.append(f"headroom {headroom:g} is outside 0.5..1.0")
    if not quota.windows():
        rep.warnings.append("no quota configured: requests are not rate limited")
    for w, allowed in quota.windows():
        cap = max(1, math.floor(allowed * headroom + 1e-9))
        at_rate = effective * w if effective is not None else None
        rep.windows.append({"window": _name(w), "seconds": w, "allowed": allowed, "cap": cap,
                            "at_effective_rate": at_rate, "concurrency_x_rate": (
                                concurrency * effective * w if effective is not None else None)})
        if rate is not None and rate * w > allowed + 1e-9:
            rep.errors.append(f"rateLimit {rate:g}/s sends {rate * w:g} requests {_name(w)}, above the quota of "
                              f"{allowed:g}")
        elif rate is not None and rate * w > cap + 1e-9:
            rep.warnings.append(f"rateLimit {rate:g}/s leaves less than the {headroom:g} headroom of "
                                f"{_name(w)} {allowed:g}")
    shortest = min(_windows(quota, headroom, rate), default=None)
    if shortest is not None and concurrency > shortest[1]:
        rep.warnings.append(f"concurrency {concurrency} exceeds the {shortest[1]} requests allowed per "
                            f"{shortest[0]:g}s: workers will wait on each other")
    daily = [cap for w, cap in caps(quota, headroom) if w >= DAY]
    if daily:
        rep.day_budget = daily[0]
        fastest = [cap / w for w, cap in _windows(quota, headroom, rate) if w < DAY]
        rep.day_budget_lasts_seconds = round(daily[0] / min(fastest), 3) if fastest else 0.0
        if planned is not None and planned > daily[0]:
            rep.errors.append(f"the planned operation needs {planned} requests, more than one day's budget of "
                              f"{daily[0]} ({days_needed(planned, quota, headroom)} days)")
    return rep
