"""EIA driver against the local EIA v2 server: hour-ending labels, facet products, paging, errors."""

from __future__ import annotations

import itertools

import httpx
import pytest

from aurumplan.errors import SuspendedError, TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.intervals import HOUR, parse_ts
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.eia import DRIVER, split_series
from tests.doubles.fakeapis import MISSING, EiaServer, Synth
from tests.sources.support import KEY, fetch, fetch_plan, source, window

BAS = ["BPAT", "CISO", "DUK", "ERCO", "FPL", "ISNE", "MISO"]
UNTIL = parse_ts("2025-01-01")


def _facets(call_params: tuple[tuple[str, str], ...], name: str) -> set[str]:
    return {v for k, v in call_params if k == f"facets[{name}][]"}


def test_one_year_hourly_for_seven_bas_is_thirteen_requests() -> None:
    src = source("eia", "http://unused")
    plan = DRIVER.plan_requests(src, src.datasets["ELEC.DEMAND"], {ba: window("2023-01-01", "2024-01-01")
                                                                   for ba in BAS})
    assert len(plan) == 13  # ceil(8760 x 7 / 5000)
    assert all(r.expected_rows <= 5000 for r in plan)
    assert sum(r.expected_rows for r in plan) == 8760 * 7


def test_fuel_series_are_grouped_into_exact_facet_products() -> None:
    src = source("eia", "http://unused")
    ds = src.datasets["ELEC.GEN"]
    series = ["CISO.NG", "CISO.SUN", "ERCO.NG", "ERCO.SUN", "PJM.NG", "MISO.COL"]
    plan = DRIVER.plan_requests(src, ds, {s: window("2024-01-01", "2024-01-02") for s in series})
    asked: set[str] = set()
    for req in plan:
        call = DRIVER.first_call(src, ds, req)
        product = {f"{r}.{f}" for r, f in itertools.product(_facets(call.params, "respondent"),
                                                             _facets(call.params, "fueltype"))}
        assert product == set(req.series)
        asked |= product
    assert asked == set(series) and len(plan) == 3
    assert split_series(ds, "PJM.NG") == {"respondent": "PJM", "fueltype": "NG"}


def test_window_asks_hour_ending_labels_and_stores_period_starts() -> None:
    with EiaServer(api_key=KEY, until=UNTIL, quota=None) as srv:
        src = source("eia", srv.base_url)
        req = RequestSpec("eia", "ELEC.DEMAND", ("PJM",), parse_ts("2024-03-10T00:00Z"),
                          parse_ts("2024-03-11T00:00Z"), 24)
        call = DRIVER.first_call(src, src.datasets["ELEC.DEMAND"], req)
        params = dict(call.params)
        assert (params["start"], params["end"]) == ("2024-03-10T01", "2024-03-11T00")
        assert "api_key" not in str(call.public())
        records, pages = fetch(DRIVER, src, "ELEC.DEMAND", req)
    assert pages == 1
    assert [r[1] for r in records] == [req.start + i * HOUR for i in range(24)]
    expected = Synth().value("eia", "electricity/rto/region-data", "PJM.D", req.start)
    assert records[0][0] == "PJM" and records[0][2] == expected and records[0][3] == "megawatthours"


def test_large_window_pages_by_offset_and_planned_windows_take_one_page_each() -> None:
    with EiaServer(api_key=KEY, until=UNTIL, quota=None) as srv:
        src = source("eia", srv.base_url)
        start = parse_ts("2024-01-01")
        big = RequestSpec("eia", "ELEC.DEMAND", tuple(BAS), start, start + 1000 * HOUR, 7000)
        records, pages = fetch(DRIVER, src, "ELEC.DEMAND", big)
        assert pages == 2 and len(records) == 7000
        assert len({(r[0], r[1]) for r in records}) == 7000
        srv.reset_counters()
        records, plan, pages = fetch_plan(DRIVER, src, "ELEC.DEMAND", {ba: window("2024-01-01", "2024-03-01")
                                                                       for ba in BAS})
    assert pages == len(plan) == srv.requests == 3  # 60 days x 24 x 7 = 10080 rows
    assert len(records) == 10080


def test_missing_values_keep_their_marker() -> None:
    synth = Synth()
    t = parse_ts("2024-01-01T05:00Z")
    synth.override("eia", "electricity/rto/region-data", "PJM.D", t, MISSING)
    synth.override("eia", "electricity/rto/region-data", "PJM.D", t + HOUR, None)
    with EiaServer(api_key=KEY, until=UNTIL, quota=None, data=synth, total_as_int=True) as srv:
        src = source("eia", srv.base_url)
        req = RequestSpec("eia", "ELEC.DEMAND", ("PJM",), parse_ts("2024-01-01"), parse_ts("2024-01-02"), 24)
        records, _ = fetch(DRIVER, src, "ELEC.DEMAND", req)
    by_ts = {r[1]: r for r in records}
    assert by_ts[t][2] is None and by_ts[t][4] == {"marker": "NA"}
    assert by_ts[t + HOUR][2] is None and by_ts[t + HOUR][4] == {"marker": "null"}
    assert by_ts[t + 2 * HOUR][2] is not None and by_ts[t + 2 * HOUR][4] is None


def test_monthly_retail_prices_are_period_starts() -> None:
    with EiaServer(api_key=KEY, until=UNTIL, quota=None) as srv:
        src = source("eia", srv.base_url)
        ds = src.datasets["ELEC.PRICE"]
        records, plan, _ = fetch_plan(DRIVER, src, "ELEC.PRICE", {s: window("2023-01-01", "2024-01-01")
                                                                  for s in ("TX.RES", "TX.COM", "CA.RES")})
        params = dict(DRIVER.first_call(src, ds, plan[0]).params)
    assert (params["start"], params["end"], params["data[0]"]) == ("2023-01", "2023-12", "price")
    assert len(records) == 36 and {r[0] for r in records} == {"TX.RES", "TX.COM", "CA.RES"}
    assert min(r[1] for r in records) == parse_ts("2023-01-01") and max(r[1] for r in records) == parse_ts("2023-12-01")


def _one(srv: EiaServer, key: str | None = KEY, dataset: str = "ELEC.DEMAND", **update: object) -> None:
    src = source("eia", srv.base_url, **update)
    req = RequestSpec("eia", dataset, ("PJM",), parse_ts("2024-01-01"), parse_ts("2024-01-02"), 24)
    fetch(DRIVER, src, dataset, req, key)


def test_error_bodies_map_to_error_classes_without_the_key() -> None:
    with EiaServer(api_key=KEY, until=UNTIL, quota=None) as srv:
        src = source("eia", srv.base_url)
        bad = src.datasets["ELEC.DEMAND"].model_copy(update={"selectors": {"bogus": ["X"]}})
        with pytest.raises(TerminalSourceError, match="Invalid facet 'bogus'") as e:
            _one(srv, datasets={"ELEC.DEMAND": bad})
        with pytest.raises(TerminalSourceError, match=r"EIA_API_KEY.*API_KEY_INVALID") as e:
            _one(srv, key="wrong-key-987")
        assert "wrong-key-987" not in str(e.value)
        with pytest.raises(TerminalSourceError, match=r"EIA_API_KEY.*API_KEY_MISSING"):
            _one(srv, key=None)
        srv.suspend(60)
        with pytest.raises(SuspendedError, match="EIA_API_KEY") as e:
            _one(srv)
        assert KEY not in str(e.value)
        srv.unsuspend()
        srv.fail_next(1, 503)
        with pytest.raises(TransientSourceError, match="503"):
            _one(srv)
        srv.malformed_next(1)
        with pytest.raises(TransientSourceError, match="malformed"):
            _one(srv)
        _one(srv)


def test_legacy_error_inside_http_200_is_still_an_error() -> None:
    with EiaServer(api_key=KEY, until=UNTIL, quota=None, legacy_error_status=200) as srv:
        src = source("eia", srv.base_url)
        bad = src.datasets["ELEC.DEMAND"].model_copy(update={"selectors": {"bogus": ["X"]}})
        with pytest.raises(TerminalSourceError, match="Invalid facet"):
            _one(srv, datasets={"ELEC.DEMAND": bad})


def test_throttle_is_throttled_error_with_retry_after() -> None:
    with EiaServer(api_key=KEY, until=UNTIL, quota={"per_minute": 1}, retry_after=True) as srv:
        _one(srv)
        with pytest.raises(ThrottledError) as e:
            _one(srv)
    assert e.value.retry_after is not None and 1 <= e.value.retry_after <= 60
    assert KEY not in str(e.value)


def test_incomplete_return_warning_is_reported() -> None:
    with EiaServer(api_key=KEY, until=UNTIL, quota=None) as srv, httpx.Client() as client:
        src = source("eia", srv.base_url)
        ds = src.datasets["ELEC.DEMAND"]
        req = RequestSpec("eia", "ELEC.DEMAND", tuple(BAS), parse_ts("2024-01-01"), parse_ts("2024-01-01") + 800 * HOUR,
                          5600)
        call = DRIVER.first_call(src, ds, req)
        page = DRIVER.parse(src, ds, req, call, client.send(call.build(client, KEY)))
    assert page.total == 5600 and len(page.records) == 5000 and page.next_call is not None
    assert page.warnings == ["incomplete return"]
    assert dict(page.next_call.params)["offset"] == "5000"
