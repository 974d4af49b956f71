"""FredServer: FRED `GET /fred/series/observations` and `/fred/series/vintagedates` (docs/sources.md), JSON
or the default XML, with ALFRED real-time periods.

Vintages: period P is first published the day its period ends (what the plain API shows up to today),
with the synthetic value; `revisions={"GDP": {"2024-11-13": {"2024-07-01": 29374.9}}}` publishes a new
value of a period on a vintage date. A vintage date is a day anything was published. Observations take
`realtime_start`/`realtime_end` (default today, `YYYY-MM-DD`, closed-closed), `output_type` 1 (a row per
real-time period, clipped to the requested one, as FRED echoes `realtime_start=today` by default),
2 and 3 (a column `SERIES_YYYYMMDD` per vintage: every value / only new and revised ones, "." elsewhere:
the JSON shape of 2-3 is UNVERIFIED), 4 (initial release only), and `vintage_dates` (a comma list that
replaces the real-time period). A real-time period holding more than `max_vintages` (2000) vintage
dates is refused with FRED's 400 message. `series/vintagedates` pages by `limit` (<= 10000) and `offset`.
"""

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
    "DGS10": ("daily", "1962-01-02"), "GDP": ("quarterly", "1947-01-01"),
}
"""series id -> (frequency, first observation); daily means business days (Mon-Fri)."""
HOLIDAYS = ("01-01", "07-04", "11-11", "12-25")
"""Fixed-date market holidays: daily series show "." there, as FRED does for DGS10."""
EARLIEST, LATEST = "1776-07-04", "9999-12-31"
MAX_VINTAGES = 2000
CAP = ("There are {n} vintage dates in the specified real-time period: {start} to {end}. This exceeds the "
       "maximum number of vintage dates allowed for this file type ({cap}).")
Revisions = dict[str, dict[str, dict[str, float]]]
"""series id -> vintage date -> period date -> the value published that day."""


class FredError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FredError(400, f"Bad Request.  Variable {name} is not a valid date in the YYYY-MM-DD format.") from None


def _next_month(d: dt.date, months: int) -> dt.date:
    m = d.month - 1 + months
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


class FredServer(FakeServer):
    source = "fred"
    prefix = "/fred"
    default_quota = {"per_minute": 120}

    def __init__(self, *, series: dict[str, tuple[str, str]] | None = None, until: dt.date | None = None,
                 revisions: Revisions | None = None, max_vintages: int = MAX_VINTAGES, **kw: Any) -> None:
        super().__init__(**kw)
        self.series = {**SERIES, **(series or {})}
        self.until = until
        self.revisions = {sid: {dt.date.fromisoformat(v): {dt.date.fromisoformat(p): x for p, x in per.items()}
                                for v, per in by_vintage.items()} for sid, by_vintage in (revisions or {}).items()}
        self.max_vintages = max_vintages

    def is_data_path(self, req: FakeRequest) -> bool:
        return req.path.rstrip("/") in ("/fred/series/observations", "/fred/series/vintagedates")

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
        vintages = req.path.rstrip("/").endswith("vintagedates")
        try:
            doc = self._vintagedates(req) if vintages else self._observations(req)
        except FredError as e:
            return self._error(e.status, str(e), file_type)
        if file_type == "json":
            return FakeResponse(200, json.dumps(doc, separators=(",", ":")).encode(),
                                "application/json; charset=UTF-8")
        key = "vintage_dates" if vintages else "observations"
        attrs = " ".join(f"{k}={quoteattr(str(v))}" for k, v in doc.items() if k != key)
        if vintages:
            rows = "".join(f"  <vintage_date>{v}</vintage_date>\n" for v in doc[key])
        else:
            rows = "".join("  <observation " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in o.items()) + "/>\n"
                           for o in doc[key])
        body = f'<?xml version="1.0" encoding="utf-8" ?>\n<{key} {attrs}>\n{rows}</{key}>\n'
        return FakeResponse(200, body.encode(), "text/xml; charset=UTF-8")

    # periods and vintages ----------------------------------------------------------------------
    def _released(self, sid: str, d: dt.date) -> dt.date:
        """The day period d is first published: the day after it ends."""
        freq = self.series[sid][0]
        if freq == "monthly":
            return _next_month(d, 1)
        if freq == "quarterly":
            return _next_month(d, 3)
        return d + dt.timedelta(days=1)

    def _dates(self, sid: str, lo: dt.date, hi: dt.date, published_by: dt.date | None = None) -> list[dt.date]:
        """Periods in [lo, hi] published by `published_by` (default today)."""
        freq, first = self.series[sid]
        by = min(published_by or self._today(), self._today())
        lo = max(lo, dt.date.fromisoformat(first))
        out: list[dt.date] = []
        if freq in ("monthly", "quarterly"):
            step = 1 if freq == "monthly" else 3
            d = dt.date(lo.year, lo.month, 1)
            if freq == "quarterly":
                d = dt.date(lo.year, (lo.month - 1) // 3 * 3 + 1, 1)
            if d < lo:
                d = _next_month(d, step)
            while d <= hi and self._released(sid, d) <= by:
                out.append(d)
                d = _next_month(d, step)
            return out
        d = lo
        while d <= hi and self._released(sid, d) <= by:
            if d.weekday() < 5:
                out.append(d)
            d += dt.timedelta(days=1)
        return out

    def _history(self, sid: str, d: dt.date, base: Any) -> list[tuple[dt.date, dt.date, Any]]:
        """Period d's values with their real-time periods [start, end] (closed), oldest first."""
        first = self._released(sid, d)
        later = sorted((v, per[d]) for v, per in self.revisions.get(sid, {}).items()
                       if d in per and first < v <= self._today())
        changes = [(first, base), *later]
        ends = [nxt - dt.timedelta(days=1) for nxt, _ in changes[1:]] + [dt.date.fromisoformat(LATEST)]
        return [(start, end, value) for (start, value), end in zip(changes, ends, strict=True)]

    def _vintage_dates(self, sid: str, lo: dt.date, hi: dt.date) -> list[dt.date]:
        """Days in [lo, hi] on which anything of the series was published."""
        first = self.series[sid][1]
        days = {self._released(sid, d) for d in self._dates(sid, dt.date.fromisoformat(first), self._today())}
        days |= {v for v in self.revisions.get(sid, {}) if v <= self._today()}
        return sorted(v for v in days if lo <= v <= hi)

    def _text(self, sid: str, d: dt.date, v: Any) -> str:
        dec = self.data.profile("fred", "series/observations").decimals
        if self.series[sid][0] == "daily" and d.isoformat()[5:] in HOLIDAYS and isinstance(v, float):
            v = MISSING
        return f"{v:.{dec}f}" if isinstance(v, float | int) else "." if v is MISSING or v is None else \
            ("." if isinstance(v, Marker) else str(v))

    # endpoints ---------------------------------------------------------------------------------
    def _paging(self, req: FakeRequest, most: int) -> tuple[int, int, str]:
        try:
            limit = int(req.first("limit") or most)
            offset = int(req.first("offset") or 0)
        except ValueError as e:
            raise FredError(400, f"Bad Request.  {e}") from e
        if not 1 <= limit <= most:
            raise FredError(400, f"Bad Request.  Variable limit is not between 1 and {most}.")
        if offset < 0:
            raise FredError(400, "Bad Request.  Variable offset is not 0 or a positive integer.")
        order = req.first("sort_order") or "asc"
        if order not in ("asc", "desc"):
            raise FredError(400, "Bad Request.  Variable sort_order should be one of 'asc' or 'desc'.")
        return limit, offset, order

    def _series_id(self, req: FakeRequest) -> str:
        sid = req.first("series_id")
        if not sid:
            raise FredError(400, "Bad Request.  Variable series_id is not set.")
        if sid not in self.series:
            raise FredError(400, "Bad Request.  The series does not exist.")
        return sid

    def _realtime(self, req: FakeRequest, default_start: str, default_end: str) -> tuple[str, str]:
        rt_start = req.first("realtime_start") or default_start
        rt_end = req.first("realtime_end") or default_end
        if _date(rt_start, "realtime_start") > _date(rt_end, "realtime_end"):
            raise FredError(400, "Bad Request.  The real-time start date must be less than or equal to "
                                 "the real-time end date.")
        return rt_start, rt_end

    def _vintagedates(self, req: FakeRequest) -> dict[str, Any]:
        sid = self._series_id(req)
        limit, offset, order = self._paging(req, 10000)
        rt_start, rt_end = self._realtime(req, EARLIEST, LATEST)
        days = [v.isoformat() for v in self._vintage_dates(sid, _date(rt_start, "realtime_start"),
                                                           _date(rt_end, "realtime_end"))]
        if order == "desc":
            days.reverse()
        return {"realtime_start": rt_start, "realtime_end": rt_end, "order_by": "vintage_date",
                "sort_order": order, "count": len(days), "offset": offset, "limit": limit,
                "vintage_dates": days[offset: offset + limit]}

    def _observations(self, req: FakeRequest) -> dict[str, Any]:
        sid = self._series_id(req)
        today = self._today().isoformat()
        o_start = req.first("observation_start") or "1600-01-01"
        o_end = req.first("observation_end") or "9999-12-31"
        lo, hi = _date(o_start, "observation_start"), _date(o_end, "observation_end")
        limit, offset, order = self._paging(req, 100000)
        try:
            output_type = int(req.first("output_type") or 1)
        except ValueError:
            output_type = 0
        if output_type not in (1, 2, 3, 4):
            raise FredError(400, "Bad Request.  Variable output_type is not one of the values: 1, 2, 3, 4.")
        rt_start, rt_end = self._realtime(req, today, today)
        listed = [v for v in (req.first("vintage_dates") or "").split(",") if v]
        if listed:
            chosen = sorted(_date(v, "vintage_dates") for v in listed)
            rt_start, rt_end = chosen[0].isoformat(), chosen[-1].isoformat()
        rs, re = _date(rt_start, "realtime_start"), _date(rt_end, "realtime_end")
        vintages = chosen if listed else self._vintage_dates(sid, rs, re)
        if len(vintages) > self.max_vintages:
            raise FredError(400, CAP.format(n=len(vintages), start=rt_start, end=rt_end, cap=self.max_vintages))
        fn = self.data.series("fred", "series/observations", sid)
        rows: list[dict[str, str]] = []
        for d in self._dates(sid, lo, hi, published_by=re):
            base = fn(int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()))
            if base is ABSENT:
                continue
            history = self._history(sid, d, base)
            if output_type == 1:
                rows += [{"realtime_start": max(s, rs).isoformat(), "realtime_end": min(e, re).isoformat(),
                          "date": d.isoformat(), "value": self._text(sid, d, v)}
                         for s, e, v in history if s <= re and e >= rs]
            elif output_type == 4:
                s, e, v = history[0]
                if rs <= s <= re:
                    rows.append({"realtime_start": s.isoformat(), "realtime_end": e.isoformat(),
                                 "date": d.isoformat(), "value": self._text(sid, d, v)})
            else:
                row = {"date": d.isoformat()}
                for vd in vintages:
                    now = [(s, v) for s, e, v in history if s <= vd <= e]
                    new = bool(now) and (output_type == 2 or now[0][0] == vd)
                    row[f"{sid}_{vd:%Y%m%d}"] = self._text(sid, d, now[0][1]) if new else "."
                if output_type == 2 or any(x != "." for k, x in row.items() if k != "date"):
                    rows.append(row)
        if order == "desc":
            rows.reverse()
        return {"realtime_start": rt_start, "realtime_end": rt_end, "observation_start": o_start,
                "observation_end": o_end, "units": req.first("units") or "lin", "output_type": output_type,
                "file_type": req.first("file_type", "xml"), "order_by": "observation_date", "sort_order": order,
                "count": len(rows), "offset": offset, "limit": limit,
                "observations": rows[offset: offset + limit]}
