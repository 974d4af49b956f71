"""FredServer and BlsServer: recorded shapes, missing markers, paging, verbatim errors and throttle signals."""

from __future__ import annotations

import datetime as dt
import json

import httpx

from tests.doubles.fakeapis import MISSING, BlsServer, FredServer, Synth
from tests.paths import RECORDED

REC = RECORDED
OBS = "/series/observations"
TODAY = dt.date(2025, 6, 15)


def test_fred_json_shape_paging_and_missing_dot() -> None:
    real = json.loads(json.loads((REC / "fred/pyfredapi_test_get_series_pandas_.json").read_text())
                      ["interactions"][0]["response"]["body"])
    synth = Synth()
    synth.override("fred", "series/observations", "CPIAUCSL", "2024-03-01", MISSING)
    params = {"series_id": "CPIAUCSL", "api_key": "k", "file_type": "json",
              "observation_start": "2024-01-01", "observation_end": "2024-12-01"}
    with FredServer(data=synth, until=TODAY) as srv, httpx.Client(base_url=srv.base_url) as c:
        whole = c.get(OBS, params=params).json()
        pages = [c.get(OBS, params={**params, "limit": 5, "offset": o}).json() for o in (0, 5, 10)]
    assert list(whole) == list(real) and list(whole["observations"][0]) == list(real["observations"][0])
    assert [o["date"] for o in whole["observations"]] == [f"2024-{m:02d}-01" for m in range(1, 13)]
    assert whole["observations"][2]["value"] == "." and whole["count"] == 12
    assert [o for p in pages for o in p["observations"]] == whole["observations"]


def test_fred_defaults_to_xml_and_daily_business_days() -> None:
    with FredServer(until=TODAY) as srv, httpx.Client(base_url=srv.base_url) as c:
        xml = c.get(OBS, params={"series_id": "DGS10", "api_key": "k", "observation_start": "2024-06-07",
                                 "observation_end": "2024-06-10"})
        daily = c.get(OBS, params={"series_id": "DGS10", "api_key": "k", "file_type": "json",
                                   "observation_start": "2024-06-07", "observation_end": "2024-06-10"}).json()
    assert xml.headers["content-type"].startswith("text/xml") and b"<observation " in xml.content
    assert [o["date"] for o in daily["observations"]] == ["2024-06-07", "2024-06-10"]


def test_fred_key_errors_are_verbatim_and_429_when_throttled() -> None:
    errors = json.loads((REC / "fred/errors_verbatim.json").read_text())
    with FredServer(api_key="good", quota={"per_second": 1}, until=TODAY) as srv, \
            httpx.Client(base_url=srv.base_url) as c:
        unset = c.get(OBS, params={"series_id": "UNRATE"})
        wrong = c.get(OBS, params={"series_id": "UNRATE", "api_key": "bad", "file_type": "json"})
        ok = c.get(OBS, params={"series_id": "UNRATE", "api_key": "good", "file_type": "json"})
        over = c.get(OBS, params={"series_id": "UNRATE", "api_key": "good", "file_type": "json"})
    assert unset.status_code == 400 and unset.text.endswith(errors[0]["body"])
    assert wrong.status_code == 400 and wrong.json() == errors[1]["body"]
    assert ok.status_code == 200 and over.status_code == 429 and over.json()["error_code"] == 429


BLS = "/timeseries/data/"


def test_bls_newest_first_truncation_missing_month_and_latest() -> None:
    synth = Synth()
    synth.override("bls", "timeseries/data", "CUUR0000SETB01", "2025-04-01", MISSING)
    with BlsServer(data=synth, until=TODAY) as srv, httpx.Client(base_url=srv.base_url) as c:
        r = c.post(BLS, json={"seriesid": ["CUUR0000SA0", "CUSR0000SA0"], "startyear": "2000",
                              "endyear": "2025", "registrationkey": "k"})
        tiny = c.post(BLS, json={"seriesid": ["CUUR0000SETB01"], "startyear": 2025, "endyear": 2025,
                                 "registrationkey": "k"}).json()
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "REQUEST_SUCCEEDED"
    assert "Year range has been reduced to the system-allowed limit of 20 years." in doc["message"]
    rows = doc["Results"]["series"][0]["data"]
    assert (rows[0]["year"], rows[0]["period"], rows[-1]["year"], rows[-1]["period"]) == ("2019", "M12", "2000", "M01")
    assert len(rows) == 240
    assert [(x["period"], x["periodName"]) for x in tiny["Results"]["series"][0]["data"]][:2] == \
        [("M05", "May"), ("M04", "April")]
    first = tiny["Results"]["series"][0]["data"][0]
    assert first["latest"] == "true" and list(first) == ["year", "period", "periodName", "latest", "value", "footnotes"]
    april = tiny["Results"]["series"][0]["data"][1]
    assert april["value"] == "-" and april["footnotes"][0]["code"] == "X"


def test_bls_limits_bad_key_and_daily_threshold() -> None:
    verbatim = json.loads((REC / "bls/errors_verbatim.json").read_text())
    with BlsServer(api_key="good", quota={"per_day": 2}, until=TODAY) as srv, \
            httpx.Client(base_url=srv.base_url) as c:
        too_many = c.post(BLS, json={"seriesid": [f"CUUR0000SA{i:02d}" for i in range(51)],
                                     "registrationkey": "good"}).json()
        bad = c.post(BLS, json={"seriesid": ["CUUR0000SA0"], "registrationkey": "test-key"})
        ok = c.post(BLS, json={"seriesid": ["CUUR0000SA0"], "registrationkey": "good"}).json()
        quota = c.post(BLS, json={"seriesid": ["CUUR0000SA0"], "registrationkey": "good"})
    assert too_many["status"] == "REQUEST_NOT_PROCESSED"
    assert bad.status_code == 200 and bad.json() == verbatim[1]["body"]
    assert ok["status"] == "REQUEST_SUCCEEDED"
    assert quota.status_code == 200 and quota.json()["status"] == "REQUEST_NOT_PROCESSED"
    assert quota.json()["message"] == verbatim[0]["body"]["message"]
    assert srv.throttled == 1
    assert all("registrationkey" not in e.params for e in srv.log)


def test_fred_daily_holidays_show_dot() -> None:
    with FredServer(until=TODAY) as srv:
        doc = httpx.get(srv.base_url + OBS, params={"series_id": "DGS10", "api_key": "k", "file_type": "json",
                                                    "observation_start": "2024-12-24",
                                                    "observation_end": "2024-12-26"}).json()
    assert [(o["date"], o["value"] == ".") for o in doc["observations"]] == [
        ("2024-12-24", False), ("2024-12-25", True), ("2024-12-26", False)]
