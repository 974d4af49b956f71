"""EiaServer: EIA API v2 `GET /v2/<route>/data/` (sources/README §1), synthetic rows, real shapes."""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from typing import Any

from tests.doubles.fakeapis.base import FakeRequest, FakeResponse, FakeServer, json_response
from tests.doubles.fakeapis.eia_routes import ROUTES, Freq, Route, oxford
from tests.doubles.fakeapis.synth import ABSENT, MISSING, Marker

MAX_ROWS = 5000
API_VERSION = "2.1.13"
INCOMPLETE = {"warning": "incomplete return",
              "description": "The API can only return 5000 rows in JSON format.  Please consider constraining "
                             "your request with facet, start, or end, or using offset to paginate results."}
_SIGNUP = "https://www.eia.gov/opendata/register.php"
_CONTACT = "https://www.eia.gov/contact/"
_KEY = re.compile(r"^(data|facets|sort)\[([^\]]*)\](?:\[([^\]]*)\])?$")


def _umbrella(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> FakeResponse:
    """API Umbrella's error shape (EIA sits behind it; body UNVERIFIED for EIA, see README §1.5)."""
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


class EiaError(Exception):
    """A 400 `{"error": ..., "code": 400}` answer."""


class EiaServer(FakeServer):
    source = "eia"
    prefix = "/v2"
    default_quota = None

    def __init__(self, *, missing_value: str | None = "NA", total_as_int: bool = False,
                 legacy_error_status: int | None = None, retry_after: bool = False,
                 suspend_on_throttle: float | None = None, unstable_order: bool = False,
                 until: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.missing_value = missing_value
        self.total_as_int = total_as_int
        self.legacy_error_status = legacy_error_status
        self.retry_after = retry_after
        self.suspend_on_throttle = suspend_on_throttle
        self.unstable_order = unstable_order
        self.until = until
        self._suspended_until: float | None = None

    # key, suspension, throttle -------------------------------------------------------------------
    def suspend(self, seconds: float | None = None) -> None:
        """Suspend the key (403 API_KEY_DISABLED) for `seconds`, or until unsuspend()."""
        self._suspended_until = float("inf") if seconds is None else self._clock() + seconds

    def unsuspend(self) -> None:
        self._suspended_until = None

    @staticmethod
    def _key(req: FakeRequest) -> str | None:
        return req.first("api_key") or req.header("X-Api-Key")

    def check_key(self, req: FakeRequest) -> FakeResponse | None:
        key = self._key(req)
        if not key:
            return _umbrella(403, "API_KEY_MISSING", f"No api_key was supplied. Get one at {_SIGNUP}")
        if self.api_key is not None and key != self.api_key:
            return _umbrella(403, "API_KEY_INVALID", f"An invalid api_key was supplied. Get one at {_SIGNUP}")
        if self._suspended_until is not None:
            if self._clock() < self._suspended_until:
                return _umbrella(403, "API_KEY_DISABLED", "The api_key supplied has been disabled. "
                                 f"Please contact us at {_CONTACT} for assistance")
            self._suspended_until = None
        return None

    def throttle_response(self, retry_after: float) -> FakeResponse:
        if self.suspend_on_throttle is not None:
            self.suspend(self.suspend_on_throttle)
        headers = {"Retry-After": str(max(1, round(retry_after)))} if self.retry_after else None
        return _umbrella(429, "OVER_RATE_LIMIT", "You have exceeded your rate limit. Try again later or "
                         f"contact us at {_CONTACT} for assistance", headers)

    def server_error(self, status: int) -> FakeResponse:
        return json_response(status, {"error": "An unexpected error occurred.", "code": status})

    # routing ------------------------------------------------------------------------------------
    def _route(self, req: FakeRequest) -> tuple[str, bool]:
        path = req.path[len(self.prefix):].strip("/") if req.path.startswith(self.prefix + "/") else ""
        if path.endswith("/data"):
            return path[: -len("/data")], True
        return path, False

    def is_data_path(self, req: FakeRequest) -> bool:
        return self._route(req)[1]

    def not_found(self, req: FakeRequest) -> FakeResponse:
        """Route metadata for `GET /v2/<route>/` (not a data request, so not counted)."""
        route, _ = self._route(req)
        r = ROUTES.get(route)
        if r is None:
            return self._error(f"Invalid route '{route}' provided.", 404)
        denied = self.check_key(req)
        if denied is not None:
            return denied
        return json_response(200, {"response": self._metadata(r), "request": {
            "command": f"/v2/{route}/", "params": {"api_key": self._key(req)}}, "apiVersion": API_VERSION})

    def _metadata(self, r: Route) -> dict[str, Any]:
        freq = next(iter(r.frequencies.values()))
        end = freq.label(self._last(r, freq))
        return {"id": r.route.rsplit("/", 1)[-1], "name": r.name, "description": r.description,
                "frequency": [{"id": f.name, "description": f.description, "query": f.query,
                               "format": f.date_format} for f in r.frequencies.values()],
                "facets": [{"id": f.id, "description": f.description} for f in r.facets],
                "data": {c: {"units": u} for c, u in r.columns.items()},
                "startPeriod": r.first, "endPeriod": end, "defaultDateFormat": freq.date_format,
                "defaultFrequency": freq.name}

    def _last(self, r: Route, freq: Freq) -> int:
        until = self.until if self.until is not None else int(time.time())
        return freq.index_of_ts(until)

    def _error(self, message: str, code: int = 400) -> FakeResponse:
        return json_response(self.legacy_error_status or code, {"error": message, "code": code})

    # data ---------------------------------------------------------------------------------------
    def _params(self, req: FakeRequest) -> dict[str, Any]:
        """Query-string params in EIA's bracket form, merged with an `X-Params` JSON header."""
        p: dict[str, Any] = {}
        header = req.header("X-Params")
        if header:
            p.update(json.loads(header))
        data: list[str] = []
        facets: dict[str, list[str]] = {}
        sort: dict[str, dict[str, str]] = {}
        for k, v in req.query:
            m = _KEY.match(k)
            if m is None:
                p[k] = v
            elif m.group(1) == "data":
                data.append(v)
            elif m.group(1) == "facets":
                facets.setdefault(m.group(2), []).append(v)
            else:
                sort.setdefault(m.group(2), {})[m.group(3) or "column"] = v
        if data:
            p["data"] = data
        if facets:
            p["facets"] = {**p.get("facets", {}), **facets}
        if sort:
            p["sort"] = [sort[i] for i in sorted(sort, key=lambda s: int(s) if s.isdigit() else 0)]
        return p

    def handle(self, req: FakeRequest) -> FakeResponse:
        route, _ = self._route(req)
        r = ROUTES.get(route)
        if r is None:
            return self._error(f"Invalid route '{route}' provided.", 404)
        try:
            p = self._params(req)
        except ValueError:
            return self._error("Invalid X-Params header provided.")
        try:
            body = self._data(r, p)
        except EiaError as e:
            return self._error(str(e))
        echo: dict[str, Any] = {}
        key = req.first("api_key")
        if key is not None:
            echo["api_key"] = key
        for name in ("frequency", "data", "facets", "start", "end", "sort", "offset", "length"):
            if name in p:
                echo[name] = p[name]
        request = json.dumps({"command": f"/v2/{route}/data/", "params": echo}, separators=(",", ":"))
        out = '{"response":' + body + ',"request":' + request + ',"apiVersion":"' + API_VERSION + \
              '","ExcelAddInVersion":"2.1.0"}'
        return FakeResponse(200, out.encode())

    def _data(self, r: Route, p: dict[str, Any]) -> str:
        fname = p.get("frequency") or next(iter(r.frequencies))
        freq = r.frequencies.get(fname)
        if freq is None:
            raise EiaError(f"Invalid frequency '{fname}' provided. The only valid frequencies are "
                           f"{oxford(list(r.frequencies))}.")
        columns = list(p.get("data") or [])
        for c in columns:
            if c not in r.columns:
                raise EiaError(f"Invalid data '{c}' provided. The only valid data are {oxford(list(r.columns))}.")
        facets = p.get("facets") or {}
        for fid in facets:
            if r.facet(fid) is None:
                raise EiaError(f"Invalid facet '{fid}' provided. The only valid facets are "
                               f"{oxford([f.id for f in r.facets])}.")
        try:
            offset = max(0, int(p.get("offset", 0)))
            length = min(MAX_ROWS, max(0, int(p.get("length", MAX_ROWS))))
        except (TypeError, ValueError) as e:
            raise EiaError("Invalid offset or length provided.") from e
        lo = max(freq.floor(r.first) or 0, self._bound(freq, p.get("start"), True))
        hi = min(self._last(r, freq), self._bound(freq, p.get("end"), False))
        nper = max(0, hi - lo + 1)
        combos = [tuple(v for v in (facets.get(f.id) or sorted(f.values)) if v in f.values) for f in r.facets]
        series = list(itertools.product(*combos))
        sort = p.get("sort") or []
        series_major, desc = self._order(r, sort, columns, series)
        keys = self._keys(r, freq, lo, nper, series, series_major, desc)
        total = len(keys) if keys is not None else nper * len(series)
        end = min(total, offset + length)
        rows = self._rows(r, freq, columns, series, lo, nper, offset, end, series_major, desc, keys)
        if self.unstable_order and not sort:
            random.shuffle(rows)
        head = ('{"warnings":' + json.dumps([INCOMPLETE], separators=(",", ":")) + ",") if total > end else "{"
        tot = str(total) if self.total_as_int else f'"{total}"'
        return (head + '"total":' + tot + ',"dateFormat":' + json.dumps(freq.date_format) + ',"frequency":"'
                + freq.name + '","data":[' + ",".join(rows) + '],"description":' + json.dumps(r.description) + "}")

    @staticmethod
    def _bound(freq: Freq, text: Any, is_start: bool) -> int:
        """Inclusive label bound compared lexically; an end shorter than a label covers its prefix."""
        if not text:
            return -(1 << 40) if is_start else 1 << 40
        text = str(text)
        idx = freq.floor(text)
        if idx is None:
            raise EiaError(f"Invalid {'start' if is_start else 'end'} '{text}' provided.")
        if is_start:
            while freq.label(idx) < text:
                idx += 1
            while freq.label(idx - 1) >= text:
                idx -= 1
            return idx
        n = len(text)
        while freq.label(idx + 1)[:n] <= text:
            idx += 1
        while freq.label(idx)[:n] > text:
            idx -= 1
        return idx

    def _order(self, r: Route, sort: list[dict[str, str]], columns: list[str],
               series: list[tuple[str, ...]]) -> tuple[bool, bool]:
        """(series-major?, periods descending?) and facet-value ordering of `series` in place."""
        valid = ["period", *[f.id for f in r.facets], *columns]
        desc = False
        first = None
        for s in sort:
            col, direction = s.get("column"), str(s.get("direction", "asc")).lower()
            if col not in valid:
                raise EiaError(f"Invalid sort column '{col}' provided. The only valid columns are {oxford(valid)}.")
            if direction not in ("asc", "desc"):
                raise EiaError(f"Invalid sort direction '{direction}' provided.")
            if col in columns:
                raise EiaError("Sorting by a data column is not supported by this test server.")
            first = first or col
            if col == "period":
                desc = direction == "desc"
            else:
                pos = [f.id for f in r.facets].index(col)
                series.sort(key=lambda t, pos=pos: t[pos], reverse=direction == "desc")
        return first not in (None, "period"), desc

    def _keys(self, r: Route, freq: Freq, lo: int, nper: int, series: list[tuple[str, ...]],
              series_major: bool, desc: bool) -> list[tuple[int, int]] | None:
        """Explicit (period, series) order, only when ABSENT overrides punch holes into the range."""
        absent = self.data.absent("eia", r.route)
        if not absent:
            return None
        names = {".".join(s): i for i, s in enumerate(series)}
        holes = {(names[s], ts) for s, ts in absent if s in names}
        if not holes:
            return None
        pers = range(lo + nper - 1, lo - 1, -1) if desc else range(lo, lo + nper)
        pairs = ([(pi, si) for si in range(len(series)) for pi in pers] if series_major
                 else [(pi, si) for pi in pers for si in range(len(series))])
        return [(pi, si) for pi, si in pairs if (si, freq.start_ts(pi)) not in holes]

    def _rows(self, r: Route, freq: Freq, columns: list[str], series: list[tuple[str, ...]], lo: int, nper: int,
              start: int, end: int, series_major: bool, desc: bool,
              keys: list[tuple[int, int]] | None) -> list[str]:
        dec = self.data.profile("eia", r.route).decimals
        facet_parts = [",".join(
            f"{json.dumps(f.id)}:{json.dumps(v)},{json.dumps(f.name_key)}:{json.dumps(f.values[v])}"
            for f, v in zip(r.facets, s, strict=True)).replace("%", "%%") for s in series]
        units = [f',"{c}{r.units_suffix}":"{r.columns[c]}"'.replace("%", "%%") for c in columns]
        # one %-template per series: numbers formatted in place, overrides (text/null) via %s
        num = ['{"period":"%s",' + fp + "".join(f',"{c}":"%.{dec}f"' + u for c, u in zip(columns, units, strict=True))
               + "}" for fp in facet_parts]
        txt = ['{"period":"%s",' + fp + "".join(f',"{c}":%s' + u for c, u in zip(columns, units, strict=True))
               + "}" for fp in facet_parts]
        fns = [[self.data.series("eia", r.route if c == r.primary else f"{r.route}#{c}", ".".join(s))
                for c in columns] for s in series]
        fmt, label, start_ts = self._fmt, freq.label, freq.start_ts
        rows: list[str] = []
        nser = len(series) or 1
        single = len(columns) == 1
        for i in range(start, end):
            if keys is not None:
                pi, si = keys[i]
            elif series_major:
                si, off = divmod(i, nper)
                pi = lo + nper - 1 - off if desc else lo + off
            else:
                off, si = divmod(i, nser)
                pi = lo + nper - 1 - off if desc else lo + off
            if not columns:
                rows.append(num[si] % label(pi))
                continue
            ts = start_ts(pi)
            if single:
                v = fns[si][0](ts)
                rows.append(num[si] % (label(pi), v) if type(v) is float else txt[si] % (label(pi), fmt(v, dec)))
                continue
            vals = [f(ts) for f in fns[si]]
            if all(type(v) is float for v in vals):
                rows.append(num[si] % (label(pi), *vals))
            else:
                rows.append(txt[si] % (label(pi), *(fmt(v, dec) for v in vals)))
        return rows

    def _fmt(self, v: Any, dec: int) -> str:
        if isinstance(v, float | int) and not isinstance(v, bool):
            return f'"{v:.{dec}f}"'
        if v is MISSING or v is ABSENT:
            return "null" if self.missing_value is None else json.dumps(self.missing_value)
        if isinstance(v, Marker) or v is None:
            return "null"
        return json.dumps(v)
