"""NOAA CDO v2 driver (`GET <base>/data`, token in the `token` header).

Period convention: GHCND `date` (`2024-01-05T00:00:00`) is a naive local-standard calendar day;
the day is stored as that date's 00:00 UTC (the day itself, not shifted through a zone).
`startdate`/`enddate` are inclusive dates and the range must be shorter than one year.

Series ids are `<stationid>.<datatype>` (`GHCND:USW00094728.TMAX`): a request repeats `stationid`
and `datatypeid` for the series it covers. `units` is omitted so values stay raw (tenths of °C /
tenths of mm); the flag string `attributes` is kept in the record attributes. `limit` 1000,
`offset` 1-based; paging by `metadata.resultset.count`.

Answers: `{}` means no data (zero records, not an error). 400 (e.g. "The date range must be less
than 1 year.") -> TerminalSourceError with the developer message; 429 -> ThrottledError; 5xx and
malformed bodies -> TransientSourceError; a rejected token -> TerminalSourceError naming NOAA_TOKEN.
"""

from __future__ import annotations

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

PAGE = 1000
MAX_DAYS = 365


def split_series(series_id: str) -> tuple[str, str]:
    """`GHCND:USW00094728.TMAX` -> (`GHCND:USW00094728`, `TMAX`)."""
    station, _, datatype = series_id.rpartition(".")
    return station, datatype


class NoaaDriver:
    """NOAA Climate Data Online v2 /data."""

    name = "noaa"

    def __init__(self, page_rows: int = PAGE) -> None:
        self.page_rows = page_rows

    def plan_requests(self, source: SourceDef, dataset: DatasetDef,
                      targets: Mapping[str, IntervalSet]) -> list[RequestSpec]:
        """Windows of <= 1000 rows and < 1 year (365 days) each."""
        return plan_capped(source, dataset, targets, max_rows=PAGE, max_span_days=MAX_DAYS)

    def first_call(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec) -> Call:
        params: list[tuple[str, str]] = [("datasetid", str(dataset.selectors.get("datasetid", "GHCND")))]
        parts = [split_series(s) for s in request.series]
        params += [("stationid", s) for s in sorted({p[0] for p in parts})]
        params += [("datatypeid", t) for t in sorted({p[1] for p in parts})]
        params += [("startdate", date_label(request.start)),
                   ("enddate", date_label(last_period_start(dataset.grain, request.end))),
                   ("limit", str(self.page_rows)), ("offset", "1")]
        url = f"{source.base_url.rstrip('/')}/{(dataset.route or 'data').strip('/')}"
        return Call("GET", url, tuple(params), secret_in="header:token")

    def parse(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec, call: Call,
              response: httpx.Response) -> Page:
        body = json_body(response, "NOAA")
        _raise_for(response, body, source)
        if not isinstance(body, dict):
            raise TransientSourceError("malformed NOAA response (not an object)")
        if not body:
            return Page([], None, 0)
        rows = body.get("results")
        if not isinstance(rows, list):
            raise TransientSourceError("malformed NOAA response (no results)")
        wanted = set(request.series)
        records: list[Record] = []
        for row in rows:
            sid = f"{row.get('station')}.{row.get('datatype')}"
            ts = date_start(row["date"])
            if sid not in wanted or not request.start <= ts < request.end:
                continue
            raw = row.get("value")
            attrs: dict[str, Any] | None = {"flags": row["attributes"]} if row.get("attributes") else None
            try:
                value: float | None = float(raw)
            except (TypeError, ValueError):
                value = None
                attrs = {**(attrs or {}), "marker": "null" if raw is None else str(raw)}
            records.append((sid, ts, value, dataset.unit, attrs))
        meta = (body.get("metadata") or {}).get("resultset") or {}
        total = as_int(meta.get("count"))
        offset = as_int(param(call, "offset", "1")) or 1
        nxt = None
        if rows and total is not None and offset - 1 + len(rows) < total:
            nxt = with_param(call, "offset", str(offset + len(rows)))
        return Page(records, nxt, total)


def _raise_for(response: httpx.Response, body: Any, source: SourceDef) -> None:
    status = response.status_code
    if status < 400:
        return
    doc = body if isinstance(body, dict) else {}
    message = str(doc.get("developerMessage") or doc.get("message") or doc.get("userMessage") or "")
    if status == 429:
        raise ThrottledError(f"NOAA throttled the token: {message}", retry_after=retry_after(response))
    if status >= 500:
        raise TransientSourceError(f"NOAA answered HTTP {status}: {message}")
    if status in (401, 403) or "token" in message.lower():
        raise TerminalSourceError(f"NOAA rejected the token in environment variable {source.api_key_env} "
                                  f"(HTTP {status})")
    raise TerminalSourceError(f"NOAA rejected the request (HTTP {status}): {message or 'no message'}")


DRIVER = NoaaDriver()
