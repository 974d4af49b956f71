"""The FRED driver's revision reader over real HTTP: vintage dates, real-time rows, the 2000-vintage cap.

And the fake ALFRED it runs against: the shapes of the recorded FRED responses, output types 1-4 and
the cap error, so the driver is tested against what FRED sends (docs/replay.md, "Incremental").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest

from aurumplan.config import Quota
from aurumplan.errors import TerminalSourceError
from aurumplan.intervals import parse_ts
from aurumplan.sources.discovery import DiscoveryClient
from aurumplan.sources.fred import FredDriver
from tests.doubles.fakeapis import FredServer
from tests.paths import RECORDED
from tests.sources.support import KEY, source

TODAY = dt.date(2025, 1, 15)
DAILY = {"2019-03-05": {"2019-03-01": 2.5}, "2023-06-01": {"2016-01-04": 2.0}}
SPAN = {"DGS10": (parse_ts("2015-01-01"), parse_ts("2025-01-01"))}
OBS = "/fred/series/observations"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRED_API_KEY", KEY)


@pytest.fixture()
def fred() -> Iterator[FredServer]:
    with FredServer(api_key=KEY, until=TODAY, quota=None, revisions={"DGS10": DAILY}) as srv:
        yield srv


def revised(srv: FredServer, driver: FredDriver, since: str = "2015-01-01") -> dict[int, tuple[str, ...]]:
    src = source("fred", srv.base_url, quota=Quota())
    out = driver.revised_since(src, src.datasets["DGS10"], SPAN, dt.date.fromisoformat(since), None)
    return dict(out["DGS10"].periods)


def in_window(srv: FredServer, start: str, end: str) -> int:
    """Vintage dates of DGS10 inside a real-time period, as the fake counts them for its cap."""
    return len(srv._vintage_dates("DGS10", dt.date.fromisoformat(start), dt.date.fromisoformat(end)))


def test_ten_years_of_daily_vintages_are_asked_in_chunks_under_the_cap(fred: FredServer) -> None:
    periods = revised(fred, FredDriver())
    asked = [e for e in fred.log if e.path == OBS]
    assert all(e.status == 200 for e in fred.log)
    assert len(asked) == 2  # ~2,600 vintage dates since 2015: two real-time periods
    assert all(in_window(fred, e.params["realtime_start"], e.params["realtime_end"]) <= 2000 for e in asked)
    # A revision in the second chunk of a period first published in the first one: both dates, nothing else.
    assert periods[parse_ts("2016-01-04")] == ("2016-01-05", "2023-06-01")
    assert periods[parse_ts("2019-03-01")] == ("2019-03-02", "2019-03-05")
    assert periods[parse_ts("2022-08-30")] == ("2022-08-31",)  # around the chunk boundary: its release only
    assert min(periods) == parse_ts("2015-01-01") and max(periods) == parse_ts("2024-12-31")


def test_one_request_without_the_cap_finds_the_same_periods() -> None:
    with FredServer(api_key=KEY, until=TODAY, quota=None, revisions={"DGS10": DAILY}, max_vintages=10**6) as srv:
        whole = revised(srv, FredDriver(max_vintages=10**6))
        assert len([e for e in srv.log if e.path == OBS]) == 1
    with FredServer(api_key=KEY, until=TODAY, quota=None, revisions={"DGS10": DAILY}) as srv:
        assert revised(srv, FredDriver()) == whole


def test_a_real_time_period_fred_refuses_is_halved_until_it_is_served(fred: FredServer) -> None:
    chunked = revised(fred, FredDriver())
    fred.reset_counters()
    assert revised(fred, FredDriver(max_vintages=10**6)) == chunked
    statuses = [e.status for e in fred.log if e.path == OBS]
    assert statuses == [400, 200, 200]


def test_only_values_published_since_since_are_chosen(fred: FredServer) -> None:
    periods = revised(fred, FredDriver(), since="2023-06-01")
    late = {p: d for p, d in periods.items() if p < parse_ts("2023-05-31")}
    assert late == {parse_ts("2016-01-04"): ("2023-06-01",)}  # the revision; 2019-03-01's is older


def test_throttles_are_retried_and_a_rejected_key_fails_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with FredServer(api_key=KEY, until=TODAY, quota={"per_second": 1}, revisions={"DGS10": DAILY}) as srv:
        periods = revised(srv, FredDriver(), since="2023-06-01")
        assert srv.throttled >= 1 and parse_ts("2016-01-04") in periods
    monkeypatch.setenv("FRED_API_KEY", "wrong-key-9876")
    with FredServer(api_key=KEY, until=TODAY, quota=None) as srv:
        src = source("fred", srv.base_url, quota=Quota())
        with DiscoveryClient(src, None, sleep=lambda _: None) as client, \
                pytest.raises(TerminalSourceError) as err:
            FredDriver().revised_since(src, src.datasets["DGS10"], SPAN, dt.date(2023, 6, 1), None, client)
    assert "rejected the key in environment variable FRED_API_KEY" in str(err.value)
    assert "wrong-key-9876" not in str(err.value)


def _recorded(name: str) -> dict[str, object]:
    doc = json.loads((RECORDED / "fred" / name).read_text())
    return json.loads(doc["interactions"][0]["response"]["body"])  # type: ignore[no-any-return]


def test_fake_vintagedates_and_initial_release_have_the_recorded_shapes() -> None:
    real_dates = _recorded("pyfredapi_test_get_series_vintagedates.json")
    real_first = _recorded("pyfredapi_test_get_series_initial_release_pandas_.json")
    with FredServer(until=TODAY, revisions={"GDP": {"2024-11-27": {"2024-07-01": 29350.1}}}) as srv, \
            httpx.Client(base_url=srv.base_url) as c:
        dates = c.get("/series/vintagedates", params={"series_id": "GDP", "api_key": "k", "file_type": "json"}).json()
        paged = c.get("/series/vintagedates", params={"series_id": "GDP", "api_key": "k", "file_type": "json",
                                                       "limit": 2, "offset": 1}).json()
        first = c.get("/series/observations", params={"series_id": "GDP", "api_key": "k", "file_type": "json",
                                                      "output_type": 4, "realtime_start": "1776-07-04"}).json()
        rows = c.get("/series/observations", params={"series_id": "GDP", "api_key": "k", "file_type": "json",
                                                     "realtime_start": "2024-10-01", "realtime_end": "9999-12-31",
                                                     "observation_start": "2024-04-01"}).json()
        wide = c.get("/series/observations", params={"series_id": "GDP", "api_key": "k", "file_type": "json",
                                                     "output_type": 3, "vintage_dates": "2024-10-01,2024-11-27",
                                                     "observation_start": "2024-04-01"}).json()
    assert list(dates) == list(real_dates) and dates["vintage_dates"][:2] == ["1947-04-01", "1947-07-01"]
    assert "2024-11-27" in dates["vintage_dates"] and paged["vintage_dates"] == dates["vintage_dates"][1:3]
    assert list(first) == list(real_first) and list(first["observations"][0]) == list(real_first["observations"][0])
    q3 = [r for r in rows["observations"] if r["date"] == "2024-07-01"]
    assert [(r["realtime_start"], r["realtime_end"]) for r in q3] == [("2024-10-01", "2024-11-26"),
                                                                        ("2024-11-27", "9999-12-31")]
    assert q3[1]["value"] == "29350.100"
    assert wide["observations"] == [
        {"date": "2024-07-01", "GDP_20241001": wide["observations"][0]["GDP_20241001"], "GDP_20241127": "29350.100"}]
    assert wide["observations"][0]["GDP_20241001"] != "."


def test_fake_refuses_more_than_2000_vintage_dates_with_freds_message() -> None:
    verbatim = json.loads((RECORDED / "fred" / "errors_verbatim.json").read_text())[2]["body_message"]
    with FredServer(until=TODAY) as srv:
        r = httpx.get(srv.base_url + "/series/observations",
                      params={"series_id": "DGS10", "api_key": "k", "file_type": "json",
                              "realtime_start": "1776-07-04", "realtime_end": "9999-12-31"})
    assert r.status_code == 400
    message = r.json()["error_message"]
    n = int(message.split()[2])
    assert n > 2000
    assert message == verbatim.replace("5090", str(n))
