"""Rendered SeaTunnel jobs: valid HOCON and JSON, identical plugin lists, conformant, no secret values."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pyhocon import ConfigFactory

from aurumplan.executors.seatunnel.conformance import check_config
from aurumplan.executors.seatunnel.jobspec import RenderError
from aurumplan.executors.seatunnel.reader import read_config
from aurumplan.executors.seatunnel.render import RenderedJob, fill_secret_refs, render_job

FAKE = {"EIA_API_KEY": "eia-FAKE-7d1e9c3b", "BLS_API_KEY": "bls-FAKE-55aa01",
        "AURUMPLAN_WAREHOUSE_JDBC_URL": "jdbc:postgresql://wh-FAKE.internal:5432/wh",
        "WAREHOUSE_USER": "postgres-FAKE-user", "WAREHOUSE_PASSWORD": "pw-FAKE-0001"}

SINK = {"url_env": "AURUMPLAN_WAREHOUSE_JDBC_URL", "database": "test", "driver": "org.postgresql.Driver",
        "user_env": "WAREHOUSE_USER", "password_env": "WAREHOUSE_PASSWORD", "table": "public.observations",
        "primary_keys": ["source", "dataset", "series_id", "period", "load_id"]}


def eia_request(start: str, end: str) -> dict[str, Any]:
    return {"url": "https://api.eia.gov/v2/electricity/rto/region-data/data/", "method": "GET",
            "params": {"frequency": "hourly", "data[0]": "value", "facets[respondent][]": ["PJM", "MISO"],
                       "start": start, "end": end, "offset": "0", "length": "5000"},
            "headers": {}, "body": None, "secret": {"in": "params", "name": "api_key", "env": "EIA_API_KEY"},
            "content_field": "$.response.data.*",
            "fields": {"period": "string", "respondent": "string", "value": "string", "value-units": "string"}}


def eia_spec(version: str = "2.3.12", windows: int = 2) -> dict[str, Any]:
    starts = ["2024-01-01T01", "2024-01-08T01", "2024-01-15T01", "2024-01-22T01"]
    return {"job_name": "BACKFILL_20241231_EIA_3f9a1c.n0007", "parallelism": 1, "retry_times": 2,
            "retry_interval_seconds": 10, "rows_per_second": 4,
            "requests": [eia_request(starts[i], starts[i + 1][:-2] + "00") for i in range(windows)],
            "sql": ("SELECT 'eia' AS source, 'ELEC.DEMAND' AS dataset, respondent AS series_id, period, "
                    "CAST(value AS DOUBLE) AS value, `value-units` AS unit, '{}' AS attributes FROM raw_0 "
                    "WHERE value IS NOT NULL"),
            "load_id": "L-20241231-0007", "operation_id": "BACKFILL_20241231_EIA_3f9a1c",
            "sink": dict(SINK), "version": version}


def bls_spec(version: str = "2.3.12") -> dict[str, Any]:
    return {"job_name": "BACKFILL_20241231_CPI_aa01.n0001", "load_id": "L-cpi-1",
            "requests": [{"url": "https://api.bls.gov/publicAPI/v2/timeseries/data/", "method": "POST",
                          "headers": {"Content-Type": "application/json"},
                          "body": {"seriesid": ["CUUR0000SA0"], "startyear": "2020", "endyear": "2024"},
                          "secret": {"in": "body", "name": "registrationkey", "env": "BLS_API_KEY"},
                          "content_field": "$.Results.series[0].data.*",
                          "fields": {"year": "string", "period": "string", "value": "string"}}],
            "sql": "SELECT 'cpi' AS source, 'CPI' AS dataset, 'CUUR0000SA0' AS series_id, "
                   "CONCAT(year, '-', period) AS period, value, 'index' AS unit, '{}' AS attributes FROM raw_0",
            "sink": {**{k: v for k, v in SINK.items() if k not in ("url_env", "database")},
                     "url": "jdbc:postgresql://127.0.0.1:5432/test"},
            "version": version}


@pytest.fixture(autouse=True)
def fake_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in FAKE.items():
        monkeypatch.setenv(k, v)


def assert_sound(job: RenderedJob) -> None:
    """Parses, both forms give the same plugin lists, conformant, and no secret value anywhere."""
    ConfigFactory.parse_string(job.hocon, resolve=False)
    from_hocon = read_config(job.hocon)
    from_json = read_config(job.json, fmt="json")
    assert from_hocon == from_json == json.loads(job.json) == job.config
    assert check_config(from_hocon, job.version) == []
    for value in FAKE.values():
        assert value not in job.hocon
        assert value not in job.json


@pytest.mark.parametrize("version", ["2.3.8", "2.3.9", "2.3.11", "2.3.12"])
def test_eia_get_with_facets_list(version: str) -> None:
    job = render_job(eia_spec(version))
    assert_sound(job)
    cfg = job.config
    assert [p["plugin_name"] for p in cfg["source"]] == ["Http", "Http"]
    assert [p["plugin_name"] for p in cfg["transform"]] == ["Sql", "Sql"]
    assert [p["plugin_name"] for p in cfg["sink"]] == ["Jdbc"]
    src = cfg["source"][0]
    # the repeated facet key survives, in the URL, with both values; so does `data[0]`, which SeaTunnel's
    # params map would send as `"data[0]"` (Config.entrySet quotes keys with brackets)
    assert parse_qs(urlsplit(src["url"]).query) == {"facets[respondent][]": ["PJM", "MISO"], "data[0]": ["value"]}
    assert all("[" not in k for k in src["params"])
    assert src["params"]["api_key"] == "${EIA_API_KEY}"
    assert src["params"]["start"] == "2024-01-01T01" and cfg["source"][1]["params"]["start"] == "2024-01-08T01"
    assert src["content_field"] == "$.response.data.*" and "pageing" not in src
    assert cfg["env"] == {"job": {"mode": "BATCH", "name": "BACKFILL_20241231_EIA_3f9a1c.n0007",
                                  "retry": {"times": 2, "interval": {"seconds": 10}}},
                          "parallelism": 1, "read_limit": {"rows_per_second": 4}}
    sink = cfg["sink"][0]
    assert sink["generate_sink_sql"] is True
    assert sink["primary_keys"] == ["source", "dataset", "series_id", "period", "load_id"]
    assert sink["url"] == "${AURUMPLAN_WAREHOUSE_JDBC_URL}" and sink["password"] == "${WAREHOUSE_PASSWORD}"
    assert set(job.env_refs) == {"EIA_API_KEY", "AURUMPLAN_WAREHOUSE_JDBC_URL", "WAREHOUSE_USER", "WAREHOUSE_PASSWORD"}


@pytest.mark.parametrize(("version", "out", "inp", "user"), [
    ("2.3.8", "result_table_name", "source_table_name", "user"),
    ("2.3.9", "plugin_output", "plugin_input", "user"),
    ("2.3.12", "plugin_output", "plugin_input", "username")])
def test_version_switch_names(version: str, out: str, inp: str, user: str) -> None:
    cfg = render_job(eia_spec(version)).config
    assert [p[out] for p in cfg["source"]] == ["raw_0", "raw_1"]
    assert [(p[inp], p[out]) for p in cfg["transform"]] == [("raw_0", "norm_0"), ("raw_1", "norm_1")]
    assert cfg["sink"][0][inp] == ["norm_0", "norm_1"]
    assert cfg["sink"][0][user] == "${WAREHOUSE_USER}"
    # the switch matters: an older SeaTunnel does not read the newer names; newer ones accept old names
    older = {"2.3.8": None, "2.3.9": "2.3.8", "2.3.12": "2.3.11"}[version]
    if older:
        assert check_config(cfg, older) != []
    assert check_config(cfg, "2.3.12") == []


def test_sql_reads_its_own_source_and_carries_the_load_id() -> None:
    cfg = render_job(eia_spec(windows=3)).config
    queries = [t["query"] for t in cfg["transform"]]
    for i, q in enumerate(queries):
        assert q.endswith(f", 'L-20241231-0007' AS load_id FROM raw_{i} WHERE value IS NOT NULL")
    spec = eia_spec(windows=1)
    spec["sink"]["with_operation_id"] = True
    q = render_job(spec).config["transform"][0]["query"]
    assert "'L-20241231-0007' AS load_id, 'BACKFILL_20241231_EIA_3f9a1c' AS operation_id FROM raw_0" in q
    assert render_job(spec).config["sink"][0]["plugin_input"] == "norm_0"


def test_hocon_secret_references_resolve_from_the_environment() -> None:
    """The unquoted ${VAR} resolves like Typesafe does in SeaTunnel's client (pyhocon reads env too)."""
    tree = ConfigFactory.parse_string(render_job(eia_spec()).hocon)
    assert tree["source"]["Http"]["params"]["api_key"] == FAKE["EIA_API_KEY"]
    assert tree["sink"]["Jdbc"]["username"] == FAKE["WAREHOUSE_USER"]


def test_bls_post_with_json_body_secret() -> None:
    job = render_job(bls_spec())
    assert_sound(job)
    src = job.config["source"][0]
    assert src["method"] == "POST"
    assert json.loads(src["body"].replace("${BLS_API_KEY}", "K")) == {
        "seriesid": ["CUUR0000SA0"], "startyear": "2020", "endyear": "2024", "registrationkey": "K"}
    assert job.config["sink"][0]["database"] == "test"  # read from the literal JDBC url
    # HOCON: the body is a concatenation around ${BLS_API_KEY}; resolved, it is the JSON with the key
    body = ConfigFactory.parse_string(job.hocon)["source"]["Http"]["body"]
    assert json.loads(body)["registrationkey"] == FAKE["BLS_API_KEY"]
    # REST: the executor fills the reference in memory only
    filled = fill_secret_refs(job.config, job.env_refs)
    assert json.loads(filled["source"][0]["body"])["registrationkey"] == FAKE["BLS_API_KEY"]
    assert "${BLS_API_KEY}" in job.json


def test_json_body_without_secret_is_triple_quoted() -> None:
    spec = bls_spec()
    req = spec["requests"][0]
    req["secret"] = {"in": "headers", "name": "X-Key", "env": "BLS_API_KEY"}
    job = render_job(spec)
    assert_sound(job)
    assert 'body = """{"seriesid":["CUUR0000SA0"],"startyear":"2020","endyear":"2024"}"""' in job.hocon
    assert job.config["source"][0]["headers"]["X-Key"] == "${BLS_API_KEY}"


def test_post_params_move_to_the_url_before_2_3_11() -> None:
    spec = bls_spec("2.3.8")
    spec["requests"][0]["params"] = {"catalog": "true"}
    src = render_job(spec).config["source"][0]
    assert "params" not in src and src["url"].endswith("?catalog=true")
    spec["requests"][0]["secret"] = {"in": "params", "name": "registrationkey", "env": "BLS_API_KEY"}
    with pytest.raises(RenderError, match=r"a POST parameter secret needs SeaTunnel >= 2\.3\.11"):
        render_job(spec)
    assert render_job({**spec, "version": "2.3.11"}).config["source"][0]["params"]["catalog"] == "true"


def test_no_read_limit_unless_asked() -> None:
    spec = eia_spec()
    del spec["rows_per_second"]
    assert "read_limit" not in render_job(spec).config["env"]


def test_sql_ending_in_a_quote_still_round_trips() -> None:
    spec = eia_spec(windows=1)
    spec["sql"] = spec["sql"].replace("WHERE value IS NOT NULL", "WHERE respondent <> \"x\"")
    assert_sound(render_job(spec))


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["requests"][0]["params"].update(api_key="literal"), r"params\.api_key: looks like a secret"),
    (lambda s: s["requests"][0]["params"].update(start="${start}"), r"'\$\{' is not allowed"),
    (lambda s: s.update(pageing={}), r"spec: unknown key 'pageing'"),
    (lambda s: s["requests"][0].pop("url"), r"requests\[0\]\.url: an http\(s\) URL is required"),
    (lambda s: s.update(sql="SELECT 'x' AS load_id FROM raw_0"), r"sql: must not select load_id"),
    (lambda s: s.update(sql="SELECT 1"), r"sql: no top-level FROM table"),
    (lambda s: s["sink"].update(url_env=None, url="jdbc:postgresql://h/d?password=x"), r"holds a password"),
    (lambda s: s["sink"].pop("primary_keys"), r"sink\.primary_keys"),
    (lambda s: s["requests"][0]["secret"].update(env="not a name"), r"secret\[0\]\.env"),
    (lambda s: s["requests"][0].pop("content_field"), r"content_field or json_field is required"),
])
def test_bad_specs_are_refused_with_every_reason(change: Any, message: str) -> None:
    spec = copy.deepcopy(eia_spec(windows=1))
    change(spec)
    with pytest.raises(RenderError, match=message):
        render_job(spec)


def test_fill_secret_refs_needs_every_variable() -> None:
    job = render_job(eia_spec())
    with pytest.raises(RenderError, match="not set: EIA_API_KEY"):
        fill_secret_refs(job.config, job.env_refs, {k: v for k, v in FAKE.items() if k != "EIA_API_KEY"})
    filled = fill_secret_refs(job.config, ["EIA_API_KEY"], FAKE)
    assert filled["source"][0]["params"]["api_key"] == FAKE["EIA_API_KEY"]
    assert filled["sink"][0]["password"] == "${WAREHOUSE_PASSWORD}"  # only the names asked for
    assert job.config["source"][0]["params"]["api_key"] == "${EIA_API_KEY}"  # original untouched
