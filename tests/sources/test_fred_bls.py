"""FRED and BLS drivers against the local servers: paging, period starts, markers, quotas, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from aurumplan.errors import SuspendedError, TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.intervals import parse_ts
from aurumplan.sources import bls, fred
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.periods import bls_period_start
from tests.doubles.fakeapis import MISSING, BlsServer, FredServer, Synth
from tests.sources.support import KEY, fetch, fetch_plan, source, window

TODAY = dt.date(2025, 6, 15)


def test_fred_pages_by_offset_and_keeps_dot_as_missing() -> None:
    driver = fred.FredDriver(page_rows=50)
    with FredServer(api_key=KEY, until=TODAY, quota=None) as srv:
        src = source("fred", srv.base_url)
        records, plan, pages = fetch_plan(driver, src, "DGS10", {"DGS10": window("2024-01-01", "2025-01-01")})
    assert len(plan) == 1 and pages == 6  # 262 business days / 50
    assert len(records) == 262 and len({r[1] for r in records}) == 262
    new_year = [r for r in records if r[1] == parse_ts("2024-01-01")]
    assert new_year[0][2] is None and new_year[0][4] == {"marker": "."}
    assert all(r[2] is not None for r in records if r[4] is None)


def test_fred_dates_are_period_starts_and_end_is_inclusive() -> None:
    with FredServer(api_key=KEY, until=TODAY, quota=None) as srv:
        src = source("fred", srv.base_url)
        targets = {"CPIAUCSL": window("2020-01-01", "2021-01-01"), "UNRATE": window("2020-06-01", "2020-09-01")}
        records, plan, _ = fetch_plan(fred.DRIVER, src, "CPIAUCSL", targets)
        params = dict(fred.DRIVER.first_call(src, src.datasets["CPIAUCSL"], plan[0]).params)
    assert len(plan) == 2  # one series per request
    assert params["observation_start"] == "2020-01-01" and params["observation_end"] == "2020-12-01"
    cpi = sorted(r[1] for r in records if r[0] == "CPIAUCSL")
    assert cpi == [parse_ts(f"2020-{m:02d}-01") for m in range(1, 13)]
    assert sorted(r[1] for r in records if r[0] == "UNRATE") == [parse_ts(f"2020-{m:02d}-01") for m in (6, 7, 8)]


def _fred_once(srv: FredServer, driver: fred.FredDriver, key: str | None = KEY) -> None:
    src = source("fred", srv.base_url)
    req = RequestSpec("fred", "CPIAUCSL", ("CPIAUCSL",), parse_ts("2020-01-01"), parse_ts("2020-03-01"), 2)
    fetch(driver, src, "CPIAUCSL", req, key)


def test_fred_not_registered_is_a_throttle_until_it_repeats() -> None:
    driver = fred.FredDriver()
    with FredServer(api_key=KEY, until=TODAY, quota=None) as srv:
        for _ in range(fred.NOT_REGISTERED_LIMIT - 1):
            with pytest.raises(ThrottledError, match="not registered"):
                _fred_once(srv, driver, "unregistered-key-555")
        _fred_once(srv, driver)  # a success in between: the flake streak is over
        for _ in range(fred.NOT_REGISTERED_LIMIT - 1):
            with pytest.raises(ThrottledError):
                _fred_once(srv, driver, "unregistered-key-555")
        with pytest.raises(TerminalSourceError, match="FRED_API_KEY") as e:
            _fred_once(srv, driver, "unregistered-key-555")
        assert "unregistered-key-555" not in str(e.value)
        with pytest.raises(TerminalSourceError, match="FRED_API_KEY"):
            _fred_once(srv, driver, None)


def test_fred_429_and_5xx() -> None:
    with FredServer(api_key=KEY, until=TODAY, quota={"per_minute": 1}) as srv:
        _fred_once(srv, fred.DRIVER)
        with pytest.raises(ThrottledError):
            _fred_once(srv, fred.DRIVER)
        srv.quota.reset()
        srv.fail_next(1, 500)
        with pytest.raises(TransientSourceError):
            _fred_once(srv, fred.DRIVER)


def test_bls_plan_is_fifty_series_by_twenty_years() -> None:
    src = source("cpi", "http://unused")
    targets = {f"CUUR{i:07d}": window("1995-01-01", "2025-01-01") for i in range(120)}
    plan = bls.DRIVER.plan_requests(src, src.datasets["CPIU"], targets)
    assert len(plan) == 6  # 3 series chunks x 2 year chunks
    assert max(len(r.series) for r in plan) == 50
    calls = [bls.DRIVER.first_call(src, src.datasets["CPIU"], r) for r in plan]
    spans = {(c.json_body["startyear"], c.json_body["endyear"]) for c in calls if c.json_body}
    assert spans == {("1995", "2014"), ("2015", "2024")}


def test_bls_months_newest_first_filtered_to_the_window_with_markers() -> None:
    synth = Synth()
    synth.override("bls", "timeseries/data", "CUUR0000SA0", "2023-10-01", MISSING)
    ids = ("CUUR0000SA0", "CUSR0000SA0", "CUUR0000SAF1")
    with BlsServer(api_key=KEY, until=TODAY, quota=None, data=synth) as srv:
        src = source("cpi", srv.base_url)
        records, plan, pages = fetch_plan(bls.DRIVER, src, "CPIU", {s: window("2022-03-01", "2024-06-01")
                                                                    for s in ids})
        logged = srv.log[0].params
    assert len(plan) == pages == srv.requests == 1
    assert "registrationkey" not in logged and logged["startyear"] == "2022" and logged["endyear"] == "2024"
    assert len(records) == 3 * 27
    months = sorted({r[1] for r in records})
    assert months[0] == parse_ts("2022-03-01") and months[-1] == parse_ts("2024-05-01")
    gap = next(r for r in records if r[0] == "CUUR0000SA0" and r[1] == parse_ts("2023-10-01"))
    assert gap[2] is None and gap[4] == {"marker": "-", "footnotes": ["X"]}


def test_bls_period_codes() -> None:
    assert bls_period_start("2024", "M01") == parse_ts("2024-01-01")
    assert bls_period_start("2024", "M12") == parse_ts("2024-12-01")
    assert bls_period_start("2024", "M13") is None and bls_period_start("2024", "Q01") is None


def _bls_once(srv: BlsServer, series: tuple[str, ...] = ("CUUR0000SA0",), key: str | None = KEY,
              start: str = "2020-01-01", end: str = "2021-01-01") -> None:
    src = source("cpi", srv.base_url)
    fetch(bls.DRIVER, src, "CPIU", RequestSpec("cpi", "CPIU", series, parse_ts(start), parse_ts(end), 12), key)


def test_bls_errors_inside_http_200() -> None:
    with BlsServer(api_key=KEY, until=TODAY, quota={"per_day": 2}) as srv:
        with pytest.raises(TerminalSourceError, match="BLS_API_KEY") as e:
            _bls_once(srv, key="bad-bls-key-42")
        assert "bad-bls-key-42" not in str(e.value)
        with pytest.raises(TerminalSourceError, match="Series does not exist for Series XX9"):
            _bls_once(srv, ("CUUR0000SA0", "XX9"))
        with pytest.raises(TerminalSourceError, match="reduced"):
            _bls_once(srv, start="1990-01-01", end="2015-01-01")
        with pytest.raises(SuspendedError, match="BLS_API_KEY"):
            _bls_once(srv)
        srv.quota.reset()
        srv.fail_next(1, 500)
        with pytest.raises(TransientSourceError):
            _bls_once(srv)
