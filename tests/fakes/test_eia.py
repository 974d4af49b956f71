"""EiaServer against real httpx calls: shapes from the recorded responses, paging, caps, errors, throttle."""

from __future__ import annotations

import json
import time

import httpx

from aurumplan.intervals import parse_ts
from tests.doubles.fakeapis import ABSENT, MISSING, EiaServer, Synth
from tests.paths import RECORDED as RECORDED_DIR

RECORDED = RECORDED_DIR / "eia" / "openbb_eia_rto_region_data_hourly.json"
UNTIL = parse_ts("2025-01-01")
REGION = "/electricity/rto/region-data/data/"


def q(**extra: str) -> list[tuple[str, str]]:
    base = {"api_key": "k", "frequency": "hourly", "data[0]": "value", "facets[type][]": "D",
            "start": "2024-01-01T00", "end": "2024-01-03T00", "sort[0][column]": "period",
            "sort[0][direction]": "asc"}
    base.update(extra)
    return [*base.items(), ("facets[respondent][]", "PJM"), ("facets[respondent][]", "MISO")]


def test_recorded_request_gets_the_recorded_shape() -> None:
    rec = json.loads(RECORDED.read_text())["interactions"][0]
    real = json.loads(rec["response"]["body"])
    path_query = rec["request"]["uri"].split("api.eia.gov/v2", 1)[1].replace("api_key=REDACTED", "api_key=mine")
    with EiaServer(until=UNTIL) as srv:
        got = httpx.get(srv.base_url + path_query).json()
    assert list(got) == list(real)
    assert list(got["response"]) == list(real["response"])
    assert list(got["response"]["data"][0]) == list(real["response"]["data"][0])
    assert got["response"]["data"][0]["respondent-name"] == "PowerSouth Energy Cooperative"
    assert isinstance(got["response"]["data"][0]["value"], str) and got["response"]["total"] == "1"
    assert got["request"] == {**real["request"], "params": {**real["request"]["params"], "api_key": "mine"}}


def test_offset_paging_inclusive_end_and_hour_ending_labels() -> None:
    synth = Synth(seed=3)
    with EiaServer(data=synth, until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        whole = c.get(REGION, params=q()).json()["response"]
        assert whole["total"] == "98"  # 49 labels (T00 of day 1 .. T00 of day 3, inclusive) x 2 BAs
        pages = [c.get(REGION, params=q(offset=str(o), length="30")).json()["response"] for o in range(0, 98, 30)]
    rows = [r for p in pages for r in p["data"]]
    assert rows == whole["data"]
    assert [r["period"] for r in rows[:3]] == ["2024-01-01T00", "2024-01-01T00", "2024-01-01T01"]
    assert rows[-1]["period"] == "2024-01-03T00"
    t01 = next(r for r in rows if r["period"] == "2024-01-01T01" and r["respondent"] == "PJM")
    expected = synth.value("eia", "electricity/rto/region-data", "PJM.D", "2024-01-01T00:00Z")
    assert t01["value"] == f"{expected:.0f}"


def test_length_is_capped_at_5000_with_incomplete_return_warning() -> None:
    with EiaServer(until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        params = q(start="2023-01-01T00", end="2023-12-31T23", length="9000")
        r = c.get(REGION, params=params).json()["response"]
        last = c.get(REGION, params=q(start="2023-01-01T00", end="2023-12-31T23", offset="15000")).json()
    assert len(r["data"]) == 5000 and r["total"] == str(8760 * 2)
    assert r["warnings"][0]["warning"] == "incomplete return"
    assert "warnings" not in last["response"] and len(last["response"]["data"]) == 8760 * 2 - 15000


def test_total_as_int_and_desc_sort_and_x_params_header() -> None:
    with EiaServer(total_as_int=True, until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        desc = c.get(REGION, params=q(**{"sort[0][direction]": "desc"})).json()["response"]
        header = {"frequency": "hourly", "data": ["value"], "facets": {"respondent": ["PJM", "MISO"], "type": ["D"]},
                  "start": "2024-01-01T00", "end": "2024-01-03T00", "offset": 0, "length": 5000,
                  "sort": [{"column": "period", "direction": "asc"}]}
        asc = c.get(REGION, headers={"X-Params": json.dumps(header), "X-Api-Key": "k"}).json()["response"]
    assert desc["total"] == 98 and desc["data"][0]["period"] == "2024-01-03T00"
    assert sorted(asc["data"], key=lambda r: (r["period"], r["respondent"])) == \
        sorted(desc["data"], key=lambda r: (r["period"], r["respondent"]))


def test_monthly_bounds_compare_like_eia() -> None:
    with EiaServer(until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        def periods(start: str, end: str) -> list[str]:
            r = c.get("/electricity/retail-sales/data/", params={
                "api_key": "k", "frequency": "monthly", "data[]": "price", "facets[stateid][]": "TX",
                "facets[sectorid][]": "RES", "start": start, "end": end})
            return [row["period"] for row in r.json()["response"]["data"]]
        assert periods("2008-01-31", "2008-03-01") == ["2008-02", "2008-03"]
        assert len(periods("2024", "2024")) == 12
        row = c.get("/electricity/retail-sales/data/", params={"api_key": "k", "data[]": "price",
                                                                "facets[stateid][]": "TX", "facets[sectorid][]": "RES",
                                                                "start": "2024-01", "end": "2024-01"}).json()
    assert list(row["response"]["data"][0]) == ["period", "stateid", "stateDescription", "sectorid", "sectorName",
                                                "price", "price-units"]


def test_400_bodies_and_unknown_facet_value() -> None:
    with EiaServer(until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        freq = c.get(REGION, params=q(frequency="yearly"))
        facet = c.get(REGION, params=[*q(), ("facets[None][]", "x")])
        col = c.get(REGION, params=q(**{"data[0]": "price"}))
        none = c.get(REGION, params=[(k, v) for k, v in q() if k != "facets[respondent][]"]
                     + [("facets[respondent][]", "NOPE")])
    assert freq.status_code == 400
    assert freq.json() == {"error": "Invalid frequency 'yearly' provided. The only valid frequencies are "
                                    "'hourly'.", "code": 400}
    assert facet.json() == {"error": "Invalid facet 'None' provided. The only valid facets are 'respondent' and "
                                     "'type'.", "code": 400}
    assert col.status_code == 400 and "price" in col.json()["error"]
    assert none.status_code == 200 and none.json()["response"]["total"] == "0"


def test_keys_suspension_and_throttle() -> None:
    now = [0.0]
    with EiaServer(api_key="good", quota={"per_second": 2}, retry_after=True, clock=lambda: now[0],
                   until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        missing = c.get(REGION, params=[(k, v) for k, v in q() if k != "api_key"])
        wrong = c.get(REGION, params=q(api_key="bad"))
        ok = [c.get(REGION, params=q(api_key="good")).status_code for _ in range(2)]
        over = c.get(REGION, params=q(api_key="good"))
        now[0] = 1.01
        again = c.get(REGION, params=q(api_key="good"))
        srv.suspend()
        suspended = c.get(REGION, params=q(api_key="good"))
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "API_KEY_MISSING"
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "API_KEY_INVALID"
    assert ok == [200, 200]
    assert over.status_code == 429 and over.json()["error"]["code"] == "OVER_RATE_LIMIT"
    assert over.headers["Retry-After"] == "1"
    assert again.status_code == 200
    assert suspended.status_code == 403 and suspended.json()["error"]["code"] == "API_KEY_DISABLED"
    assert srv.throttled == 1 and srv.requests == 7
    assert all("api_key" not in e.params for e in srv.log)


def test_missing_markers_and_absent_periods() -> None:
    synth = Synth()
    ds = "electricity/rto/region-data"
    synth.override("eia", ds, "PJM.D", "2024-01-01T00:00Z", MISSING)
    synth.override("eia", ds, "PJM.D", "2024-01-01T01:00Z", None)
    synth.override("eia", ds, "MISO.D", "2024-01-01T02:00Z", ABSENT)
    synth.override("eia", ds, "MISO.D", "2024-01-01T03:00Z", 12345.0)
    with EiaServer(data=synth, until=UNTIL) as srv:
        r = httpx.get(srv.base_url + REGION, params=q()).json()["response"]
    by = {(row["period"], row["respondent"]): row["value"] for row in r["data"]}
    assert by[("2024-01-01T01", "PJM")] == "NA" and by[("2024-01-01T02", "PJM")] is None
    assert ("2024-01-01T03", "MISO") not in by and r["total"] == "97"
    assert by[("2024-01-01T04", "MISO")] == "12345"


def test_a_5000_row_page_is_fast() -> None:
    with EiaServer(until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        params = q(start="2015-08-01T00", end="2024-12-31T23")
        c.get(REGION, params=params)
        t0 = time.perf_counter()
        for page in range(5):
            assert len(c.get(REGION, params=[*params, ("offset", str(page * 5000))]).content) > 500_000
        per_page = (time.perf_counter() - t0) / 5
    assert per_page < 0.15, per_page


def test_suspension_after_throttle_and_legacy_error_status() -> None:
    now = [0.0]
    with EiaServer(quota={"per_second": 1}, suspend_on_throttle=30, legacy_error_status=200,
                   clock=lambda: now[0], until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        codes = [c.get(REGION, params=q()).status_code for _ in range(2)]
        now[0] = 5.0
        suspended = c.get(REGION, params=q())
        now[0] = 31.0
        back = c.get(REGION, params=q())
        now[0] = 33.0
        legacy = c.get(REGION, params=q(frequency="yearly"))
    assert codes == [200, 429]
    assert suspended.status_code == 403 and suspended.json()["error"]["code"] == "API_KEY_DISABLED"
    assert back.status_code == 200
    assert legacy.status_code == 200 and legacy.json()["code"] == 400


def test_unstable_order_only_without_sort() -> None:
    unsorted = [(k, v) for k, v in q() if not k.startswith("sort")]
    with EiaServer(unstable_order=True, until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        shuffled = [c.get(REGION, params=unsorted).json()["response"]["data"] for _ in range(2)]
        stable = [c.get(REGION, params=q()).json()["response"]["data"] for _ in range(2)]
    assert shuffled[0] != shuffled[1] and sorted(map(str, shuffled[0])) == sorted(map(str, shuffled[1]))
    assert stable[0] == stable[1]
    assert not srv.crashes
