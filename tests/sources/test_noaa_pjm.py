"""NOAA and PJM drivers against the local servers: 1-based paging, EPT filters across DST, limits, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from aurumplan.errors import TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.intervals import HOUR, parse_ts
from aurumplan.sources import noaa, pjm
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.periods import ept_year_start
from tests.doubles.fakeapis import MISSING, NoaaServer, PjmServer, Synth
from tests.sources.support import KEY, fetch, fetch_plan, source, window

TODAY = dt.date(2025, 6, 15)
STATIONS = ("GHCND:USC00200230", "GHCND:USW00014739", "GHCND:USW00094728")
UNTIL = parse_ts("2025-01-01")


def test_noaa_plan_keeps_pages_under_1000_rows_and_one_year() -> None:
    src = source("noaa", "http://unused")
    ds = src.datasets["GHCND.TMAX"]
    plan = noaa.DRIVER.plan_requests(src, ds, {s: window("2023-01-01", "2025-01-01") for s in ds.series})
    assert len(plan) == 3  # 731 days x 4 stations / (250 days x 4)
    assert all(r.expected_rows <= 1000 and r.end - r.start < 365 * 86400 + 1 for r in plan)
    call = noaa.DRIVER.first_call(src, ds, plan[0])
    params = call.params
    assert [v for k, v in params if k == "stationid"] == sorted(s.rpartition(".")[0] for s in ds.series)
    assert dict(params)["datatypeid"] == "TMAX" and "units" not in dict(params)
    assert (dict(params)["startdate"], dict(params)["enddate"]) == ("2023-01-01", "2023-09-07")


def test_noaa_pages_with_one_based_offset_and_empty_is_no_records() -> None:
    series = tuple(f"{s}.TMAX" for s in STATIONS)
    with NoaaServer(api_key=KEY, until=TODAY, quota=None) as srv:
        src = source("noaa", srv.base_url)
        req = RequestSpec("noaa", "GHCND.TMAX", series, parse_ts("2024-01-01"), parse_ts("2024-12-31"), 1095)
        records, pages = fetch(noaa.DRIVER, src, "GHCND.TMAX", req)
        offsets = [e.params["offset"] for e in srv.log]
        future = RequestSpec("noaa", "GHCND.TMAX", series, parse_ts("2026-01-01"), parse_ts("2026-01-10"), 27)
        empty, _ = fetch(noaa.DRIVER, src, "GHCND.TMAX", future)
    assert pages == 2 and offsets == ["1", "1001"]
    assert len(records) == 1095 and len({(r[0], r[1]) for r in records}) == 1095
    assert {r[0] for r in records} == set(series)
    first = min(records, key=lambda r: r[1])
    assert first[1] == parse_ts("2024-01-01") and first[3] == "tenths of degrees C"
    assert first[4] is not None and first[4]["flags"].startswith(",,")
    assert empty == []


def test_noaa_missing_day_is_absent_not_an_error() -> None:
    synth = Synth()
    synth.override("noaa", "GHCND", "GHCND:USW00094728.TMAX", "2024-02-02", MISSING)
    with NoaaServer(api_key=KEY, until=TODAY, quota=None, data=synth) as srv:
        src = source("noaa", srv.base_url)
        records, _, _ = fetch_plan(noaa.DRIVER, src, "GHCND.TMAX",
                                   {"GHCND:USW00094728.TMAX": window("2024-02-01", "2024-02-04")})
    assert sorted(r[1] for r in records) == [parse_ts("2024-02-01"), parse_ts("2024-02-03")]


def _noaa_once(srv: NoaaServer, key: str | None = KEY, days: int = 5) -> None:
    src = source("noaa", srv.base_url)
    start = parse_ts("2024-01-01")
    req = RequestSpec("noaa", "GHCND.TMAX", ("GHCND:USW00094728.TMAX",), start, start + days * 86400, days)
    fetch(noaa.DRIVER, src, "GHCND.TMAX", req, key)


def test_noaa_errors() -> None:
    with NoaaServer(api_key=KEY, until=TODAY, quota={"per_second": 1}) as srv:
        with pytest.raises(TerminalSourceError, match="less than 1 year"):
            _noaa_once(srv, days=400)
        with pytest.raises(ThrottledError, match="5 per second"):
            _noaa_once(srv)
        srv.quota.reset()
        with pytest.raises(TerminalSourceError, match="NOAA_TOKEN") as e:
            _noaa_once(srv, key="other-token-77")
        assert "other-token-77" not in str(e.value)
        srv.fail_next(1, 500)
        with pytest.raises(TransientSourceError, match="500"):
            _noaa_once(srv)


def test_pjm_fall_back_day_has_25_distinct_hours_per_area() -> None:
    day_start = parse_ts("2023-11-05T04:00Z")  # 00:00 EDT
    day_end = parse_ts("2023-11-06T05:00Z")
    with PjmServer(api_key=KEY, until=UNTIL, quota=None) as srv:
        src = source("iso", srv.base_url)
        targets = {a: window("2023-11-05T04:00Z", "2023-11-06T05:00Z") for a in ("BC", "DOM")}
        records, plan, pages = fetch_plan(pjm.DRIVER, src, "PJM.LOAD", targets)
        filt = srv.log[0].params["datetime_beginning_ept"]
    assert filt == "11/05/2023 00:00to11/05/2023 23:00"
    assert len(plan) == pages == 2
    for area in ("BC", "DOM"):
        periods = sorted(r[1] for r in records if r[0] == area)
        assert periods == list(range(day_start, day_end, HOUR)) and len(periods) == 25


def test_pjm_pages_follow_start_row() -> None:
    driver = pjm.PjmDriver(page_rows=24)
    with PjmServer(api_key=KEY, until=UNTIL, quota=None) as srv:
        src = source("iso", srv.base_url)
        req = RequestSpec("iso", "PJM.LOAD", ("PS",), parse_ts("2024-06-01"), parse_ts("2024-06-03T12:00Z"), 60)
        records, pages = fetch(driver, src, "PJM.LOAD", req)
        rows = [e.params["startRow"] for e in srv.log]
    assert pages == 3 and rows == ["1", "25", "49"]
    assert [r[1] for r in records] == list(range(req.start, req.end, HOUR))
    assert all(r[0] == "PS" and r[3] == "MW" for r in records)


def test_pjm_plan_never_crosses_an_ept_year_and_counts_requests() -> None:
    src = source("iso", "http://unused")
    ds = src.datasets["PJM.LOAD"]
    plan = pjm.DRIVER.plan_requests(src, ds, {a: window("2023-03-01", "2024-06-01") for a in ("BC", "JC")})
    assert len(plan) == 4
    cut = ept_year_start(2024)
    assert cut == parse_ts("2024-01-01T05:00Z")
    assert all(r.end <= cut or r.start >= cut for r in plan)
    assert all(r.end - r.start <= 366 * 86400 for r in plan)
    long = pjm.DRIVER.plan_requests(src, ds, {"BC": window("2022-01-01T05:00Z", "2025-01-01T05:00Z")})
    assert len(long) == 3
    with PjmServer(api_key=KEY, until=UNTIL, quota=None) as srv:
        records, plan2, pages = fetch_plan(pjm.DRIVER, source("iso", srv.base_url), "PJM.LOAD",
                                           {"BC": window("2023-12-31T00:00Z", "2024-01-01T12:00Z")})
    assert len(plan2) == pages == 2 and len(records) == 36


def test_pjm_errors() -> None:
    with PjmServer(api_key=KEY, until=UNTIL, quota={"per_minute": 1}) as srv:
        src = source("iso", srv.base_url)
        req = RequestSpec("iso", "PJM.LOAD", ("BC",), parse_ts("2024-01-02T05:00Z"), parse_ts("2024-01-03T05:00Z"), 24)
        fetch(pjm.DRIVER, src, "PJM.LOAD", req)
        with pytest.raises(ThrottledError) as e:
            fetch(pjm.DRIVER, src, "PJM.LOAD", req)
        assert e.value.retry_after is not None and 1 <= e.value.retry_after <= 60
        with pytest.raises(TerminalSourceError, match="ISO_API_KEY") as e2:
            fetch(pjm.DRIVER, src, "PJM.LOAD", req, key="nope-key-31")
        assert "nope-key-31" not in str(e2.value)
        srv.quota.reset()
        too_long = RequestSpec("iso", "PJM.LOAD", ("BC",), parse_ts("2022-01-01T05:00Z"),
                               parse_ts("2023-03-01T05:00Z"), 1)
        with pytest.raises(TerminalSourceError, match="366 days"):
            fetch(pjm.DRIVER, src, "PJM.LOAD", too_long)
        srv.quota.reset()
        srv.fail_next(1, 502)
        with pytest.raises(TransientSourceError, match="502"):
            fetch(pjm.DRIVER, src, "PJM.LOAD", req)


def test_noaa_planned_windows_take_one_page_each() -> None:
    series = {f"{s}.TMAX": window("2023-01-01", "2025-01-01") for s in STATIONS}
    with NoaaServer(api_key=KEY, until=TODAY, quota=None) as srv:
        records, plan, pages = fetch_plan(noaa.DRIVER, source("noaa", srv.base_url), "GHCND.TMAX", series)
    assert len(plan) == pages == srv.requests == 3  # 731 days x 3 stations / (333 days x 3)
    assert len(records) == 731 * 3
