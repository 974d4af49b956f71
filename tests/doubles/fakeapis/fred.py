"""FredServer: FRED `GET /fred/series/observations` (sources/README §2), JSON or the default XML."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from xml.sax.saxutils import quoteattr

from tests.doubles.fakeapis.base import FakeRequest, FakeResponse, FakeServer
from tests.doubles.fakeapis.synth import ABSENT, MISSING, Marker

NOT_SET = "Bad Request. Variable api_key has not been set."
NOT_REGISTERED = ("Bad Request. The value for variable api_key is not registered. "
                  "Read https://fred.stlouisfed.org/docs/api/api_key.html for more information.")
THROTTLED = "Too Many Requests.  Exceeded Rate Limit"  # UNVERIFIED: FRED's 429 text was not captured
SERIES: dict[str, tuple[str, str]] = {
    "CPIAUCSL": ("monthly", "1947-01-01"), "UNRATE": ("monthly", "1948-01-01"),
    "DGS10": ("daily", "1962-01-02"),
}
"""series id -> (frequency, first observation); daily means business days (Mon-Fri)."""
HOLIDAYS = ("01-01", "07-04", "11-11", "12-25")
"""Fixed-date market holidays: daily series show "." there, as FRED does for DGS10."""


class FredError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FredServer(FakeServer):
    source = "fred"
    prefix = "/fred"
    default_quota = {"per_minute": 120}

    def __init__(self, *, series: dict[str, tuple[str, str]] | None = None, until: dt.date | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.series = {**SERIES, **(series or {})}
        self.until = until

    def is_data_path(self, req: FakeRequest) -> bool:
        return req.path.rstrip("/") == "/fred/series/observations"

    def _today(self) -> dt.date:
        return self.until or dt.datetime.fromtimestamp(time.time(), dt.UTC).date()

    @staticmethod
    def _error(status: int, message: str, file_type: str | None) -> FakeResponse:
        if file_type == "json":
            body = json.dumps({"error_code": status, "error_message": message}, separators=(",", ":"))
            return FakeResponse(status, body.encode())
        return FakeResponse(status, f'<?xml version="1.0" encoding="utf-8" ?>\n<error code="{status}" '
                                    f"message={quoteattr(message)}/>".encode(), "text/xml; charset=UTF-8")

    def check_key(self, req: FakeRequest) -> FakeResponse | None:
        key = req.first("api_key")
        if not key:
            return self._error(400, NOT_SET, req.first("file_type"))
        if self.api_key is not None and key != self.api_key:
            return self._error(400, NOT_REGISTERED, req.first("file_type"))
        return None

    def throttle_response(self, retry_after: float) -> FakeResponse:
        return self._error(429, THROTTLED, "json")

    def server_error(self, status: int) -> FakeResponse:
        return self._error(status, "Internal Server Error", "json")

    def handle(self, req: FakeRequest) -> FakeResponse:
        file_type = req.first("file_type", "xml")
        try:
            doc = self._observations(req)
        except FredError as e:
            return self._error(e.status, str(e), file_type)
        if file_type == "json":
            return FakeResponse(200, json.dumps(doc, separators=(",", ":")).encode(),
                                "application/json; charset=UTF-8")
        attrs = " ".join(f"{k}={quoteattr(str(v))}" for k, v in doc.items() if k != "observations")
        rows = "".join(f'  <observation realtime_start="{o["realtime_start"]}" realtime_end="{o["realtime_end"]}" '
                       f'date="{o["date"]}" value={quoteattr(o["value"])}/>\n' for o in doc["observations"])
        body = f'<?xml version="1.0" encoding="utf-8" ?>\n<observations {attrs}>\n{rows}</observations>\n'
        return FakeResponse(200, body.encode(), "text/xml; charset=UTF-8")

    def _dates(self, sid: str, lo: dt.date, hi: dt.date) -> list[dt.date]:
        freq, first = self.series[sid]
        lo = max(lo, dt.date.fromisoformat(first))
        hi = min(hi, self._today())
        out: list[dt.date] = []
        if freq == "monthly":
            y, m = lo.year, lo.month if lo.day == 1 else lo.month + 1
            while True:
                y, m = (y + 1, 1) if m == 13 else (y, m)
                d = dt.date(y, m, 1)
                if d > hi or d >= self._today().replace(day=1):
                    return out
                out.append(d)
                m += 1
        d = lo
        while d <= hi and d < self._today():
            if d.weekday() < 5:
                out.append(d)
            d += dt.timedelta(days=1)
        return out

    def _observations(self, req: FakeRequest) -> dict[str, Any]:
        sid = req.first("series_id")
        if not sid:
            raise FredError(400, "Bad Request.  Variable series_id is not set.")
        if sid not in self.series:
            raise FredError(400, "Bad Request.  The series does not exist.")
        today = self._today().isoformat()
        try:
            o_start = req.first("observation_start") or "1600-01-01"
            o_end = req.first("observation_end") or "9999-12-31"
            lo, hi = dt.date.fromisoformat(o_start), dt.date.fromisoformat(o_end)
            limit = int(req.first("limit") or 100000)
            offset = int(req.first("offset") or 0)
        except ValueError as e:
            raise FredError(400, f"Bad Request.  {e}") from e
        if not 1 <= limit <= 100000:
            raise FredError(400, "Bad Request.  Variable limit is not between 1 and 100000.")
        if offset < 0:
            raise FredError(400, "Bad Request.  Variable offset is not 0 or a positive integer.")
        order = req.first("sort_order") or "asc"
        if order not in ("asc", "desc"):
            raise FredError(400, "Bad Request.  Variable sort_order should be one of 'asc' or 'desc'.")
        rt_start, rt_end = req.first("realtime_start") or today, req.first("realtime_end") or today
        fn = self.data.series("fred", "series/observations", sid)
        dec = self.data.profile("fred", "series/observations").decimals
        rows = []
        for d in self._dates(sid, lo, hi):
            v = fn(int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()))
            if v is ABSENT:
                continue
            if self.series[sid][0] == "daily" and d.isoformat()[5:] in HOLIDAYS and isinstance(v, float):
                v = MISSING
            text = f"{v:.{dec}f}" if isinstance(v, float | int) else "." if v is MISSING or v is None else \
                ("." if isinstance(v, Marker) else str(v))
            rows.append({"realtime_start": rt_start, "realtime_end": rt_end, "date": d.isoformat(),
                         "value": text})
        if order == "desc":
            rows.reverse()
        return {"realtime_start": rt_start, "realtime_end": rt_end, "observation_start": o_start,
                "observation_end": o_end, "units": req.first("units") or "lin", "output_type": 1,
                "file_type": req.first("file_type", "xml"), "order_by": "observation_date", "sort_order": order,
                "count": len(rows), "offset": offset, "limit": limit,
                "observations": rows[offset: offset + limit]}
