"""PjmServer: PJM Data Miner 2 `GET /api/v1/hrl_load_metered` (sources/README §5.2), EPT filters, DST."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from tests.doubles.fakeapis.base import FakeRequest, FakeResponse, FakeServer, json_response
from tests.doubles.fakeapis.synth import Marker

EPT = ZoneInfo("America/New_York")
FEED = "hrl_load_metered"
FIELDS = ("datetime_beginning_utc", "datetime_beginning_ept", "nerc_region", "mkt_region", "zone",
          "load_area", "mw", "is_verified")
LOAD_AREAS: tuple[tuple[str, str, str, str], ...] = (
    # (load_area, zone, mkt_region, nerc_region)
    ("AECO", "AE", "MIDATL", "RFC"), ("BC", "BC", "MIDATL", "RFC"), ("DOM", "DOM", "SOUTH", "SERC"),
    ("JC", "JC", "MIDATL", "RFC"), ("PE", "PE", "MIDATL", "RFC"), ("PEPCO", "PEP", "MIDATL", "RFC"),
    ("PS", "PS", "MIDATL", "RFC"), ("AEPAPT", "AEP", "WEST", "RFC"), ("CE", "COMED", "WEST", "RFC"),
    ("DUQ", "DUQ", "WEST", "RFC"),
)
_FMT = "%m/%d/%Y %H:%M"
_ISO = "%Y-%m-%dT%H:%M:%S"


def _apim(status: int, message: str, headers: dict[str, str] | None = None) -> FakeResponse:
    """Azure API Management's body shape (PJM's gateway; exact PJM text UNVERIFIED)."""
    return FakeResponse(status, json.dumps({"statusCode": status, "message": message}).encode(),
                        headers=headers or {})


class PjmError(Exception):
    """A 400 with gridstatus' `errors` key (exact PJM shape UNVERIFIED, README pjm/errors_verbatim)."""


class PjmServer(FakeServer):
    source = "pjm"
    prefix = "/api/v1"
    default_quota = {"per_minute": 6}

    def __init__(self, *, until: int | None = None, default_row_count: int = 25, **kw: Any) -> None:
        super().__init__(**kw)
        self.until = until
        self.default_row_count = default_row_count

    def is_data_path(self, req: FakeRequest) -> bool:
        return req.path.rstrip("/") == f"{self.prefix}/{FEED}"

    def check_key(self, req: FakeRequest) -> FakeResponse | None:
        key = req.header("Ocp-Apim-Subscription-Key")
        if not key:
            return _apim(401, "Access denied due to missing subscription key. Make sure to include subscription "
                              "key when making requests to an API.")
        if self.api_key is not None and key != self.api_key:
            return _apim(401, "Access denied due to invalid subscription key. Make sure to provide a valid key "
                              "for an active subscription.")
        return None

    def throttle_response(self, retry_after: float) -> FakeResponse:
        wait = max(1, round(retry_after))
        return _apim(429, f"Rate limit is exceeded. Try again in {wait} seconds.", {"Retry-After": str(wait)})

    def server_error(self, status: int) -> FakeResponse:
        return _apim(status, "Internal server error")

    def handle(self, req: FakeRequest) -> FakeResponse:
        params = {k.lower(): v for k, v in req.query}
        try:
            return self._page(params)
        except PjmError as e:
            return json_response(400, {"errors": [{"field": "", "message": str(e)}]})

    @staticmethod
    def _range(text: str) -> tuple[dt.datetime, dt.datetime]:
        lo, _, hi = text.partition("to")
        try:
            a = dt.datetime.strptime(lo.strip(), _FMT)
            b = dt.datetime.strptime(hi.strip(), _FMT) if hi else a
        except ValueError as e:
            raise PjmError(f"Invalid date range '{text}'; use MM/DD/YYYY HH:mmtoMM/DD/YYYY HH:mm.") from e
        if b < a:
            raise PjmError("The end of the date range is before its start.")
        if b - a > dt.timedelta(days=366):
            raise PjmError("The date range cannot exceed 366 days.")
        return a, b

    def _page(self, params: dict[str, str]) -> FakeResponse:
        try:
            start_row = int(params.get("startrow", 1))
            row_count = int(params.get("rowcount", self.default_row_count))
        except ValueError as e:
            raise PjmError("startRow and rowCount must be integers.") from e
        if not 1 <= row_count <= 50000:
            raise PjmError("rowCount must be between 1 and 50000.")
        if start_row < 1:
            raise PjmError("startRow must be 1 or more.")
        fields = [f.strip() for f in params.get("fields", ",".join(FIELDS)).split(",") if f.strip()]
        bad = [f for f in fields if f not in FIELDS]
        if bad:
            raise PjmError(f"Invalid field(s): {', '.join(bad)}")
        filters: list[dict[str, str]] = []
        if "datetime_beginning_ept" in params:
            filt, local = params["datetime_beginning_ept"], True
        elif "datetime_beginning_utc" in params:
            filt, local = params["datetime_beginning_utc"], False
        else:
            raise PjmError("A datetime_beginning_ept or datetime_beginning_utc filter is required.")
        filters.append({"datetime_beginning_ept" if local else "datetime_beginning_utc": filt})
        a, b = self._range(filt)
        areas = list(LOAD_AREAS)
        for key, pos in (("load_area", 0), ("zone", 1)):
            if params.get(key):
                filters.append({key: params[key]})
                areas = [x for x in areas if x[pos] == params[key]]
        hours = self._hours(a, b, local)
        absent = self.data.absent("pjm", FEED)
        keys = [(h, x) for h in hours for x in areas if (x[0], h) not in absent]
        total = len(keys)
        dec = self.data.profile("pjm", FEED).decimals
        items = []
        fns = {x[0]: self.data.series("pjm", FEED, x[0]) for x in areas}
        for h, (area, zone, mkt, nerc) in keys[start_row - 1: start_row - 1 + row_count]:
            v = fns[area](h)
            mw = None if isinstance(v, Marker) or v is None else (round(v, dec) if not isinstance(v, str) else v)
            utc = dt.datetime.fromtimestamp(h, dt.UTC)
            row = {"datetime_beginning_utc": utc.strftime(_ISO),
                   "datetime_beginning_ept": utc.astimezone(EPT).strftime(_ISO), "nerc_region": nerc,
                   "mkt_region": mkt, "zone": zone, "load_area": area, "mw": mw, "is_verified": True}
            items.append({f: row[f] for f in fields})
        links = [{"rel": "self", "href": self._href(row_count, start_row, fields, filters)}]
        if start_row - 1 + row_count < total:
            links.append({"rel": "next", "href": self._href(row_count, start_row + row_count, fields, filters)})
        links.append({"rel": "metadata", "href": f"{self.base_url}/{FEED}/metadata"})
        doc = {"links": links, "items": items,
               "searchSpecification": {"rowCount": row_count, "order": "Asc", "startRow": start_row,
                                       "isActiveMetadata": True, "fields": fields, "filters": filters},
               "totalRows": total}
        return FakeResponse(200, json.dumps(doc, separators=(",", ":")).encode())

    def _hours(self, a: dt.datetime, b: dt.datetime, local: bool) -> list[int]:
        """UTC starts of hours whose (EPT or UTC) beginning lies in [a, b]; fall-back days give 25."""
        until = self.until if self.until is not None else int(time.time())
        if not local:
            lo = int(a.replace(tzinfo=dt.UTC).timestamp())
            hi = int(b.replace(tzinfo=dt.UTC).timestamp())
            return [h for h in range(-(-lo // 3600) * 3600, hi + 1, 3600) if h + 3600 <= until]
        lo = int(a.replace(tzinfo=dt.UTC).timestamp()) // 3600 * 3600
        hi = int(b.replace(tzinfo=dt.UTC).timestamp())
        out = []
        for h in range(lo, hi + 6 * 3600, 3600):
            naive = dt.datetime.fromtimestamp(h, dt.UTC).astimezone(EPT).replace(tzinfo=None)
            if a <= naive <= b and h + 3600 <= until:
                out.append(h)
        return out

    def _href(self, row_count: int, start_row: int, fields: list[str], filters: list[dict[str, str]]) -> str:
        q = {"RowCount": row_count, "Order": "Asc", "StartRow": start_row, "IsActiveMetadata": "True",
             "Fields": ",".join(fields)}
        for f in filters:
            q.update(f)
        return f"{self.base_url}/{FEED}?{urlencode(q, quote_via=quote)}"
