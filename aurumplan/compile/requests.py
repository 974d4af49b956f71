"""The seam between planning and the source drivers: planned requests, and who cuts them.

A plan has one extract node per API request, so planning must ask the source's driver how it cuts
a dataset's target intervals into requests (`plan_requests`) and what the first call of each looks
like (`first_call`, shown in the plan). Planning knows drivers only through the `RequestPlanner`
protocol here, looked up by the catalog's driver name; the drivers (aurumplan.sources) implement
it and register themselves. See docs/architecture.md, "Planning" and "Package layers".
"""

from __future__ import annotations

import bisect
import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Protocol

from aurumplan.catalog.models import DatasetDef, RequestLimits, SourceDef
from aurumplan.intervals import Grain, IntervalSet

DEFAULT_DRIVERS = "aurumplan.sources.registry"
"""The package whose import registers the built-in drivers (loaded on the first lookup)."""

_START = itemgetter(0)


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One planned request window: some series of one dataset over [start, end)."""

    source: str
    dataset: str
    series: tuple[str, ...]
    start: int
    end: int
    expected_rows: int
    targets: tuple[tuple[int, int], ...] = ()  # when the window bridges loaded gaps: the periods to keep


class PublicCall(Protocol):
    """A request's first HTTP call as a plan may show it (never the key)."""

    def public(self) -> dict[str, Any]: ...


class RequestPlanner(Protocol):
    """What planning needs from a source driver."""

    def plan_requests(self, source: SourceDef, dataset: DatasetDef,
                      targets: Mapping[str, IntervalSet]) -> list[RequestSpec]: ...

    def first_call(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec) -> PublicCall: ...


_resolver: Callable[[str], RequestPlanner] | None = None


def register_planners(resolve: Callable[[str], RequestPlanner]) -> None:
    """Install the lookup from a catalog driver name to its planner (the drivers package calls this)."""
    global _resolver
    _resolver = resolve


def planner_for(driver: str) -> RequestPlanner:
    """The planner of a catalog driver name; the built-in drivers are registered on first use."""
    if _resolver is None:
        importlib.import_module(DEFAULT_DRIVERS)
    assert _resolver is not None, f"{DEFAULT_DRIVERS} did not register its drivers"
    return _resolver(driver)


def periods_cap(grain: Grain, limits: RequestLimits, n_series: int) -> int:
    """Most periods one request may cover for n_series series."""
    cap = math.inf
    if limits.max_rows:
        cap = min(cap, limits.max_rows // max(n_series, 1))
    if limits.max_span_days:
        per_day = {Grain.HOURLY: 24, Grain.DAILY: 1}.get(grain)
        if per_day:
            cap = min(cap, limits.max_span_days * per_day)
        else:
            cap = min(cap, max(1, limits.max_span_days // (31 if grain is Grain.MONTHLY else 92)))
    return int(cap) if cap != math.inf else 10**9


def bridge(where: IntervalSet, grain: Grain, cap: int) -> IntervalSet:
    """Windows of at most cap periods covering where, as few as possible (greedy is optimal on a line).

    A window may span loaded periods between two gaps: one request fetching a few rows we drop costs
    less quota than two requests.
    """
    ivs = where.intervals
    if not ivs:
        return where
    if grain.count(ivs[0][0], ivs[-1][1]) <= cap:
        return IntervalSet([(ivs[0][0], ivs[-1][1])])
    out: list[tuple[int, int]] = []
    i = 0
    p = ivs[0][0]
    while i < len(ivs):
        limit = grain.add(grain.floor(p), cap)
        k = bisect.bisect_left(ivs, limit, lo=i, key=_START)  # ivs[i:k] start inside this window
        if ivs[k - 1][1] > limit:  # the last one sticks out: the next window goes on with it
            out.append((p, limit))
            i = k - 1
        else:
            out.append((p, ivs[k - 1][1]))
            i = k
        if i < len(ivs):
            p = max(ivs[i][0], limit)
    return IntervalSet(out)


def group_series(targets: Mapping[str, IntervalSet]) -> list[tuple[tuple[str, ...], IntervalSet]]:
    """Series with identical target sets travel together in one request; deterministic order."""
    groups: dict[IntervalSet, list[str]] = {}
    for sid in sorted(targets):
        if targets[sid]:
            groups.setdefault(targets[sid], []).append(sid)
    return sorted(((tuple(v), k) for k, v in groups.items()), key=lambda g: (g[1].intervals, g[0]))
