"""EIA API v2 driver (`GET <base>/<route>/data/`, key in the `api_key` query parameter).

Period convention: hourly labels are hour-ENDING UTC (`2024-01-01T01` covers 00:00-01:00 UTC and
is stored as the period start 2024-01-01T00:00Z); `local-hourly` labels carry the BA's UTC offset
(`2023-03-20T00-07`) and are converted through it; monthly (`YYYY-MM`) and daily (`YYYY-MM-DD`)
labels are period starts. `start`/`end` are inclusive bounds in the label format.

Quirks handled: `total` as a string or a number; the `incomplete return` warning (paging continues
by offset); values as strings, `"NA"`/null/empty kept as None with the marker in attributes; error
bodies `{"error": ..., "code": 400}` also inside HTTP 200 (before v2.1.10); API Umbrella's
`OVER_RATE_LIMIT` (429) and key errors (403).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.errors import SuspendedError, TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.intervals import HOUR, Grain, IntervalSet, fmt_ts, from_ts
from aurumplan.sources.base import Call, Page, Record, RequestSpec, plan_windows
from aurumplan.sources.responses import as_int, json_body, retry_after, with_param

if TYPE_CHECKING:  # annotations only: planning loads the drivers, httpx loads when requests are sent
    import httpx

_FIELD = re.compile(r"\{(\w+)\}")
_FREQ = {Grain.HOURLY: "hourly", Grain.DAILY: "daily", Grain.MONTHLY: "monthly", Grain.QUARTERLY: "quarterly"}
PAGE = 5000
_MISSING = frozenset((None, "", "NA", "-", "W", "--"))


def template_fields(ds: DatasetDef) -> list[str]:
    return _FIELD.findall(ds.series_template)


def split_series(ds: DatasetDef, series_id: str) -> dict[str, str]:
    """`PJM.NG` with template `{respondent}.{fueltype}` -> {respondent: PJM, fueltype: NG}."""
    fields = template_fields(ds)
    parts = series_id.split(".", len(fields) - 1) if len(fields) > 1 else [series_id]
    return dict(zip(fields, parts, strict=False))


def label(grain: Grain, ts: int) -> str:
    """The API's label of the period starting at ts (start/end bounds of a request)."""
    if grain is Grain.HOURLY:  # `YYYY-MM-DDTHH`: the cached plan stamp `YYYY-MM-DDTHH:MMZ`, cut
        return fmt_ts(ts)[:13]
    d = from_ts(ts)
    if grain is Grain.MONTHLY:
        return d.strftime("%Y-%m")
    if grain is Grain.QUARTERLY:
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return d.strftime("%Y-%m-%d")


@lru_cache(maxsize=1 << 16)
def parse_period(grain: Grain, convention: str, text: str) -> int:
    """A period label as the UTC start of the period it covers."""
    text = str(text)
    if grain is Grain.HOURLY:
        ts = calendar.timegm((int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), 0, 0))
        if len(text) > 13:  # local-hourly: YYYY-MM-DDTHH-07 is local time at that UTC offset
            off = int(text[14:16]) * HOUR
            ts += -off if text[13] == "+" else off
        return ts - HOUR if convention in ("hour-ending-utc", "local-hourly") else ts
    if grain is Grain.MONTHLY:
        return int(dt.datetime.strptime(text[:7], "%Y-%m").replace(tzinfo=dt.UTC).timestamp())
    if grain is Grain.QUARTERLY:
        year, q = int(text[:4]), int(text[-1])
        return int(dt.datetime(year, 3 * q - 2, 1, tzinfo=dt.UTC).timestamp())
    return int(dt.datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp())


_PERIODS: dict[tuple[Grain, str], dict[Any, int]] = {}


def _period_cache(grain: Grain, convention: str) -> dict[Any, int]:
    """Label -> period start for one grain and convention: labels repeat across series and pages,
    and a dict lookup is the cheapest per-record step. Bounded: emptied when it grows large."""
    cache = _PERIODS.setdefault((grain, convention), {})
    if len(cache) > 1 << 17:
        cache.clear()
    return cache


class EiaDriver:
    """EIA API v2."""

    name = "eia"

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, tuple[str, ...]], tuple[DatasetDef, list[tuple[str, str]]]] = {}

    def plan_requests(self, source: SourceDef, dataset: DatasetDef,
                      targets: Mapping[str, IntervalSet]) -> list[RequestSpec]:
        """Series are asked as facet cross products, so multi-field series are grouped to exact products."""
        fields = template_fields(dataset)
        if len(fields) < 2:
            return plan_windows(source, dataset, targets)
        first = fields[0]
        groups: dict[tuple[IntervalSet, frozenset[str]], list[str]] = {}
        by_head: dict[tuple[IntervalSet, str], set[str]] = {}
        for sid, where in targets.items():
            parts = split_series(dataset, sid)
            by_head.setdefault((where, parts[first]), set()).add(sid)
        for (where, head), sids in by_head.items():
            tails = frozenset(s[len(head) + 1:] for s in sids)
            groups.setdefault((where, tails), []).extend(sorted(sids))
        out: list[RequestSpec] = []
        for (where, _), members in sorted(groups.items(), key=lambda kv: (kv[0][0].intervals, kv[1])):
            out.extend(plan_windows(source, dataset, dict.fromkeys(members, where)))
        return out

    def _selection(self, dataset: DatasetDef, series: tuple[str, ...]) -> list[tuple[str, str]]:
        """frequency, data column and facets of a request: the same for every window of a group."""
        params: list[tuple[str, str]] = [("frequency", _FREQ[dataset.grain]), ("data[0]", dataset.data_field)]
        for facet, values in sorted(dataset.selectors.items()):
            for v in values if isinstance(values, list) else [values]:
                params.append((f"facets[{facet}][]", str(v)))
        facets: dict[str, set[str]] = {}
        for sid in series:
            for f, v in split_series(dataset, sid).items():
                facets.setdefault(f, set()).add(v)
        for f in template_fields(dataset):
            params.extend((f"facets[{f}][]", v) for v in sorted(facets.get(f, ())))
        return params

    def first_call(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec) -> Call:
        grain = dataset.grain
        key = (source.name, dataset.name, request.series)
        cached = self._cache.get(key)
        if cached is None or cached[0] is not dataset:
            cached = self._cache[key] = (dataset, self._selection(dataset, request.series))
        params = list(cached[1])
        if grain is Grain.HOURLY and dataset.period_convention == "hour-ending-utc":
            start, end = label(grain, request.start + HOUR), label(grain, request.end)
        else:
            start, end = label(grain, request.start), label(grain, grain.floor(request.end - 1))
        params += [("start", start), ("end", end), ("sort[0][column]", "period"), ("sort[0][direction]", "asc"),
                   ("offset", "0"), ("length", str(PAGE))]
        url = f"{source.base_url.rstrip('/')}/{dataset.route.strip('/')}/data/"
        return Call("GET", url, tuple(params), secret_in="query:api_key")

    def parse(self, source: SourceDef, dataset: DatasetDef, request: RequestSpec, call: Call,
              response: httpx.Response) -> Page:
        body = json_body(response, "EIA")
        _raise_for(response, body, source)
        resp = body.get("response") if isinstance(body, dict) else None
        if not isinstance(resp, dict) or not isinstance(resp.get("data"), list):
            raise TransientSourceError(f"malformed EIA response from {call.url} (no response.data)")
        rows = resp["data"]
        records: list[Record] = []
        field = dataset.data_field
        units_key = f"{field}-units"
        grain, conv = dataset.grain, dataset.period_convention
        fields = template_fields(dataset)
        single = fields[0] if len(fields) == 1 else None
        periods = _period_cache(grain, conv)
        append = records.append
        for row in rows:
            if single is not None:
                sid = row.get(single, "")
                if sid.__class__ is not str:
                    sid = str(sid)
            else:
                sid = ".".join(str(row.get(f, "")) for f in fields) if fields else str(row.get("series", ""))
            text = row["period"]
            ts = periods.get(text)
            if ts is None:
                ts = periods[text] = parse_period(grain, conv, text)
            raw = row.get(field)
            attrs: dict[str, Any] | None = None
            try:
                value = float(raw) if raw not in _MISSING else None
            except (TypeError, ValueError):
                value = None
            if value is None:
                attrs = {"marker": "null" if raw is None else str(raw)}
            append((sid, ts, value, row.get(units_key) or row.get("units") or dataset.unit, attrs))
        total = as_int(resp.get("total"))
        params = dict(call.params)
        offset = int(params.get("offset", "0"))
        nxt = None
        if rows and total is not None and offset + len(rows) < total:
            nxt = with_param(call, "offset", str(offset + len(rows)))
        warnings = [w.get("warning", "") for w in resp.get("warnings", []) if isinstance(w, dict)]
        return Page(records, nxt, total, warnings)


def _raise_for(response: httpx.Response, body: Any, source: SourceDef) -> None:
    status = response.status_code
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code", ""))
        if code == "OVER_RATE_LIMIT" or status == 429:
            raise ThrottledError("EIA throttled the key (OVER_RATE_LIMIT)", retry_after=retry_after(response))
        if code == "API_KEY_DISABLED":
            raise SuspendedError(f"EIA suspended the key in {source.api_key_env}; the operation pauses "
                                 "until the cool-down ends")
        if code in ("API_KEY_MISSING", "API_KEY_INVALID"):
            raise TerminalSourceError(f"EIA rejected the key in environment variable {source.api_key_env} ({code})")
        raise TerminalSourceError(f"EIA error {code}: {err.get('message', '')}")
    if status == 429:
        raise ThrottledError("EIA answered 429 Too Many Requests", retry_after=retry_after(response))
    if status >= 500:
        raise TransientSourceError(f"EIA answered HTTP {status}")
    if isinstance(err, str):
        if str(body.get("code", "")).startswith("5"):  # legacy servers answer 200 with code 5xx
            raise TransientSourceError(f"EIA server error: {err}")
        raise TerminalSourceError(f"EIA rejected the request: {err}")
    if status >= 400:
        raise TerminalSourceError(f"EIA answered HTTP {status}")


DRIVER = EiaDriver()
