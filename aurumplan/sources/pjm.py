"""PJM Data Miner 2 driver (`GET <base>/<feed>`, key in the `Ocp-Apim-Subscription-Key` header).

Period convention: rows carry `datetime_beginning_utc` (naive UTC) and `datetime_beginning_ept`;
the period is the UTC beginning, so a fall-back day (2023-11-05) gives 25 distinct hours per
load area. The filter `datetime_beginning_ept=MM/DD/YYYY HH:MMtoMM/DD/YYYY HH:MM` is in EPT
(America/New_York) wall-clock time with an INCLUSIVE end: a UTC window [s, e) asks from EPT(s) to
EPT(e - 1h), and rows outside [s, e) (the twin of a repeated hour at a bound) are dropped.

Planning: one load area (= series, the `load_area` filter) per request; windows never cross an
EPT calendar year and span <= 366 days; rowCount <= 50000. Paging: `startRow` (1-based) moves by
the rows received while `totalRows` (or a `links[rel=next]`) says more remain; the next call is
built from our own parameters so the configured base URL is kept.

Errors: 429 -> ThrottledError (Retry-After honoured); 401/403 subscription-key answers ->
TerminalSourceError naming the variable; a body with `errors` or another 4xx -> TerminalSourceError;
5xx and malformed bodies -> TransientSourceError.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.errors import TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.intervals import HOUR, IntervalSet
from aurumplan.sources.base import Call, Page, Record, RequestSpec
from aurumplan.sources.periods import ept_year_cuts, pjm_filter, utc_naive_start
from aurumplan.sources.responses import as_int, json_body, param, retry_after, with_param

if TYPE_CHECKING:  # annotations only: planning loads the drivers, httpx loads when requests are sent
    import httpx

PAGE = 50_000
MAX_DAYS = 366
FIELDS = "datetime_beginning_utc,datetime_beginning_ept,load_area,mw"


class PjmDriver:
    """PJM Data Miner 2 hourly feeds filtered by load area."""

    name = "pjm"

    def __init__(self, page_rows: int = PAGE, value_field: str = "mw", series_field: str = "load_area") -> None:
        self.page_rows = page_rows
        self.value_field = value_field
        self.series_field = series_field

    def plan_requests(self, source: SourceDef, dataset: DatasetDef,
                      targets: Mapping[str, IntervalSet]) -> list[RequestSpec]:
        """Per series: EPT-year pieces cut into windows of <= min(rows cap, 366 days) hours."""
        limits = source.dataset_limits(dataset)
        days = min(limits.max_span_days or MAX_DAYS, MAX_DAYS)
        cap = min(limits.max_rows or PAGE, PAGE, days * 24)
        out: list[RequestSpec] = []
        for sid in sorted(targets):
            for s, e in targets[sid]:
                for ys, ye in ept_year_cuts(s, e):
                    n = math.ceil((ye - ys) / HOUR)
                    k = math.ceil(n / cap)
                    step = math.ceil(n / k) * HOUR  # equal windows: no request much smaller than the rest
                    cur = ys
                    while cur < ye:
                        nxt = min(ye, cur + step)
                        out.append(RequestSpec(source.name, dataset.name, (sid,), cur, nxt,
                                               math.ceil((nxt - cur) / HOUR)))
                        cur = nxt
        return sorted(out, key=lambda r: (r.start, r.series))

    def first_call(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec) -> Call:
        (series,) = request.series
        params = (("startRow", "1"), ("rowCount", str(self.page_rows)),
                  ("fields", f"datetime_beginning_utc,datetime_beginning_ept,{self.series_field},{self.value_field}"),
                  ("datetime_beginning_ept", pjm_filter(request.start, request.end)),
                  (self.series_field, series))
        url = f"{source.base_url.rstrip('/')}/{dataset.route.strip('/')}"
        return Call("GET", url, params, secret_in="header:Ocp-Apim-Subscription-Key")

    def parse(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec, call: Call,
              response: httpx.Response) -> Page:
        body = json_body(response, "PJM")
        _raise_for(response, body, source)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise TransientSourceError("malformed PJM response (no items)")
        wanted = set(request.series)
        records: list[Record] = []
        for row in items:
            sid = str(row.get(self.series_field, ""))
            ts = utc_naive_start(row["datetime_beginning_utc"])
            if sid not in wanted or not request.start <= ts < request.end:
                continue
            raw = row.get(self.value_field)
            try:
                value: float | None = float(raw)
                attrs: dict[str, Any] | None = None
            except (TypeError, ValueError):
                value, attrs = None, {"marker": "null" if raw is None else str(raw)}
            records.append((sid, ts, value, dataset.unit, attrs))
        total = as_int(body.get("totalRows"))
        start_row = as_int(param(call, "startRow", "1")) or 1
        more = any(isinstance(lk, dict) and lk.get("rel") == "next" for lk in body.get("links") or [])
        if total is not None:
            more = start_row - 1 + len(items) < total
        nxt = with_param(call, "startRow", str(start_row + len(items))) if items and more else None
        return Page(records, nxt, total)


def _raise_for(response: httpx.Response, body: Any, source: SourceDef) -> None:
    status = response.status_code
    doc = body if isinstance(body, dict) else {}
    message = str(doc.get("message") or doc.get("errors") or "")
    if status == 429:
        raise ThrottledError(f"PJM throttled the key: {message}", retry_after=retry_after(response))
    if status >= 500:
        raise TransientSourceError(f"PJM answered HTTP {status}")
    if status in (401, 403):
        raise TerminalSourceError(f"PJM rejected the subscription key in environment variable {source.api_key_env} "
                                  f"(HTTP {status})")
    if status >= 400 or doc.get("errors"):
        raise TerminalSourceError(f"PJM rejected the request (HTTP {status}): {message or 'no message'}")


DRIVER = PjmDriver()
