"""The driver interface, and the request planner that cuts target intervals into minimal requests.

A driver knows one API: how to ask for a window of some series (`first_call`), how to read a
response page into normalized records and the next page's call (`parse`). The applier owns
retries, rate limiting and the HTTP client, so a driver never sleeps and never loops forever.

Records are plain tuples for speed on the per-record path:
    (series_id, period_start_epoch_seconds, value float | None, unit, attributes dict | None)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Protocol

import httpx

from aurumplan.catalog.models import DatasetDef, RequestLimits, SourceDef
from aurumplan.intervals import Grain, IntervalSet, from_ts, to_ts

Record = tuple[str, int, float | None, str, dict[str, Any] | None]
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

    @classmethod
    def of_node(cls, source: str, node: Mapping[str, Any]) -> RequestSpec:
        """The request of a plan's extract node (its window, series, expected rows and targets)."""
        start, end = IntervalSet.from_json([node["window"]]).span or (0, 0)
        return cls(source, node["dataset"], tuple(node["series"]), start, end, node["expected_rows"],
                   IntervalSet.from_json(node.get("targets") or []).intervals)


@dataclass(frozen=True)
class Call:
    """One HTTP call, secrets excluded; `secret` says where the key goes (query, header or body)."""

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    json_body: Mapping[str, Any] | None = None
    secret_in: str | None = None  # "query:api_key" | "header:token" | "body:registrationkey"
    page: int = 0

    def public(self) -> dict[str, Any]:
        """What plans, logs and failure logs may show: everything but the key."""
        out: dict[str, Any] = {"method": self.method, "url": self.url}
        if self.params:
            out["params"] = self.params  # tuples serialise as JSON arrays
        if self.json_body is not None:
            out["body"] = dict(self.json_body)
        if self.page:
            out["page"] = self.page
        return out

    def build(self, client: httpx.Client, api_key: str | None) -> httpx.Request:
        """The httpx request with the key put where the API expects it."""
        params = list(self.params)
        headers = dict(self.headers)
        body = dict(self.json_body) if self.json_body is not None else None
        if api_key and self.secret_in:
            where, name = self.secret_in.split(":", 1)
            if where == "query":
                params.append((name, api_key))
            elif where == "header":
                headers[name] = api_key
            elif where == "body" and body is not None:
                body[name] = api_key
        return client.build_request(self.method, self.url, params=params, headers=headers, json=body)


@dataclass
class Page:
    """A parsed response: its records and the call for the next page, if any."""

    records: list[Record]
    next_call: Call | None = None
    total: int | None = None
    warnings: list[str] = field(default_factory=list)


class Driver(Protocol):
    """What every source driver provides."""

    name: str

    def plan_requests(self, source: SourceDef, dataset: DatasetDef,
                      targets: Mapping[str, IntervalSet]) -> list[RequestSpec]: ...

    def first_call(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec) -> Call: ...

    def parse(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec, call: Call,
              response: httpx.Response) -> Page: ...


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


def _year_cuts(interval: tuple[int, int], years: int) -> list[tuple[int, int]]:
    """Split at calendar-year boundaries so no piece spans more than `years` years."""
    s, e = interval
    out = []
    cur = s
    while cur < e:
        y = from_ts(cur).year
        nxt = min(e, to_ts(from_ts(cur).replace(year=y + years, month=1, day=1, hour=0, minute=0, second=0)))
        out.append((cur, nxt))
        cur = nxt
    return out


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


def plan_windows(source: SourceDef, dataset: DatasetDef,
                 targets: Mapping[str, IntervalSet]) -> list[RequestSpec]:
    """The fewest one-page requests covering targets under the source's limits.

    Series sharing a target set are packed together (up to max_series and so that at least
    one period fits a page); each packed group's intervals are cut into windows of as many
    periods as one page holds, splitting at year boundaries when the API demands it.
    """
    limits = source.dataset_limits(dataset)
    grain = dataset.grain
    out: list[RequestSpec] = []
    for series, where in group_series(targets):
        per_req = len(series)
        if limits.max_series:
            per_req = min(per_req, limits.max_series)
        if limits.max_rows:
            per_req = min(per_req, limits.max_rows)
        for i in range(0, len(series), per_req):
            chunk = series[i:i + per_req]
            cap = periods_cap(grain, limits, len(chunk))
            pieces: list[tuple[int, int]] = list(where)
            if limits.max_years or limits.no_year_crossing:
                years = limits.max_years or 1
                pieces = [p for iv in pieces for p in _year_cuts(iv, years)]
            for s, e in pieces:
                for ws, we in IntervalSet([(s, e)]).chunks(grain, cap):
                    rows = grain.count(ws, we) * len(chunk)
                    out.append(RequestSpec(source.name, dataset.name, chunk, ws, we, rows))
    return out


def estimate_bytes(source: SourceDef, rows: int) -> int:
    return rows * source.avg_response_bytes_per_row


def plan_capped(source: SourceDef, dataset: DatasetDef, targets: Mapping[str, IntervalSet],
                **caps: int) -> list[RequestSpec]:
    """plan_windows with each named limit held at or under the API's hard cap (config may lower it)."""
    limits = source.dataset_limits(dataset)
    update = {name: min(getattr(limits, name) or cap, cap) for name, cap in caps.items()}
    src = source.model_copy(update={"limits": limits.model_copy(update=update)})
    return plan_windows(src, dataset.model_copy(update={"limits": None}), targets)
