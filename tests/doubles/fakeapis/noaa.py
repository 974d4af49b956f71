"""NoaaServer: NOAA CDO v2 `GET /cdo-web/api/v2/data` (sources/README §4.1), GHCND daily values."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

from tests.doubles.fakeapis.base import FakeRequest, FakeResponse, FakeServer, json_response
from tests.doubles.fakeapis.synth import Marker

THROTTLED = b'{"status" : "429", "message" : "This token has reached its temporary request limit of 5 per second."}'
SERVER_ERROR = {"statusCode": "500", "userMessage": "An error occured while servicing your request.",
                "developerMessage": "An error occured while servicing your request."}
DATATYPES = ("PRCP", "SNOW", "SNWD", "TAVG", "TMAX", "TMIN")
STATIONS = ("GHCND:USC00200230", "GHCND:USW00014739", "GHCND:USW00094728")
_STATION = re.compile(r"^GHCND:[A-Z0-9]{11}$")


def _bad_request(developer: str) -> FakeResponse:
    return json_response(400, {"statusCode": "400", "userMessage": "There was an error with the request.",
                               "developerMessage": developer})


class NoaaServer(FakeServer):
    source = "noaa"
    prefix = "/cdo-web/api/v2"
    default_quota = {"per_second": 5, "per_day": 10000}

    def __init__(self, *, stations: tuple[str, ...] = STATIONS, until: dt.date | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.stations = stations
        self.until = until

    def is_data_path(self, req: FakeRequest) -> bool:
        return req.path.rstrip("/") == "/cdo-web/api/v2/data"

    def check_key(self, req: FakeRequest) -> FakeResponse | None:
        token = req.header("token")
        if not token or (self.api_key is not None and token != self.api_key):
            # UNVERIFIED: the CDO body for a missing/invalid token was not captured.
            return FakeResponse(400, b'{"status" : "400", "message" : "Token parameter is required."}')
        return None

    def throttle_response(self, retry_after: float) -> FakeResponse:
        return FakeResponse(429, THROTTLED)

    def server_error(self, status: int) -> FakeResponse:
        return json_response(status, {**SERVER_ERROR, "statusCode": str(status)})

    def handle(self, req: FakeRequest) -> FakeResponse:
        if req.first("datasetid") != "GHCND":
            return _bad_request("This test server only serves datasetid GHCND.")
        try:
            start = dt.date.fromisoformat((req.first("startdate") or "")[:10])
            end = dt.date.fromisoformat((req.first("enddate") or "")[:10])
            limit = int(req.first("limit") or 25)
            offset = int(req.first("offset") or 1)
        except ValueError:
            return _bad_request("Required parameters startdate and enddate must be dates (YYYY-MM-DD).")
        try:
            year_later = start.replace(year=start.year + 1)
        except ValueError:
            year_later = start.replace(year=start.year + 1, day=28)
        if end >= year_later:
            return _bad_request("The date range must be less than 1 year.")
        if end < start:
            return _bad_request("The startdate must be before the enddate.")
        if not 1 <= limit <= 1000:
            return _bad_request("The limit parameter must be between 1 and 1000.")  # UNVERIFIED wording
        stations = sorted(s for s in (req.all("stationid") or self.stations) if _STATION.match(s))
        types = sorted(t for t in (req.all("datatypeid") or DATATYPES) if t in DATATYPES)
        metric = req.first("units") == "metric"
        rows = self._rows(start, end, stations, types, metric)
        if not rows:
            return FakeResponse(200, b"{}", "application/json;charset=UTF-8")
        page = rows[max(offset, 1) - 1: max(offset, 1) - 1 + limit]
        body = (f'{{"metadata":{{"resultset":{{"offset":{max(offset, 1)},"count":{len(rows)},"limit":{limit}}}}},'
                f'"results":[{",".join(page)}]}}')
        return FakeResponse(200, body.encode(), "application/json;charset=UTF-8")

    def _rows(self, start: dt.date, end: dt.date, stations: list[str], types: list[str],
              metric: bool) -> list[str]:
        today = self.until or dt.datetime.fromtimestamp(time.time(), dt.UTC).date()
        last = min(end, today - dt.timedelta(days=1))
        fns = {(s, t): self.data.series("noaa", "GHCND", f"{s}.{t}") for s in stations for t in types}
        rows: list[str] = []
        day = start
        while day <= last:
            ts = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
            stamp = day.isoformat() + "T00:00:00"
            for t in types:
                for s in stations:
                    v = fns[(s, t)](ts)
                    if isinstance(v, Marker) or v is None:
                        continue
                    if isinstance(v, str):
                        text = json.dumps(v)
                    else:
                        n = int(v)
                        if t in ("PRCP", "SNOW", "SNWD"):
                            n = max(0, n - 120)
                        text = str(n / 10 if metric and t not in ("SNOW", "SNWD") else n)
                    time_of_obs = "2400" if s.startswith("GHCND:USW") else "0700"
                    rows.append(f'{{"date":"{stamp}","datatype":"{t}","station":"{s}",'
                                f'"attributes":",,{"W" if time_of_obs == "2400" else "7"},{time_of_obs}",'
                                f'"value":{text}}}')
            day += dt.timedelta(days=1)
        return rows
