"""FRED driver (`GET <base>/series/observations?file_type=json`, key in the `api_key` query parameter).

Period convention: `date` is the observation period START for every frequency (`1947-01-01` is
Q1 1947 for GDP, January for CPIAUCSL), stored as that day's UTC midnight. `observation_start`
and `observation_end` are inclusive dates, so a window [s, e) asks for the date of s and the start
of its last period.

One series per request (the endpoint takes one `series_id`); `limit` 100000 with `offset` paging
by `count`. Missing values are `"."` -> None with `{"marker": "."}`.

Errors: JSON bodies `{"error_code", "error_message"}`. 429 -> ThrottledError. 400 "api_key has not
been set" -> TerminalSourceError naming the variable. 400 "api_key ... is not registered" is what
FRED also sends when it throttles under load (mortada/fredapi#45), so it is treated as a throttle
(ThrottledError, every worker slows) until it comes back NOT_REGISTERED_LIMIT times in a row
without a success in between; then the key really is rejected (TerminalSourceError). Other 4xx
are terminal with FRED's message, 5xx and malformed bodies transient.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.errors import TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.intervals import IntervalSet
from aurumplan.sources.base import Call, Page, Record, RequestSpec, plan_capped
from aurumplan.sources.periods import date_label, date_start, last_period_start
from aurumplan.sources.responses import as_int, json_body, param, retry_after, with_param

if TYPE_CHECKING:  # annotations only: planning loads the drivers, httpx loads when requests are sent
    import httpx

PAGE = 100_000
NOT_REGISTERED_LIMIT = 3


class FredDriver:
    """FRED series/observations."""

    name = "fred"

    def __init__(self, page_rows: int = PAGE) -> None:
        self.page_rows = page_rows
        self._not_registered: dict[str, int] = {}
        self._lock = threading.Lock()

    def plan_requests(self, source: SourceDef, dataset: DatasetDef,
                      targets: Mapping[str, IntervalSet]) -> list[RequestSpec]:
        """One series per request; windows as long as one page allows."""
        return plan_capped(source, dataset, targets, max_series=1)

    def first_call(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec) -> Call:
        (series,) = request.series
        params = (("series_id", series), ("file_type", "json"),
                  ("observation_start", date_label(request.start)),
                  ("observation_end", date_label(last_period_start(dataset.grain, request.end))),
                  ("sort_order", "asc"), ("limit", str(self.page_rows)), ("offset", "0"))
        url = f"{source.base_url.rstrip('/')}/{(dataset.route or 'series/observations').strip('/')}"
        return Call("GET", url, params, secret_in="query:api_key")

    def parse(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec, call: Call,
              response: httpx.Response) -> Page:
        body = json_body(response, "FRED")
        self._raise_for(response, body, source)
        rows = body.get("observations") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise TransientSourceError(f"malformed FRED response from {call.url} (no observations)")
        with self._lock:
            self._not_registered.pop(source.api_key_env, None)
        series = param(call, "series_id")
        records: list[Record] = []
        for row in rows:
            raw = row.get("value")
            value, attrs = _value(raw)
            ts = date_start(row["date"])
            if request.start <= ts < request.end:
                records.append((series, ts, value, dataset.unit, attrs))
        total = as_int(body.get("count"))
        offset = as_int(param(call, "offset", "0")) or 0
        nxt = None
        if rows and total is not None and offset + len(rows) < total:
            nxt = with_param(call, "offset", str(offset + len(rows)))
        return Page(records, nxt, total)

    def _raise_for(self, response: httpx.Response, body: Any, source: SourceDef) -> None:
        status = response.status_code
        message = str(body.get("error_message", "")) if isinstance(body, dict) else ""
        if status == 429:
            raise ThrottledError(f"FRED throttled the key (429 {message})".rstrip(), retry_after=retry_after(response))
        if status >= 500:
            raise TransientSourceError(f"FRED answered HTTP {status}: {message}".rstrip(": "))
        if status < 400 and "error_code" not in (body if isinstance(body, dict) else {}):
            return
        if "api_key" in message and "not been set" in message:
            raise TerminalSourceError(f"FRED got no key: environment variable {source.api_key_env} is empty")
        if "api_key" in message and "not registered" in message:
            with self._lock:
                seen = self._not_registered.get(source.api_key_env, 0) + 1
                self._not_registered[source.api_key_env] = seen
            if seen >= NOT_REGISTERED_LIMIT:
                raise TerminalSourceError(f"FRED rejected the key in environment variable {source.api_key_env} "
                                          f"(not registered, {seen} times in a row)")
            raise ThrottledError("FRED answered 'api_key is not registered', which it also sends when "
                                 "throttling; slowing down and retrying", retry_after=retry_after(response))
        raise TerminalSourceError(f"FRED rejected the request (HTTP {status}): {message or 'no message'}")


def _value(raw: Any) -> tuple[float | None, dict[str, Any] | None]:
    try:
        return float(raw), None
    except (TypeError, ValueError):
        return None, {"marker": "null" if raw is None else str(raw)}


DRIVER = FredDriver()
