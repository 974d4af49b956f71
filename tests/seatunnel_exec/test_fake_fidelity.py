"""The fake SeaTunnel engine behaves as SeaTunnel's code does, point by point (docs/seatunnel.md lists each).

A test that passes on the fake only proves something about SeaTunnel if the fake sends the same
requests, reads the same rows and computes the same SQL. Requests go over real HTTP to a loopback
server that records them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from tests.doubles.seatunnel.errors import JobFailed
from tests.doubles.seatunnel.httpsource import read, send
from tests.doubles.seatunnel.jdbcsink import Sink
from tests.doubles.seatunnel.zetasql import ZetaError, run_query

V2_3_12, V2_3_10 = (2, 3, 12), (2, 3, 10)


class Recorder:
    """A loopback HTTP server answering `reply` (status, body) and recording every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: tuple[int, str] = (200, "[]")
        self.drop_first = 0
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.requests.append({"method": self.command, "path": self.path, "body": body,
                                          "headers": dict(self.headers)})
                if recorder.drop_first > 0:
                    recorder.drop_first -= 1
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.close()
                    return
                status, text = recorder.reply
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def query(self, i: int = -1) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.requests[i]["path"]).query, keep_blank_values=True)


@pytest.fixture
def api() -> Iterator[Recorder]:
    rec = Recorder()
    try:
        yield rec
    finally:
        rec.httpd.shutdown()
        rec.httpd.server_close()


def _send(api: Recorder, plugin: dict[str, Any], version: tuple[int, ...] = V2_3_12) -> None:
    with httpx.Client() as client:
        send(client, plugin, version, lambda _lvl, _msg: None)


def test_get_keeps_the_url_query_and_appends_params(api: Recorder) -> None:
    # the compiled EIA source: repeated facets in the URL, the rest in params (SeaTunnel's URIBuilder)
    url = f"{api.base}/data/?facets%5Brespondent%5D%5B%5D=PJM&facets%5Brespondent%5D%5B%5D=MISO&length=10"
    _send(api, {"url": url, "params": {"frequency": "hourly", "length": 5000, "offset": 0}})
    got = api.query()
    assert got[:2] == [("facets[respondent][]", "PJM"), ("facets[respondent][]", "MISO")]
    assert sorted(got[2:]) == [("frequency", "hourly"), ("length", "5000"), ("offset", "0")]  # same name: replaced


def test_param_keys_with_brackets_arrive_quoted_and_values_as_java_text(api: Recorder) -> None:
    _send(api, {"url": f"{api.base}/data/", "params": {"data[0]": "value", "ratio": 1e-5, "flag": True,
                                                      "ids": ["a", "b"]}})
    assert sorted(api.query()) == [('"data[0]"', "value"), ("flag", "true"), ("ids", "[a, b]"), ("ratio", "1.0E-5")]


def test_url_with_unescaped_brackets_is_refused_like_java_uri(api: Recorder) -> None:
    with pytest.raises(JobFailed, match="URISyntaxException"):
        _send(api, {"url": f"{api.base}/data/?facets[respondent][]=PJM"})
    assert api.requests == []


def test_post_params_by_version(api: Recorder) -> None:
    plugin = {"url": f"{api.base}/post/?a=1", "method": "POST", "params": {"b": "2"}, "body": '{"seriesid":["X"]}'}
    _send(api, plugin, V2_3_12)
    assert api.query() == [("a", "1"), ("b", "2")]
    assert json.loads(api.requests[-1]["body"]) == {"seriesid": ["X"]}
    assert api.requests[-1]["headers"]["Content-Type"] == "application/json"
    _send(api, plugin, V2_3_10)  # params become a form body, and the JSON body is not sent at all
    assert api.query() == [("a", "1")] and api.requests[-1]["body"] == b"b=2"


def test_status_outside_200_207_fails_at_once_io_errors_are_retried(api: Recorder) -> None:
    api.reply = (429, '{"error":"slow down"}')
    with pytest.raises(JobFailed, match=r"status code:\[429\]"):
        _send(api, {"url": f"{api.base}/x", "retry": 3})
    assert len(api.requests) == 1
    api.reply, api.drop_first = (200, "[]"), 2
    _send(api, {"url": f"{api.base}/x", "retry": 3, "retry_backoff_multiplier_ms": 1})
    assert len(api.requests) == 4  # two dropped connections, then the answer
    api.drop_first = 2
    with pytest.raises(JobFailed, match="Http request failed"):
        _send(api, {"url": f"{api.base}/x", "retry": 2, "retry_backoff_multiplier_ms": 1})


def _read(api: Recorder, body: Any, fields: dict[str, str], **opts: Any) -> list[dict[str, Any]]:
    api.reply = (200, body if isinstance(body, str) else json.dumps(body))
    with httpx.Client() as client:
        rows, _ = read(client, {"url": f"{api.base}/r", "schema": {"fields": fields}, **opts}, V2_3_12,
                       lambda _lvl, _msg: None, lambda: False)
    return rows


def test_content_field_rows_and_string_typing(api: Recorder) -> None:
    body = {"response": {"data": [{"period": "2024-01-01T00", "value": 1.0e7, "n": 486, "x": {"a": [1]}},
                                  {"period": "2024-01-01T01", "value": None}]}}
    rows = _read(api, body, {"period": "string", "value": "string", "n": "string", "x": "string", "gone": "string"},
                 content_field="$.response.data.*")
    assert rows == [{"period": "2024-01-01T00", "value": "1.0E7", "n": "486", "x": '{"a":[1]}', "gone": None},
                    {"period": "2024-01-01T01", "value": None, "n": None, "x": None, "gone": None}]
    assert _read(api, {"response": {"total": 0}}, {"period": "string"}, content_field="$.response.data.*") == []
    assert _read(api, "", {"period": "string"}, content_field="$.response.data.*") == []
    # without content_field an object is one row: the envelope problem SeaTunnel has
    assert _read(api, {"response": {}}, {"period": "string"}) == [{"period": None}]
    with pytest.raises(JobFailed, match="json convert"):
        _read(api, [{"v": "W"}], {"v": "double"}, content_field="$.*")


def test_page_number_paging_stops_on_a_short_page(api: Recorder) -> None:
    api.reply = (200, json.dumps({"d": [{"v": "1"}, {"v": "2"}]}))
    with httpx.Client() as client:
        rows, _ = read(client, {"url": f"{api.base}/p", "content_field": "$.d.*", "schema": {"fields": {"v": "string"}},
                                "params": {"page": "1"}, "pageing": {"page_field": "page", "batch_size": 2,
                                                                     "total_page_size": 3}},
                       V2_3_12, lambda _lvl, _msg: None, lambda: False)
    assert len(rows) == 6 and [dict(api.query(i))["page"] for i in range(3)] == ["1", "2", "3"]


QUERY = "SELECT PARSEDATETIME(`p`, {pattern}) AS t FROM raw"


@pytest.mark.parametrize(("label", "pattern", "expected"), [
    ("2024-03-09T05", "'yyyy-MM-dd''T''HH'", "2024-03-09"),  # `yy` without `mm`: a date, the hour is lost
    ("2024-03-09T05:00", "'yyyy-MM-dd''T''HH:mm'", "2024-03-09 05:00:00"),
    ("2024-02-30", "'yyyy-MM-dd'", "2024-02-29"),  # ResolverStyle.SMART clamps the day
])
def test_parsedatetime_types_by_pattern_letters(label: str, pattern: str, expected: str) -> None:
    assert run_query(QUERY.format(pattern=pattern), "raw", {"p": "string"}, [{"p": label}]) == [{"t": expected}]


def test_zeta_fails_where_sqlite_would_not() -> None:
    with pytest.raises(ZetaError, match="could not be parsed"):  # no day: LocalDate cannot be built
        run_query(QUERY.format(pattern="'yyyy-MM'"), "raw", {"p": "string"}, [{"p": "2024-03"}])
    with pytest.raises(ZetaError, match="NumberFormatException"):  # SQLite's CAST would give 0.0
        run_query("SELECT CAST(`v` AS DOUBLE) AS v FROM raw", "raw", {"v": "string"}, [{"v": "W"}])
    with pytest.raises(ZetaError, match="Unsupported function: printf"):
        run_query("SELECT printf('%d', 1) AS v FROM raw", "raw", {"v": "string"}, [{"v": "1"}])
    hour_lost = "SELECT DATEADD(PARSEDATETIME(`p`, 'yyyy-MM-dd''T''HH'), -1, 'HOUR') AS t FROM raw"
    assert run_query(hour_lost, "raw", {"p": "string"}, [{"p": "2024-03-09T05"}]) == [{"t": "2024-03-09"}]
    assert run_query("SELECT CONCAT(`a`, NULL, 'x') AS c FROM raw WHERE `a` LIKE 'm%'", "raw", {"a": "string"},
                     [{"a": "m1"}, {"a": "M2"}]) == [{"c": "m1x"}]


def test_jdbc_sink_sqlite_upsert_fails_as_seatunnels_dialect_does(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    with sa.create_engine(f"sqlite:///{db}").begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k TEXT, p TIMESTAMP, v REAL, PRIMARY KEY (k, p))")
    plugin = {"url": f"jdbc:sqlite:{db}", "table": "t", "primary_keys": ["k", "p"]}
    rows = [{"k": "a", "p": "2024-01-01 00:00:00", "v": 1.0}]
    with pytest.raises(JobFailed, match="VALUES"):
        Sink(plugin).write(rows)
    sink = Sink({**plugin, "enable_upsert": False})
    assert sink.write(rows) == 1 and sink.write([{**rows[0], "v": 2.0}]) == 1
    with sink.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT k, v FROM t").all() == [("a", 2.0)]
    sink.close()
