"""Drivers read the real recorded responses; keys come from the environment; drivers by name; EPT bounds."""

from __future__ import annotations

import json

import httpx
import pytest

from aurumplan.catalog import load_catalog
from aurumplan.errors import CatalogError, TerminalSourceError
from aurumplan.intervals import parse_ts
from aurumplan.sources import bls, eia, noaa
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.keys import api_key, require_key
from aurumplan.sources.periods import ept_year_cuts, pjm_filter
from aurumplan.sources.registry import get_driver
from tests.paths import RECORDED


def _recorded(path: str) -> httpx.Response:
    inter = json.loads((RECORDED / path).read_text())["interactions"][0]["response"]
    code = inter["status"].get("code") or int(inter["status"]["status_code"])
    return httpx.Response(int(code), content=inter["body"].encode())


def test_real_eia_fuel_type_row_is_hour_ending() -> None:
    src = load_catalog().source("eia")
    ds = src.datasets["ELEC.GEN"]
    req = RequestSpec("eia", "ELEC.GEN", ("AEC.COL",), parse_ts("2019-01-01T23:00Z"), parse_ts("2019-01-02T00:00Z"), 1)
    page = eia.DRIVER.parse(src, ds, req, eia.DRIVER.first_call(src, ds, req),
                            _recorded("eia/openbb_eia_rto_fuel_type_data_hourly.json"))
    assert page.total == 1 and page.next_call is None
    (rec,) = page.records
    assert rec[0] == "AEC.COL" and rec[1] == parse_ts("2019-01-01T23:00Z")  # label T00 ends at midnight
    assert rec[3] == "megawatthours" and isinstance(rec[2], float)


def test_real_bls_response_skips_nothing_it_should_keep() -> None:
    src = load_catalog().source("cpi")
    ds = src.datasets["AP"]
    req = RequestSpec("cpi", "AP", ("APU0000701111",), parse_ts("2022-01-01"), parse_ts("2023-01-01"), 12)
    page = bls.DRIVER.parse(src, ds, req, bls.DRIVER.first_call(src, ds, req),
                            _recorded("bls/openbb_bls_v2_APU0000701111_2022.json"))
    assert [r[1] for r in page.records] == [parse_ts(f"2022-{m:02d}-01") for m in range(1, 13)]
    assert all(r[2] is not None and r[3] == "U.S. dollars" for r in page.records)


def test_real_noaa_page_reads_values_flags_and_paging() -> None:
    src = load_catalog().source("noaa")
    ds = src.datasets["GHCND.TMAX"]
    body = json.loads(_recorded("noaa/rnoaa_ncdc.json").content)
    first = body["results"][0]
    sid = f"{first['station']}.{first['datatype']}"
    req = RequestSpec("noaa", "GHCND.TMAX", (sid,), parse_ts(first["date"][:10]), parse_ts("2010-05-11"), 10)
    call = noaa.DRIVER.first_call(src, ds, req)
    page = noaa.DRIVER.parse(src, ds, req, call, _recorded("noaa/rnoaa_ncdc.json"))
    assert page.records[0][:3] == (sid, parse_ts("2010-05-01"), float(first["value"]))
    assert page.records[0][4] == {"flags": first["attributes"]}
    assert page.next_call is not None and dict(page.next_call.params)["offset"] == str(1 + len(body["results"]))


def test_keys_come_from_the_named_variable_and_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    src = load_catalog().source("eia")
    monkeypatch.delenv("EIA_API_KEY", raising=False)
    assert api_key(src) is None
    with pytest.raises(TerminalSourceError, match=r"environment variable EIA_API_KEY is not set \(get a key at "
                                                  r"https://www.eia.gov/opendata/register.php\)"):
        require_key(src)
    monkeypatch.setenv("EIA_API_KEY", "abc-secret")
    assert require_key(src) == "abc-secret"
    call = eia.DRIVER.first_call(src, src.datasets["ELEC.DEMAND"],
                                 RequestSpec("eia", "ELEC.DEMAND", ("PJM",), 0, 3600, 1))
    with httpx.Client() as client:
        assert "api_key=abc-secret" in str(call.build(client, "abc-secret").url)
    assert "abc-secret" not in json.dumps(call.public())


def test_registry_finds_every_builtin_driver_and_suggests_on_typos() -> None:
    for src in load_catalog().sources.values():
        assert get_driver(src.driver).name == src.driver
    with pytest.raises(CatalogError, match="did you mean 'noaa'"):
        get_driver("nooa")


def test_pjm_ept_bounds_and_year_cuts() -> None:
    # a UTC day in winter is 19:00 EST the day before to 18:00 (last hour beginning)
    assert pjm_filter(parse_ts("2024-01-10"), parse_ts("2024-01-11")) == "01/09/2024 19:00to01/10/2024 18:00"
    # spring-forward EPT day: 23 hours, 00:00 .. 23:00 local
    assert pjm_filter(parse_ts("2024-03-10T05:00Z"), parse_ts("2024-03-11T04:00Z")) == \
        "03/10/2024 00:00to03/10/2024 23:00"
    cuts = ept_year_cuts(parse_ts("2023-12-31T00:00Z"), parse_ts("2025-06-01"))
    assert [c[0] for c in cuts[1:]] == [parse_ts("2024-01-01T05:00Z"), parse_ts("2025-01-01T05:00Z")]
