"""ExtractJob -> SeaTunnel job spec: pages as Http sources, key as an env reference, the normalising SQL."""

from __future__ import annotations

from typing import Any

import pytest

from aurumplan.catalog import load_catalog
from aurumplan.config import SeaTunnelConfig
from aurumplan.errors import ExecutorError
from aurumplan.executors.base import ExtractJob, RetryPolicy
from aurumplan.executors.seatunnel.executor import build_job_spec, jdbc_url_of, job_id_for
from aurumplan.executors.seatunnel.reader import read_config
from aurumplan.executors.seatunnel.render import render_job
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.registry import get_driver
from tests.seatunnel_exec.conftest import END, SERIES, START

WAREHOUSE = "sqlite:////var/lib/aurumplan/warehouse.db"


def eia_job(expected_rows: int = 96, **kw: Any) -> ExtractJob:
    src = load_catalog().source("eia")
    ds = src.datasets["ELEC.DEMAND"]
    return ExtractJob("BACKFILL_20241231_EIA_3f9a1c", "n0007", "BACKFILL_20241231_EIA_3f9a1c.n0007", src, ds,
                      RequestSpec("eia", ds.name, SERIES, START, END, expected_rows), get_driver("eia"),
                      "eia-SECRET-77", 1000, RetryPolicy(), **kw)


def test_one_page_request_is_one_http_source_with_the_key_as_env_reference() -> None:
    spec = build_job_spec(eia_job(), SeaTunnelConfig(), WAREHOUSE)
    [req] = spec["requests"]
    assert req["secret"] == {"in": "params", "name": "api_key", "env": "EIA_API_KEY"}
    assert "api_key" not in req["params"]
    assert req["params"]["facets[respondent][]"] == list(SERIES)
    assert req["content_field"] == "$.response.data.*"
    assert set(req["fields"]) == {"period", "respondent", "type", "value", "value-units"}
    assert spec["sink"] == {"url": "jdbc:sqlite:/var/lib/aurumplan/warehouse.db", "driver": "org.sqlite.JDBC",
                            "database": "main", "table": "observations",
                            "primary_keys": ["source", "dataset", "series_id", "period", "load_id"]}
    rendered = render_job(spec)
    assert "eia-SECRET-77" not in rendered.hocon + rendered.json
    assert rendered.env_refs == ("EIA_API_KEY",)


def test_hour_ending_labels_become_period_starts_in_sql() -> None:
    sql = build_job_spec(eia_job(), SeaTunnelConfig(), WAREHOUSE)["sql"]
    # a pattern without `mm` would make Zeta's PARSEDATETIME return a date: the label is completed to a minute
    assert "DATEADD(PARSEDATETIME(CONCAT(`period`, ':00'), 'yyyy-MM-dd''T''HH:mm'), -1, 'HOUR') AS period" in sql
    assert "`respondent` IN ('MISO', 'PJM')" in sql
    assert "(`period` > '2024-03-09T00' AND `period` <= '2024-03-11T00')" in sql  # labels of [START, END)
    assert "CONCAT('{\"marker\":\"', COALESCE(`value`, 'null'), '\"}')" in sql  # the driver's missing marker


def test_a_request_needing_three_pages_becomes_three_sources_by_offset() -> None:
    spec = build_job_spec(eia_job(expected_rows=12000), SeaTunnelConfig(), WAREHOUSE)
    assert [r["params"]["offset"] for r in spec["requests"]] == ["0", "5000", "10000"]
    parsed = read_config(render_job(spec).hocon)
    assert [p["plugin_name"] for p in parsed["source"]] == ["Http"] * 3
    assert [p["plugin_input"] for p in parsed["transform"]] == ["raw_0", "raw_1", "raw_2"]
    assert parsed["sink"][0]["plugin_input"] == ["norm_0", "norm_1", "norm_2"]
    assert all("AS load_id" in p["query"] for p in parsed["transform"])


def test_postgres_warehouse_url_maps_to_jdbc_without_password() -> None:
    url = jdbc_url_of("postgresql+psycopg://etl:pw-0001@db.internal:5433/wh?options=-csearch_path%3Dwarehouse")
    assert url == "jdbc:postgresql://db.internal:5433/wh?currentSchema=warehouse&user=etl"
    spec = build_job_spec(eia_job(), SeaTunnelConfig(jdbc_url=url), WAREHOUSE)
    assert spec["sink"]["table"] == "warehouse.observations" and spec["sink"]["driver"] == "org.postgresql.Driver"


def test_replay_transform_and_memory_warehouse_are_refused() -> None:
    with pytest.raises(ExecutorError, match="cannot run inside SeaTunnel"):
        build_job_spec(eia_job(transform=lambda r: r), SeaTunnelConfig(), WAREHOUSE)
    with pytest.raises(ExecutorError, match="in-memory"):
        build_job_spec(eia_job(), SeaTunnelConfig(), "sqlite://")


def test_job_ids_are_deterministic_longs_beyond_float_precision() -> None:
    first = job_id_for("L1")
    assert first == job_id_for("L1") and int(first) > 2**53 and int(first) < 2**63
    assert job_id_for("L1", first) not in (first, job_id_for("L2"))
