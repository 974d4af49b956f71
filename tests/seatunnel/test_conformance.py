"""Conformance: what SeaTunnel would silently ignore or misread must be reported."""

from __future__ import annotations

import pytest

from aurumplan.executors.seatunnel.conformance import check_cli_variables, check_config
from aurumplan.executors.seatunnel.reader import read_config, read_config_file
from aurumplan.executors.seatunnel.tables import load_tables

from .test_reader import EXAMPLES, EXPECTED

# The only examples in tests/fixtures/seatunnel_examples that legitimately fail, and why: keys Zeta does not read.
EXAMPLE_PROBLEMS = {
    "13_fake_to_s3_file_parquet.conf": [
        "env: option 'execution.parallelism' is not read by SeaTunnel: legacy Flink/Spark starter key "
        "that the Zeta engine does not read; use `parallelism`"],
    "19_stream_fakesource_to_file_savepoint.conf": [
        "sink[0] LocalFile: option 'save_mode' is not read by SeaTunnel: removed in the 2.3 line; "
        "use `schema_save_mode` / `data_save_mode`"],
}

HTTP_JOB = """
env { job.mode = "BATCH" }
source {
  Http {
    plugin_output = "raw"
    url = "http://127.0.0.1:1/x"
    format = "json"
    %s
    schema = { fields { a = string } }
  }
}
sink { Console { plugin_input = "raw" } }
"""


def _problems(extra: str, version: str = "2.3.12") -> list[str]:
    return check_config(read_config(HTTP_JOB % extra), version)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seatunnel_examples(name: str) -> None:
    assert check_config(read_config_file(EXAMPLES / name)) == EXAMPLE_PROBLEMS.get(name, [])


def test_tables_cover_the_plugins_aurumplan_reads_and_writes() -> None:
    t = load_tables()
    assert t.seatunnel_version == "2.3.12"
    for stage, names in {"source": ["Http", "FakeSource", "Jdbc", "LocalFile", "S3File"],
                         "transform": ["Sql", "FieldMapper", "Filter", "Replace", "Copy"],
                         "sink": ["Jdbc", "Console", "Assert", "LocalFile", "S3File", "InMemory", "Kafka"]}.items():
        for n in names:
            assert t.plugin(stage, n.upper()) is not None, (stage, n)


def test_clean_job_has_no_problem() -> None:
    assert _problems('content_field = "$.data.*"') == []


def test_misspelled_options_are_reported() -> None:
    assert _problems("paging = { batch_size = 10 }") == [
        "source[0] Http: option 'paging' is not read by SeaTunnel: the key is spelled `pageing`"]
    assert _problems('content_json = "$.data.*"') == [
        "source[0] Http: option 'content_json' is not read by SeaTunnel: the docs typo; the key is `content_field`"]
    assert _problems('metod = "GET"') == ["source[0] Http: unknown option 'metod' (did you mean 'method'?)"]
    assert _problems("pageing = { batch_sise = 10 }") == [
        "source[0] Http.pageing: unknown option 'batch_sise' (did you mean 'batch_size'?)"]


def test_wrong_types_and_enum_values() -> None:
    assert _problems('retry = "often"') == ["source[0] Http: option 'retry' must be int, got str 'often'"]
    assert _problems('method = "PUT"') == ["source[0] Http: option 'method' must be one of GET, POST, got 'PUT'"]
    assert _problems('headers = "x"') == ["source[0] Http: option 'headers' must be map, got str 'x'"]
    assert _problems('retry = "3", enable_multi_lines = "yes"') == []  # Typesafe-style coercions


def test_missing_required_url() -> None:
    text = 'source { Http { format = "json" } } sink { Console {} }'
    assert check_config(read_config(text)) == ["source[0] Http: missing required option 'url'"]


def test_unknown_plugin_name_and_case_insensitive_names() -> None:
    problems = check_config(read_config('source { Htp { url = "x" } } sink { console {} }'))
    assert len(problems) == 1
    assert problems[0].startswith("source[0]: unknown source plugin 'Htp' (known: Http, FakeSource")
    assert check_config(read_config('source { HTTP { url = "x" } } sink { CONSOLE {} }')) == []


def test_bad_wiring() -> None:
    text = HTTP_JOB.replace('plugin_input = "raw"', 'plugin_input = "raww"') % ""
    assert check_config(read_config(text)) == [
        "sink[0] Console: plugin_input 'raww' names no upstream plugin_output (known: raw)"]
    two = 'source { FakeSource { row.num = 1 } FakeSource { row.num = 2 } } sink { Console {} }'
    assert check_config(read_config(two)) == [
        "source[0] FakeSource: no plugin_output, but the job has a stage with several plugins",
        "source[1] FakeSource: no plugin_output, but the job has a stage with several plugins",
        "sink[0] Console: no plugin_input, but the job has a stage with several plugins"]
    dup = ('source { FakeSource { plugin_output = "a" } FakeSource { plugin_output = "a" } } '
           'sink { Console { plugin_input = "a" } }')
    assert check_config(read_config(dup)) == [
        "source[1] FakeSource: plugin_output 'a' is also the output of source[0] FakeSource"]


def test_sql_from_must_be_the_input() -> None:
    text = ('source { FakeSource { plugin_output = "fake" } } transform { Sql { plugin_input = "fake", '
            'plugin_output = "out", query = "select a from other" } } sink { Console { plugin_input = "out" } }')
    assert check_config(read_config(text)) == [
        "transform[0] Sql: query reads FROM 'other' but plugin_input is 'fake'; "
        "the FROM table must be the plugin_input name"]


def test_version_switches() -> None:
    parsed = read_config_file(EXAMPLES / "21_http_placeholder_replacement_true.conf")
    assert check_config(parsed, "2.3.12") == []
    assert check_config(parsed, "2.3.8") == [
        "source[0] Http: option 'plugin_output' needs SeaTunnel >= 2.3.9 (target 2.3.8); "
        "use 'result_table_name' for older versions",
        "source[0] Http.pageing: option 'use_placeholder_replacement' needs SeaTunnel >= 2.3.11 (target 2.3.8)",
        "sink[0] Assert: option 'plugin_input' needs SeaTunnel >= 2.3.9 (target 2.3.8); "
        "use 'source_table_name' for older versions",
        "sink[1] Http: option 'plugin_input' needs SeaTunnel >= 2.3.9 (target 2.3.8); "
        "use 'source_table_name' for older versions"]
    jdbc = ('source { FakeSource {} } sink { Jdbc { url = "jdbc:postgresql://h/d", driver = "D", %s = "u", '
            'query = "insert into t values (?)" } }')
    assert check_config(read_config(jdbc % "username"), "2.3.12") == []
    assert check_config(read_config(jdbc % "username"), "2.3.11") == [
        "sink[0] Jdbc: option 'username' needs SeaTunnel >= 2.3.12 (target 2.3.11); use 'user' for older versions"]
    assert check_config(read_config(jdbc % "user"), "2.3.11") == []
    assert check_config(read_config(jdbc % "user"), "2.3.12") == []


def test_old_and_new_name_together_is_ambiguous() -> None:
    assert _problems('result_table_name = "raw"') == [
        "source[0] Http: both 'plugin_output' and 'result_table_name' are set; they are the same option"]


def test_jdbc_sink_write_mode_rules() -> None:
    base = 'source { FakeSource {} } sink { Jdbc { url = "u", driver = "d", %s } }'
    assert check_config(read_config(base % "generate_sink_sql = true, database = db")) == [
        "sink[0] Jdbc: 'generate_sink_sql' = True needs option 'table'"]
    assert check_config(read_config(base % 'generate_sink_sql = true, database = db, table = t, query = "q"')) == [
        "sink[0] Jdbc: sets more than one of query, generate_sink_sql; choose one"]
    assert check_config(read_config(base % "batch_size = 1")) == ["sink[0] Jdbc: needs one of query, generate_sink_sql"]


def test_env_problems() -> None:
    text = ('env { job.mode = "BATCHY", job.nme = "x", spark.app.name = "ok" } '
            'source { FakeSource {} } sink { Console {} }')
    assert check_config(read_config(text)) == [
        "env: option 'job.mode' must be one of BATCH, STREAMING, got 'BATCHY'",
        "env: unknown option 'job.nme' (did you mean 'job.name'?)"]


def test_cli_variables_must_not_collide_with_paging_placeholders() -> None:
    parsed = read_config_file(EXAMPLES / "21_http_placeholder_replacement_true.conf")
    assert check_cli_variables(parsed, {"start": "2024-01-01"}) == []
    assert check_cli_variables(parsed, {"pageIndex": "3"}) == [
        "-i pageIndex: same name as an Http paging placeholder; it would pin the page"]
    assert check_cli_variables(parsed, {"table_name": "x", "note": "a b", "ids": "1,2", "db_password": "p"}) == [
        "-i table_name: reserved placeholder name, SeaTunnel refuses it",
        "-i note: value contains whitespace, which seatunnel.sh splits",
        "-i ids: value contains a comma, which SeaTunnel splits",
        "-i db_password: looks like a secret; -i values are visible in `ps`, use an env var"]
