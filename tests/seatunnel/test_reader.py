"""The reader must see configs the way SeaTunnel does: ordered plugin lists, duplicates kept."""

from __future__ import annotations

import pytest
from pyhocon import ConfigFactory

from aurumplan.executors.seatunnel.reader import ConfigReadError, read_config, read_config_file
from tests.paths import SEATUNNEL_EXAMPLES as EXAMPLES

# file -> (sources, transforms, sinks) as SeaTunnel builds them: in file order, duplicates kept
EXPECTED = {
    "01_v2.batch.config.template": (["FakeSource"], [], ["Console"]),
    "02_v2.streaming.conf.template": (["FakeSource"], [], ["Console"]),
    "03_http_page_increase_no_page_num.conf": (["Http"], [], ["Assert"]),
    "04_http_page_increase_start_num.conf": (["Http"], [], ["Assert"]),
    "05_http_jsonrequestbody_to_assert.conf": (["Http"], [], ["Assert", "Http"]),
    "06_http_streaming_json_to_postgresql.conf": (["Http"], ["Sql"], ["Jdbc"]),
    "07_http_contentjson_to_assert.conf": (["Http"], [], ["Assert"]),
    "08_http_jsonpath_to_assert.conf": (["Http"], [], ["Assert"]),
    "09_jdbc_sink_auto_generate_upsql_sql.conf": (["FakeSource"], [], ["Assert", "Jdbc"]),
    "10_jdbc_postgres_source_and_sink_xa.conf": (["jdbc"], [], ["jdbc"]),
    "11_jdbc_sink_cdc_changelog.conf": (["FakeSource"], [], ["Jdbc"]),
    "12_fake_to_local_file_parquet.conf": (["FakeSource"], [], ["LocalFile"]),
    "13_fake_to_s3_file_parquet.conf": (["FakeSource"], [], ["S3File"]),
    "14_sql_transform.conf": (["FakeSource"], ["Sql"], ["Assert"]),
    "15_field_mapper_transform.conf": (["FakeSource"], ["FieldMapper"], ["Assert"]),
    "16_filter_transform.conf": (["FakeSource"], ["Filter"], ["Assert"]),
    "17_replace_transform.conf": (["FakeSource"], ["Replace"], ["Assert"]),
    "18_fake_to_console.variables.conf": (["FakeSource"], ["sql"], ["Console"]),
    "19_stream_fakesource_to_file_savepoint.conf": (["FakeSource"], [], ["LocalFile"]),
    "20_fake_to_inmemory.json": (["FakeSource"], [], ["InMemory"]),
    "21_http_placeholder_replacement_true.conf": (["Http"], [], ["Assert", "Http"]),
    "22_http_page_cursor_num_assert.conf": (["Http"], [], ["Assert"]),
    "23_batch_fake_multi_table_to_console.conf": (["FakeSource", "FakeSource"], [], ["console", "console"]),
}


def _names(parsed: dict, stage: str) -> list[str]:
    return [p["plugin_name"] for p in parsed[stage]]


def test_every_seatunnel_example_is_listed() -> None:
    files = sorted(p.name for p in EXAMPLES.iterdir() if p.name != "MANIFEST.tsv")
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_plugins_as_seatunnel_builds_them(name: str) -> None:
    parsed = read_config_file(EXAMPLES / name)
    assert (_names(parsed, "source"), _names(parsed, "transform"), _names(parsed, "sink")) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if not n.endswith(".json")))
def test_example_parses_with_pyhocon_and_agrees_where_no_block_repeats(name: str) -> None:
    tree = ConfigFactory.parse_string((EXAMPLES / name).read_text(), resolve=False)
    parsed = read_config_file(EXAMPLES / name)
    for stage in ("source", "sink"):
        mine = _names(parsed, stage)
        assert list(tree[stage].keys()) == list(dict.fromkeys(mine))


def test_duplicate_blocks_are_kept_in_order() -> None:
    parsed = read_config_file(EXAMPLES / "23_batch_fake_multi_table_to_console.conf")
    assert [p["result_table_name"] for p in parsed["source"]] == ["fake1", "fake2"]
    assert [p["row"]["num"] for p in parsed["source"]] == [20, 30]
    assert [p["source_table_name"] for p in parsed["sink"]] == ["fake1", "fake2"]
    tree = ConfigFactory.parse_string((EXAMPLES / "23_batch_fake_multi_table_to_console.conf").read_text())
    assert len(tree["source"]) == 1  # what plain HOCON makes of it: one merged FakeSource


def test_unresolved_substitutions_come_back_as_text() -> None:
    parsed = read_config_file(EXAMPLES / "18_fake_to_console.variables.conf")
    src, sql = parsed["source"][0], parsed["transform"][0]
    assert src["result_table_name"] == "${resName}"
    assert src["row"]["num"] == "${rowNum}"
    assert sql["query"] == "select * from ${resName} where name = '${nameVal}' "


def test_triple_quotes_keep_literal_text_and_placeholders() -> None:
    parsed = read_config_file(EXAMPLES / "21_http_placeholder_replacement_true.conf")
    assert parsed["source"][0]["body"] == '{"id":1,"pageIndex":"${pageIndex}"}'
    assert parsed["source"][0]["plugin_output"] == "http"


def test_json_list_form() -> None:
    parsed = read_config_file(EXAMPLES / "20_fake_to_inmemory.json")
    assert parsed["env"] == {"parallelism": 4, "job.mode": "BATCH"}
    assert parsed["source"][0]["row.num"] == 10
    assert parsed["transform"] == []


def test_braces_in_strings_and_comments_do_not_split_blocks() -> None:
    text = '''
    # a comment with a brace {
    env { job.mode = "BATCH" } // and another }
    source {
      // Console { is not a plugin here
      Http = {
        url = "http://x/{id}"  # } still the same block
        body = """{"a": "}", "b": "#"}"""
      },
      Http: {
        url = "http://y/"
      }
    }
    sink { Console {} Console {} }
    '''
    parsed = read_config(text)
    assert [p["url"] for p in parsed["source"]] == ["http://x/{id}", "http://y/"]
    assert parsed["source"][0]["body"] == '{"a": "}", "b": "#"}'
    assert _names(parsed, "sink") == ["Console", "Console"]
    assert parsed["transform"] == []


def test_root_braces_and_quoted_dotted_keys() -> None:
    parsed = read_config('{ source { S3File { "fs.s3a.endpoint" = "e", fs.s3a.x = 1 } } sink { Console {} } }')
    assert parsed["source"][0]["fs.s3a.endpoint"] == "e"
    assert parsed["source"][0]["fs"] == {"s3a": {"x": 1}}


def test_list_form_in_hocon_is_refused() -> None:
    with pytest.raises(ConfigReadError, match=r"\.json file for the list form"):
        read_config('source = [ { plugin_name = "FakeSource" } ]')


def test_unbalanced_braces_name_the_line() -> None:
    with pytest.raises(ConfigReadError, match=r"<config>:3: unbalanced"):
        read_config('env {}\n\nsource {\n  Http { url = "x"\n}\n')


def test_json_plugin_without_name_is_refused() -> None:
    with pytest.raises(ConfigReadError, match=r"source\[0\] needs a string `plugin_name`"):
        read_config('{"env": {}, "source": [{"url": "x"}], "sink": []}', fmt="json")


def test_one_line_blocks_do_not_swallow_the_next_stage() -> None:
    parsed = read_config('env { job.mode = "BATCH" } source { FakeSource {} } sink { Console {} }')
    assert parsed["env"] == {"job": {"mode": "BATCH"}}
    assert (_names(parsed, "source"), _names(parsed, "sink")) == (["FakeSource"], ["Console"])
