"""BLS Public Data API v2 driver (`POST <base>/timeseries/data/`, key in the JSON body `registrationkey`).

Period convention: `year` + `M01..M12` is the month, stored as its first day 00:00 UTC. `M13`
(annual average) and non-monthly periods are skipped. The API answers whole calendar years,
newest first; records are filtered back to the request window.

Planning: at most 50 series and 20 calendar years per request (no paging exists), so N series
over Y years take ceil(N/50) x ceil(years/20) requests.

Errors all arrive as HTTP 200 with `status` and `message[]`: the daily threshold ->
SuspendedError (resume tomorrow); an invalid key -> TerminalSourceError naming BLS_API_KEY (the
API echoes the key in its text; we never repeat it); "Series does not exist" -> TerminalSourceError;
"Year range has been reduced" (cannot happen with our planner, but would silently drop years) ->
TerminalSourceError. "No Data Available" is a warning. Values `"-"` -> None with the marker and
footnote codes in attributes; other footnote codes (e.g. `P` preliminary) are kept too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.errors import SuspendedError, TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.intervals import IntervalSet, from_ts
from aurumplan.sources.base import Call, Page, Record, RequestSpec, plan_capped
from aurumplan.sources.periods import bls_period_start
from aurumplan.sources.responses import json_body, retry_after

if TYPE_CHECKING:  # annotations only: planning loads the drivers, httpx loads when requests are sent
    import httpx

MAX_SERIES = 50
MAX_YEARS = 20


class BlsDriver:
    """BLS timeseries/data (CPI, average prices)."""

    name = "bls"

    def plan_requests(self, source: SourceDef, dataset: DatasetDef,
                      targets: Mapping[str, IntervalSet]) -> list[RequestSpec]:
        """Series chunks of <= 50 x calendar-year chunks of <= 20 years."""
        return plan_capped(source, dataset, targets, max_series=MAX_SERIES, max_years=MAX_YEARS)

    def first_call(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec) -> Call:
        body = {"seriesid": list(request.series), "startyear": str(from_ts(request.start).year),
                "endyear": str(from_ts(request.end - 1).year)}
        url = f"{source.base_url.rstrip('/')}/{(dataset.route or 'timeseries/data').strip('/')}/"
        return Call("POST", url, json_body=body, secret_in="body:registrationkey")

    def parse(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec, call: Call,
              response: httpx.Response) -> Page:
        if response.status_code >= 500:
            raise TransientSourceError(f"BLS answered HTTP {response.status_code}")
        if response.status_code == 429:
            raise ThrottledError("BLS answered 429 Too Many Requests", retry_after=retry_after(response))
        body = json_body(response, "BLS")
        if not isinstance(body, dict) or "status" not in body:
            raise TransientSourceError("malformed BLS response (no status)")
        messages = [str(m) for m in body.get("message") or []]
        _raise_for(str(body["status"]), messages, source, response.status_code)
        results = body.get("Results")
        if isinstance(results, list):  # one documented sample wraps the object in a list
            results = results[0] if results else {}
        series_list = results.get("series") if isinstance(results, dict) else None
        if not isinstance(series_list, list):
            raise TransientSourceError("malformed BLS response (no Results.series)")
        wanted = set(request.series)
        records: list[Record] = []
        for entry in series_list:
            sid = str(entry.get("seriesID", ""))
            if sid not in wanted:
                continue
            for row in entry.get("data") or []:
                ts = bls_period_start(row.get("year", "0"), str(row.get("period", "")))
                if ts is None or not request.start <= ts < request.end:
                    continue
                value, attrs = _value(row)
                records.append((sid, ts, value, dataset.unit, attrs))
        records.sort(key=lambda r: (r[0], r[1]))
        warnings = [m for m in messages if m.startswith("No Data Available")]
        return Page(records, None, len(records), warnings)


def _value(row: Mapping[str, Any]) -> tuple[float | None, dict[str, Any] | None]:
    codes = [str(f["code"]) for f in row.get("footnotes") or [] if isinstance(f, dict) and f.get("code")]
    raw = row.get("value")
    try:
        value: float | None = float(raw)  # type: ignore[arg-type]
        attrs: dict[str, Any] | None = {"footnotes": codes} if codes else None
    except (TypeError, ValueError):
        value = None
        attrs = {"marker": "null" if raw is None else str(raw)}
        if codes:
            attrs["footnotes"] = codes
    return value, attrs


def _raise_for(status: str, messages: list[str], source: SourceDef, http_status: int) -> None:
    text = " ".join(messages)
    if "daily threshold" in text:
        raise SuspendedError(f"BLS daily request threshold reached for the key in {source.api_key_env}; "
                             "the operation pauses until the quota resets tomorrow")
    if "provided by the User is invalid" in text:
        raise TerminalSourceError(f"BLS rejected the key in environment variable {source.api_key_env} (invalid key)")
    missing = [m for m in messages if m.startswith("Series does not exist")]
    if missing:
        raise TerminalSourceError(f"BLS: {'; '.join(missing)}")
    reduced = [m for m in messages if "Year range has been reduced" in m]
    if reduced:
        raise TerminalSourceError(f"BLS truncated the request ({reduced[0]}); later years would be missing, "
                                  "so the request is refused (plan at most 20 years per request)")
    if status != "REQUEST_SUCCEEDED" or http_status >= 400:
        raise TerminalSourceError(f"BLS did not process the request ({status}): {text or 'no message'}")


DRIVER = BlsDriver()
