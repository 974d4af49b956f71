"""Cassettes: the recorded fixtures replay through httpx, unmatched requests fail clearly, recording redacts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from aurumplan.errors import TerminalSourceError
from aurumplan.intervals import parse_ts
from aurumplan.sources.cassette import (
    CassetteMissError,
    CassetteTransport,
    RecordingTransport,
    load_cassettes,
    match,
)
from tests.doubles.fakeapis import BlsServer, EiaServer
from tests.paths import RECORDED

REC = RECORDED
EIA_PARAMS = {"frequency": "hourly", "data[0]": "value", "facets[respondent][]": "AEC", "facets[type][]": "D",
              "start": "2019-01-02T00", "end": "2019-01-02T00", "sort[0][column]": "period",
              "sort[0][direction]": "asc", "offset": "0", "length": "5000"}


def test_recorded_fixtures_load_and_match_any_key_and_host() -> None:
    interactions = load_cassettes(REC)
    assert len(interactions) >= 10
    req = httpx.Request("GET", "http://127.0.0.1:9/v2/electricity/rto/region-data/data/",
                        params={**EIA_PARAMS, "api_key": "my-own-key"})
    found = match(interactions, req)
    assert found is not None and found.status == 200
    assert json.loads(found.response_body)["response"]["data"][0]["value"] == "486"
    noaa = httpx.Request("GET", "https://www.ncei.noaa.gov/cdo-web/api/v2/data", headers={"token": "t"}, params={
        "datasetid": "GHCND", "startdate": "2013-09-03", "enddate": "2013-09-30", "limit": "30",
        "includemetadata": "TRUE", "stationid": "GHCND:USC00200230", "datatypeid": "PRCP"})
    assert match(interactions, noaa) is not None
    assert match(interactions, httpx.Request("GET", "https://api.eia.gov/v2/other/data/")) is None


def test_cassette_transport_serves_and_names_an_unmatched_request_without_key() -> None:
    with httpx.Client(transport=CassetteTransport(REC / "eia"), base_url="https://api.eia.gov/v2") as c:
        r = c.get("/electricity/rto/region-data/data/", params={**EIA_PARAMS, "api_key": "k"})
        assert r.status_code == 200 and r.json()["response"]["total"] == "1"
        with pytest.raises(CassetteMissError) as err:
            c.get("/electricity/rto/region-data/data/", params={**EIA_PARAMS, "start": "2020-01-01T00",
                                                                 "api_key": "top-secret"})
    assert isinstance(err.value, TerminalSourceError)
    assert "/v2/electricity/rto/region-data/data" in str(err.value) and "start=2020-01-01T00" in str(err.value)
    assert "top-secret" not in str(err.value)


def test_cassette_transport_falls_back() -> None:
    with EiaServer(until=parse_ts("2025-01-01")) as srv, httpx.Client(
            transport=CassetteTransport(REC / "eia", fallback=httpx.HTTPTransport()), base_url=srv.base_url) as c:
        r = c.get("/electricity/rto/region-data/data/", params={**EIA_PARAMS, "facets[respondent][]": "PJM",
                                                                 "api_key": "k"})
    assert r.status_code == 200 and srv.requests == 1


def test_recording_redacts_every_key_and_replays(tmp_path: Path) -> None:
    with EiaServer(api_key="sekrit-eia", until=parse_ts("2025-01-01")) as eia, BlsServer(api_key="sekrit-bls") as bls:
        rec = RecordingTransport(httpx.HTTPTransport(), tmp_path)
        with httpx.Client(transport=rec) as c:
            live = c.get(eia.base_url + "/electricity/rto/region-data/data/",
                         params={**EIA_PARAMS, "api_key": "sekrit-eia"})
            bad = c.post(bls.base_url + "/timeseries/data/",
                         json={"seriesid": ["CUUR0000SA0"], "registrationkey": "wrong-bls-key"})
    text = "".join(p.read_text() for p in tmp_path.glob("*.json"))
    assert "sekrit" not in text and "wrong-bls-key" not in text and "REDACTED" in text
    assert live.json()["request"]["params"]["api_key"] == "sekrit-eia"
    with httpx.Client(transport=CassetteTransport(tmp_path)) as c:  # the servers are stopped: replay only
        again = c.get(eia.base_url + "/electricity/rto/region-data/data/", params={**EIA_PARAMS, "api_key": "other"})
        bls_again = c.post(bls.base_url + "/timeseries/data/",
                           json={"seriesid": ["CUUR0000SA0"], "registrationkey": "any"})
    assert again.json()["response"] == live.json()["response"]
    assert again.json()["request"]["params"]["api_key"] == "REDACTED"
    assert bls_again.json()["status"] == bad.json()["status"] == "REQUEST_NOT_PROCESSED"
