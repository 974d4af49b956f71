"""BlsServer: BLS Public API v2 `POST /publicAPI/v2/timeseries/data/` (sources/README §3). Always HTTP 200."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
import time
from typing import Any

from tests.doubles.fakeapis.base import FakeRequest, FakeResponse, FakeServer
from tests.doubles.fakeapis.synth import ABSENT, MISSING, Marker

DAILY_THRESHOLD = ("Request could not be serviced, as the daily threshold for total number of requests "
                   "allocated to the user with registration key  has been reached.")
LAPSE = {"code": "X", "text": "Data unavailable due to the 2025 lapse in appropriations"}
SERIES_PATTERN = r"^(CU|CW|SU|AP)[A-Z0-9]{7,15}$"
_MONTHS = [calendar.month_name[m] for m in range(1, 13)]


class BlsServer(FakeServer):
    source = "bls"
    prefix = "/publicAPI/v2"
    default_quota = {"per_day": 500}

    def __init__(self, *, series_pattern: str = SERIES_PATTERN, first_year: int = 1947,
                 until: dt.date | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.series_pattern = re.compile(series_pattern)
        self.first_year = first_year
        self.until = until

    def is_data_path(self, req: FakeRequest) -> bool:
        return req.path.rstrip("/") == "/publicAPI/v2/timeseries/data"

    def _is_signal(self, resp: FakeResponse) -> bool:
        return b'"REQUEST_SUCCEEDED"' not in resp.body[:40]

    @staticmethod
    def _status(status: str, messages: list[str], results: Any = None) -> FakeResponse:
        doc: dict[str, Any] = {"status": status, "responseTime": 0 if results is None else 37, "message": messages}
        if results is not None:
            doc["Results"] = results
        return FakeResponse(200, json.dumps(doc, separators=(",", ":")).encode())

    @staticmethod
    def _body(req: FakeRequest) -> dict[str, Any]:
        try:
            doc = json.loads(req.body or b"{}")
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def loggable_params(self, req: FakeRequest) -> dict[str, Any]:
        return {k: v for k, v in self._body(req).items() if k != "registrationkey"}

    def check_key(self, req: FakeRequest) -> FakeResponse | None:
        key = self._body(req).get("registrationkey")
        if key and self.api_key is not None and key != self.api_key:
            return self._status("REQUEST_NOT_PROCESSED", [
                f"The key:{key} provided by the User is invalid. Please provide a proper key for the "
                "operation to be successful"])
        return None

    def throttle_response(self, retry_after: float) -> FakeResponse:
        return self._status("REQUEST_NOT_PROCESSED", [DAILY_THRESHOLD])

    def server_error(self, status: int) -> FakeResponse:
        return FakeResponse(status, b"<html><body><h1>Internal Server Error</h1></body></html>", "text/html")

    def handle(self, req: FakeRequest) -> FakeResponse:
        if req.method != "POST":
            return self._status("REQUEST_NOT_PROCESSED", ["Request method not supported by this test server."])
        body = self._body(req)
        keyed = bool(body.get("registrationkey"))
        max_series, max_years = (50, 20) if keyed else (25, 10)
        ids = body.get("seriesid") or []
        if not isinstance(ids, list) or not ids:
            return self._status("REQUEST_NOT_PROCESSED", ["No Series Id provided in the request."])
        if len(ids) > max_series:
            return self._status("REQUEST_NOT_PROCESSED", [
                f"Request could not be serviced, as the number of series requested ({len(ids)}) exceeds the "
                f"allowed limit of {max_series} series."])  # UNVERIFIED wording
        today = self.until or dt.datetime.fromtimestamp(time.time(), dt.UTC).date()
        try:
            end = int(body.get("endyear") or today.year)
            start = int(body.get("startyear") or end - 2)
        except (TypeError, ValueError):
            return self._status("REQUEST_NOT_PROCESSED", ["Invalid startyear or endyear."])
        messages: list[str] = []
        if end - start + 1 > max_years:
            end = start + max_years - 1
            messages.append(f"Year range has been reduced to the system-allowed limit of {max_years} years.")
        annual = bool(body.get("annualaverage"))
        out = []
        for sid in ids:
            if not self.series_pattern.match(str(sid)):
                messages.append(f"Series does not exist for Series {sid}")
                out.append({"seriesID": sid, "data": []})
                continue
            data: list[dict[str, Any]] = []
            for year in range(end, start - 1, -1):
                rows = self._year(str(sid), year, today, annual)
                if not rows:
                    messages.append(f"No Data Available for Series {sid} Year: {year}")
                data.extend(rows)
            if data:
                data[0] = {**data[0], "latest": "true"}
                data[0] = {k: data[0][k] for k in ("year", "period", "periodName", "latest", "value", "footnotes")}
            entry: dict[str, Any] = {"seriesID": sid}
            if body.get("catalog"):
                entry["catalog"] = {"series_title": f"Synthetic series {sid}", "series_id": sid,
                                    "survey_name": "CPI for All Urban Consumers (CPI-U)",
                                    "survey_abbreviation": str(sid)[:2]}
            entry["data"] = data
            out.append(entry)
        return self._status("REQUEST_SUCCEEDED", messages, {"series": out})

    def _year(self, sid: str, year: int, today: dt.date, annual: bool) -> list[dict[str, Any]]:
        """A year's rows, newest month first; months not yet published (>= today's month) are absent."""
        if year < self.first_year:
            return []
        fn = self.data.series("bls", "timeseries/data", sid)
        dec = self.data.profile("bls", "timeseries/data").decimals
        rows: list[dict[str, Any]] = []
        values: list[float] = []
        for m in range(12, 0, -1):
            if (year, m) >= (today.year, today.month):
                continue
            v = fn(calendar.timegm((year, m, 1, 0, 0, 0)))
            if v is ABSENT:
                continue
            foot: list[dict[str, str]] = [{}]
            if isinstance(v, float | int):
                text = f"{v:.{dec}f}"
                values.append(float(v))
            elif v is MISSING or v is None or isinstance(v, Marker):
                text, foot = "-", [dict(LAPSE)]
            else:
                text = str(v)
            rows.append({"year": str(year), "period": f"M{m:02d}", "periodName": _MONTHS[m - 1],
                         "value": text, "footnotes": foot})
        if annual and len(values) == 12:
            rows.insert(0, {"year": str(year), "period": "M13", "periodName": "Annual",
                            "value": f"{sum(values) / 12:.{dec}f}", "footnotes": [{}]})
        return rows
