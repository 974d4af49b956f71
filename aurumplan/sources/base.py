"""The driver interface, and the request planner that cuts target intervals into minimal requests.

RequestSpec and the gap-bridging helpers live in aurumplan.compile.requests, the seam through which
planning reaches the drivers without importing them (docs/architecture.md, "Package layers").

A driver knows one API: how to ask for a window of some series (`first_call`), how to read a
response page into normalized records and the next page's call (`parse`). The applier owns
retries, rate limiting and the HTTP client, so a driver never sleeps and never loops forever.

Records are plain tuples for speed on the per-record path:
    (series_id, period_start_epoch_seconds, value float | None, unit, attributes dict | None)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.compile.requests import RequestPlanner, RequestSpec, group_series, periods_cap
from aurumplan.intervals import IntervalSet, from_ts, to_ts

if TYPE_CHECKING:  # annotations only: planning loads the drivers, httpx loads when requests are sent
    import httpx

__all__ = ["Call", "Driver", "Page", "Record", "RequestSpec", "estimate_bytes", "plan_capped", "plan_windows"]

Record = tuple[str, int, float | None, str, dict[str, Any] | None]


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
        params = self.params
        headers = dict(self.headers)
        body = dict(self.json_body) if self.json_body is not None else None
        if api_key and self.secret_in:
            where, name = self.secret_in.split(":", 1)
            if where == "query":
                params = (*params, (name, api_key))
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


class Driver(RequestPlanner, Protocol):
    """What every source driver provides: request planning (aurumplan.compile.requests) and parsing."""

    name: str

    def plan_requests(self, source: SourceDef, dataset: DatasetDef,
                      targets: Mapping[str, IntervalSet]) -> list[RequestSpec]: ...

    def first_call(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec) -> Call: ...

    def parse(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec, call: Call,
              response: httpx.Response) -> Page: ...


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
