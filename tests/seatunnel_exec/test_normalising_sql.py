"""The generated EIA normalising SQL gives what the EIA driver gives, on a real response.

The query runs on the fakes' Zeta SQL emulation (tests/doubles/seatunnel/zetasql.py: SQLite
with PARSEDATETIME, DATEADD and CONCAT as Python functions). This pins the query's logic: label ->
period start, series ids, window and target filters, missing values and their marker, units.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from aurumplan.catalog import load_catalog
from aurumplan.config import SeaTunnelConfig
from aurumplan.executors.base import ExtractJob, RetryPolicy
from aurumplan.executors.seatunnel.executor import build_job_spec
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.registry import get_driver
from aurumplan.warehouse.rows import attrs_text
from tests.doubles.fakeapis import EiaServer
from tests.doubles.seatunnel.httpsource import json_path
from tests.doubles.seatunnel.zetasql import TS, run_query
from tests.seatunnel_exec.conftest import EIA_KEY, END, SERIES, START

BRIDGED = ((START, START + 10 * 3600), (START + 20 * 3600, END))


@pytest.mark.parametrize("targets", [(), BRIDGED], ids=["window", "targets"])
def test_eia_sql_matches_the_driver(eia: EiaServer, targets: tuple[tuple[int, int], ...]) -> None:
    src = load_catalog().source("eia").model_copy(update={"base_url": eia.base_url})
    ds, driver = src.datasets["ELEC.DEMAND"], get_driver("eia")
    request = RequestSpec("eia", ds.name, SERIES, START, END, 96, targets)
    job = ExtractJob("OP", "n1", "OP:n1", src, ds, request, driver, EIA_KEY, 1000, RetryPolicy())
    spec = build_job_spec(job, SeaTunnelConfig(), "sqlite:////tmp/wh.db")
    [req] = spec["requests"]
    call = driver.first_call(src, ds, request)
    with httpx.Client() as client:
        response = client.send(call.build(client, EIA_KEY))
    keep = targets or ((START, END),)
    expected = {(sid, period, value, unit, attrs_text(attrs))
                for sid, period, value, unit, attrs in driver.parse(src, ds, request, call, response).records
                if sid in SERIES and any(s <= period < e for s, e in keep)}
    assert len(expected) == (76 if targets else 96) and any(v is None for _, _, v, _, _ in expected)

    rows = json_path(response.json(), req["content_field"])
    got = {(r["series_id"], int(dt.datetime.strptime(r["period"], TS).replace(tzinfo=dt.UTC).timestamp()),
            r["value"], r["unit"], r["attributes"])
           for r in run_query(spec["sql"], "raw", req["fields"], rows)}
    assert got == expected
