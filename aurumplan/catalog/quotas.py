"""Quota arithmetic: effective rates, how long n requests take at least, and a consistency check.

`quotas validate` and the plan's estimates use these, so what the plan promises is what the
rate limiter (apply.ratelimit) will actually allow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aurumplan.catalog.estimate import DEFAULT_LATENCY
from aurumplan.catalog.loader import Catalog
from aurumplan.catalog.pacing import Pace, schedule_seconds
from aurumplan.config import Config, Quota

DAY = 86400.0
WINDOW_NAMES = {1.0: "per_second", 60.0: "per_minute", 3600.0: "per_hour", 86400.0: "per_day"}


def auto_rate(quota: Quota, headroom: float) -> float | None:
    """rateLimit: auto as requests/s: headroom x the tightest window's long-run rate (None: no quota)."""
    rate = Pace.of(quota, headroom).rate
    return None if math.isinf(rate) else rate


def min_duration_seconds(requests: int, quota: Quota, headroom: float, rate: float | None = None) -> float:
    """The quota floor: the least time n requests take under the limiter, answers taking no time."""
    return schedule_seconds(Pace.of(quota, headroom, rate), requests, concurrency=max(1, requests))


def estimate_seconds(requests: int, quota: Quota, headroom: float, rate: float | None = None,
                     concurrency: int = 3, latency: float = DEFAULT_LATENCY) -> float:
    """How long n requests take: the limiter's schedule with `concurrency` workers, each request
    taking `latency` seconds."""
    return schedule_seconds(Pace.of(quota, headroom, rate), requests, concurrency=concurrency, latency=latency)


def requests_per_day(quota: Quota, headroom: float) -> float | None:
    """The daily budget as the limiter spends it: headroom x per_day (None: no daily window)."""
    return headroom * quota.per_day if quota.per_day is not None else None


def days_needed(requests: int, quota: Quota, headroom: float) -> int:
    """Days of daily quota the requests use (1 when no daily window binds, 0 for no requests)."""
    if requests <= 0:
        return 0
    per_day = requests_per_day(quota, headroom)
    return max(1, math.ceil(requests / per_day - 1e-9)) if per_day else 1


def rate_errors(rate: float, quota: Quota) -> list[str]:
    """An explicit rateLimit above a quota window: the one message `quotas validate`, `validate`,
    `plan` and `apply` give."""
    return [f"rateLimit {rate:g}/s sends {rate * w:g} requests {_name(w)}, above the quota of {allowed:g}"
            for w, allowed in quota.windows() if rate * w > allowed + 1e-9]


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
    day_budget: float | None = None  # requests per day the limiter spends (headroom x per_day)
    planned_requests: int | None = None
    days_needed: int | None = None
    estimated_seconds: float | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "quota": self.quota, "headroom": self.headroom,
                "rate_origin": self.rate_origin, "effective_rate": self.effective_rate,
                "concurrency": self.concurrency, "windows": self.windows,
                "day_budget_requests_per_day": self.day_budget, "planned_requests": self.planned_requests,
                "days_needed": self.days_needed, "estimated_seconds": self.estimated_seconds, "ok": self.ok,
                "errors": self.errors, "warnings": self.warnings}


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
    pace = Pace.of(quota, headroom, rate)
    for w, allowed in quota.windows():
        at_rate = effective * w if effective is not None else None
        rep.windows.append({"window": _name(w), "seconds": w, "allowed": allowed, "at_effective_rate": at_rate,
                            "concurrency_x_rate": concurrency * effective * w if effective is not None else None})
        if rate is not None and allowed + 1e-9 >= rate * w > headroom * allowed + 1e-9:
            rep.warnings.append(f"rateLimit {rate:g}/s leaves less than the {headroom:g} headroom of "
                                f"{_name(w)} {allowed:g}")
    if rate is not None:
        rep.errors.extend(rate_errors(rate, quota))
    if pace.spacing > 0 and concurrency > 1 and pace.spacing * pace.rate >= 1.0 - 1e-9:
        rep.warnings.append(f"concurrency {concurrency}: requests go one every {pace.spacing:.3g}s, so "
                            f"{concurrency} workers will wait on each other")
    rep.day_budget = requests_per_day(quota, headroom)
    if planned is not None:
        rep.days_needed = days_needed(planned, quota, headroom)
        rep.estimated_seconds = round(estimate_seconds(planned, quota, headroom, rate, concurrency), 3)
        if rep.day_budget is not None and planned > rep.day_budget:
            rep.errors.append(f"the planned operation needs {planned} requests, more than one day's budget of "
                              f"{rep.day_budget:g} requests/day ({rep.days_needed} days)")
    return rep
