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

Revisions (Reprocess `incremental: {field: realtime_start}`): `revised_since` asks, at plan time,
`series/vintagedates` for the vintage dates on or after `since`, then `series/observations` with
`output_type=1` over the real-time period from the day before the first of them: every row whose
`realtime_start` is on or after a vintage of that period is a value published then (new or revised),
and its `date` is the period to refresh. A real-time period may hold at most 2000 vintage dates
(HTTP 400 "... exceeds the maximum number of vintage dates allowed ..."), so the vintages are asked
for in chunks (each also counts the day before it), and a chunk the API still refuses is halved.
See docs/replay.md, "Incremental".
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.compile.revisions import Revised
from aurumplan.errors import TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.intervals import IntervalSet
from aurumplan.sources.base import Call, Page, Record, RequestSpec, plan_capped
from aurumplan.sources.discovery import DiscoveryClient
from aurumplan.sources.periods import date_label, date_start, last_period_start
from aurumplan.sources.responses import as_int, json_body, param, retry_after, with_param

if TYPE_CHECKING:  # annotations only: planning loads the drivers, httpx loads when requests are sent
    import httpx

PAGE = 100_000
NOT_REGISTERED_LIMIT = 3
MAX_VINTAGES = 2000
"""Vintage dates one observations request's real-time period may hold (ALFRED's cap)."""
VINTAGE_PAGE = 10_000
SIGNAL = "FRED vintage dates"


class VintageCapError(TerminalSourceError):
    """FRED refused a real-time period holding more vintage dates than it serves at once."""


class FredDriver:
    """FRED series/observations."""

    name = "fred"
    revision_fields = ("realtime_start",)

    def __init__(self, page_rows: int = PAGE, max_vintages: int = MAX_VINTAGES) -> None:
        self.page_rows = page_rows
        self.max_vintages = max(2, max_vintages)
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

    def revised_since(self, source: SourceDef, dataset: DatasetDef, spans: Mapping[str, tuple[int, int]],
                      since: dt.date, recordings: Path | None,
                      client: DiscoveryClient | None = None) -> dict[str, Revised]:
        """Per series, the periods inside its span [start, end) given a value on a vintage date on or
        after `since` (new or revised), with those vintage dates (compile/revisions.py)."""
        if client is None:
            with DiscoveryClient(source, recordings) as own:
                return self.revised_since(source, dataset, spans, since, recordings, own)
        out: dict[str, Revised] = {}
        for sid, span in spans.items():
            vintages = self._vintages(client, source, sid, since)
            periods: dict[int, set[str]] = {}
            step = self.max_vintages - 1  # the day before a chunk's first vintage counts too
            for i in range(0, len(vintages), step):
                self._revised_rows(client, source, dataset, sid, vintages[i:i + step], span, periods)
            out[sid] = Revised(SIGNAL, {p: tuple(sorted(d)) for p, d in sorted(periods.items())})
        return out

    def _base(self, source: SourceDef) -> str:
        return source.base_url.rstrip("/")

    def _vintages(self, client: DiscoveryClient, source: SourceDef, series: str, since: dt.date) -> list[str]:
        """`series/vintagedates` on or after since, every page."""
        out: list[str] = []
        call = Call("GET", f"{self._base(source)}/series/vintagedates",
                    (("series_id", series), ("file_type", "json"), ("realtime_start", since.isoformat()),
                     ("realtime_end", "9999-12-31"), ("sort_order", "asc"), ("limit", str(VINTAGE_PAGE)),
                     ("offset", "0")), secret_in="query:api_key")
        while True:
            body = client.send(call, lambda r: self._json(r, source, "vintage_dates"))
            page = [str(v) for v in body["vintage_dates"]]
            out.extend(v for v in page if v >= since.isoformat())
            total = as_int(body.get("count"))
            offset = as_int(param(call, "offset", "0")) or 0
            if not page or total is None or offset + len(page) >= total:
                return sorted(set(out))
            call = with_param(call, "offset", str(offset + len(page)))

    def _revised_rows(self, client: DiscoveryClient, source: SourceDef, dataset: DatasetDef, series: str,
                      vintages: list[str], span: tuple[int, int], periods: dict[int, set[str]]) -> None:
        """Add the periods given a value on one of `vintages` (a chunk FRED serves at once; halved if not)."""
        day_before = (dt.date.fromisoformat(vintages[0]) - dt.timedelta(days=1)).isoformat()
        call = Call("GET", f"{self._base(source)}/{(dataset.route or 'series/observations').strip('/')}",
                    (("series_id", series), ("file_type", "json"), ("output_type", "1"),
                     ("realtime_start", day_before), ("realtime_end", vintages[-1]),
                     ("observation_start", date_label(span[0])),
                     ("observation_end", date_label(last_period_start(dataset.grain, span[1]))),
                     ("sort_order", "asc"), ("limit", str(self.page_rows)), ("offset", "0")),
                    secret_in="query:api_key")
        found: dict[int, set[str]] = {}
        try:
            while True:
                body = client.send(call, lambda r: self._json(r, source, "observations"))
                rows = body["observations"]
                for row in rows:
                    start = str(row.get("realtime_start", ""))
                    if start >= vintages[0]:
                        found.setdefault(date_start(row["date"]), set()).add(start)
                total = as_int(body.get("count"))
                offset = as_int(param(call, "offset", "0")) or 0
                if not rows or total is None or offset + len(rows) >= total:
                    break
                call = with_param(call, "offset", str(offset + len(rows)))
        except VintageCapError:
            if len(vintages) < 2:
                raise
            half = len(vintages) // 2
            for part in (vintages[:half], vintages[half:]):
                self._revised_rows(client, source, dataset, series, part, span, periods)
            return
        for p, dates in found.items():
            if span[0] <= p < span[1]:
                periods.setdefault(p, set()).update(dates)

    def _json(self, response: httpx.Response, source: SourceDef, key: str) -> dict[str, Any]:
        body = json_body(response, "FRED")
        message = str(body.get("error_message", "")) if isinstance(body, dict) else ""
        if response.status_code == 400 and "maximum number of vintage dates" in message:
            raise VintageCapError(f"FRED refused the real-time period: {message}")
        self._raise_for(response, body, source)
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            raise TransientSourceError(f"malformed FRED response from {response.request.url.path} (no {key})")
        with self._lock:
            self._not_registered.pop(source.api_key_env, None)
        return body

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
