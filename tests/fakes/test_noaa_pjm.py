"""NoaaServer and PjmServer: 1-based paging, verbatim errors, throttles, EPT filters across DST."""

from __future__ import annotations

import datetime as dt
import json

import httpx

from aurumplan.intervals import parse_ts
from tests.doubles.fakeapis import NoaaServer, PjmServer
from tests.paths import RECORDED

REC = RECORDED
NOAA_ERR = json.loads((REC / "noaa/errors_verbatim.json").read_text())
TODAY = dt.date(2025, 6, 15)
STATION = "GHCND:USC00200230"


def _noaa(c: httpx.Client, **params: object) -> httpx.Response:
    base: dict[str, object] = {"datasetid": "GHCND", "stationid": STATION, "datatypeid": "PRCP",
                               "startdate": "2013-09-03", "enddate": "2013-09-30"}
    return c.get("/data", params={**base, **params}, headers={"token": "t"})


def test_noaa_default_limit_and_one_based_offset_paging() -> None:
    real = json.loads(json.loads((REC / "noaa/rnoaa_ncdc.json").read_text())["interactions"][1]["response"]["body"])
    with NoaaServer(until=TODAY) as srv, httpx.Client(base_url=srv.base_url) as c:
        first = _noaa(c).json()
        pages = [_noaa(c, limit=10, offset=o).json() for o in (1, 11, 21)]
        empty = _noaa(c, startdate="2030-01-01", enddate="2030-01-05")
    assert first["metadata"]["resultset"] == {"offset": 1, "count": 28, "limit": 25}
    assert len(first["results"]) == 25 and list(first["results"][0]) == list(real["results"][0])
    assert first["results"][0]["date"] == "2013-09-03T00:00:00" and isinstance(first["results"][0]["value"], int)
    rows = [r for p in pages for r in p["results"]]
    assert [r["date"][:10] for r in rows] == [f"2013-09-{d:02d}" for d in range(3, 31)]
    assert empty.status_code == 200 and empty.content == b"{}"


def test_noaa_range_error_500_and_429_are_verbatim() -> None:
    now = [0.0]
    with NoaaServer(clock=lambda: now[0], until=TODAY) as srv, httpx.Client(base_url=srv.base_url) as c:
        too_long = _noaa(c, startdate="2013-01-01", enddate="2014-01-01")
        srv.fail_next(1)
        boom = _noaa(c)
        codes = [_noaa(c).status_code for _ in range(6)]
        over = _noaa(c)
        now[0] = 1.5
        after = _noaa(c)
    assert too_long.status_code == 400 and too_long.json() == NOAA_ERR[1]["body"]
    assert boom.status_code == 500 and boom.json() == NOAA_ERR[2]["body"]
    assert codes == [200] * 4 + [429, 429]  # 5 per second: 2 earlier requests + 3 here
    assert over.json() == NOAA_ERR[0]["body"]
    assert over.text.startswith('{"status" : "429"')
    assert after.status_code == 200


HRL = "/hrl_load_metered"
KEY = {"Ocp-Apim-Subscription-Key": "k"}
UNTIL = parse_ts("2025-01-01")


def _pjm(c: httpx.Client, **params: object) -> httpx.Response:
    base: dict[str, object] = {"startRow": 1, "rowCount": 50000, "load_area": "PE",
                               "datetime_beginning_ept": "11/05/2023 00:00to11/05/2023 23:00"}
    merged = {k: v for k, v in {**base, **params}.items() if v is not None}
    return c.get(HRL, params=merged, headers=KEY)


def test_pjm_fall_back_day_has_25_rows_and_inclusive_end() -> None:
    with PjmServer(quota=None, until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        day = _pjm(c).json()
        spring = _pjm(c, datetime_beginning_ept="03/12/2023 00:00to03/12/2023 23:00").json()
    assert day["totalRows"] == 25 and len(day["items"]) == 25
    ones = [i for i in day["items"] if i["datetime_beginning_ept"] == "2023-11-05T01:00:00"]
    assert [i["datetime_beginning_utc"] for i in ones] == ["2023-11-05T05:00:00", "2023-11-05T06:00:00"]
    assert day["items"][-1]["datetime_beginning_ept"] == "2023-11-05T23:00:00"
    assert list(day["items"][0]) == ["datetime_beginning_utc", "datetime_beginning_ept", "nerc_region", "mkt_region",
                                     "zone", "load_area", "mw", "is_verified"]
    assert spring["totalRows"] == 23
    assert [lk["rel"] for lk in day["links"]] == ["self", "metadata"]


def test_pjm_start_row_paging_follows_next_links() -> None:
    with PjmServer(quota=None, until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        whole = _pjm(c, load_area=None, fields="datetime_beginning_utc,load_area,mw").json()
        body = _pjm(c, load_area=None, rowCount=100, fields="datetime_beginning_utc,load_area,mw").json()
        items = list(body["items"])
        while (nxt := [lk["href"] for lk in body["links"] if lk["rel"] == "next"]):
            body = c.get(nxt[0], headers=KEY).json()
            items += body["items"]
    assert whole["totalRows"] == 250 and len(items) == 250 and items == whole["items"]
    assert list(items[0]) == ["datetime_beginning_utc", "load_area", "mw"]
    assert body["searchSpecification"]["startRow"] == 201


def test_pjm_errors_keys_and_per_minute_throttle() -> None:
    with PjmServer(until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        no_key = c.get(HRL, params={"datetime_beginning_ept": "11/05/2023 00:00"})
        too_long = _pjm(c, datetime_beginning_ept="01/01/2023 00:00to01/03/2024 00:00")
        codes = [_pjm(c).status_code for _ in range(6)]
    assert no_key.status_code == 401
    assert too_long.status_code == 400 and too_long.json()["errors"]
    assert codes == [200] * 5 + [429]
    assert srv.throttled == 1 and srv.requests == 8
