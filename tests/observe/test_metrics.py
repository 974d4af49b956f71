"""`metrics` and /metrics: Prometheus text that prometheus_client parses, with the report's figures."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from aurumplan.intervals import parse_ts
from tests.apply.common import run
from tests.doubles.fakeapis import EiaServer
from tests.observe.conftest import free_port, spec


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def one(m: dict, name: str, **labels: str) -> float:
    return m[(name, tuple(sorted(labels.items())))]


def requests(m: dict, **labels: str) -> float:
    """aurumplan_requests_total summed over its outcomes."""
    return sum(v for (name, lab), v in m.items() if name == "aurumplan_requests_total"
               and set(labels.items()) <= set(lab))


def test_textfile_metrics_equal_the_report(applied: Path) -> None:
    code, out, err = run(applied, "metrics")
    assert code == 0, err
    m = samples(out)
    op = json.loads(run(applied, "ops", "list", "--json")[1])[0]
    rep = json.loads(run(applied, "report", op["id"], "--json")[1])["figures"]
    kind = {"kind": "Backfill", "source": "eia"}
    assert one(m, "aurumplan_operations", status="succeeded", **kind) == 1
    assert one(m, "aurumplan_operations", status="failed", **kind) == 0
    assert one(m, "aurumplan_active_operations", **kind) == 0
    assert one(m, "aurumplan_requests_total", outcome="ok", **kind) == rep["outcomes"]["ok"] == rep["requests"] > 0
    assert one(m, "aurumplan_records_total", **kind) == rep["records"] == 216
    assert one(m, "aurumplan_bytes_total", **kind) == rep["bytes"] > 0
    assert one(m, "aurumplan_failures_total", **kind) == 0
    assert one(m, "aurumplan_operation_duration_seconds_count", **kind) == 1
    assert one(m, "aurumplan_operation_duration_seconds_bucket", le="+Inf", **kind) == 1
    assert one(m, "aurumplan_quota_used_today", source="eia") == rep["requests"]
    assert one(m, "aurumplan_quota_daily_limit", source="eia") == 5000
    assert one(m, "aurumplan_leases_held", source="eia") == 0
    assert out.endswith("\n") and "# TYPE aurumplan_requests_total counter" in out
    age = one(m, "aurumplan_dataset_freshness_seconds", source="eia", dataset="ELEC.DEMAND")
    assert abs(age - (time.time() - parse_ts("2024-01-04"))) < 120  # the backfill ended with 2024-01-03
    assert "process_resident_memory_bytes" not in out  # the CLI's own memory means nothing in a textfile


def test_requests_by_outcome_add_up_to_what_the_api_answered(project: Path, server: EiaServer) -> None:
    server.fail_next(1, status=503)  # one request fails and is sent again (retries.max is 1)
    code, out, err = run(project, "apply", spec(project), "--auto-approve")
    assert code == 0, out + err
    m = samples(run(project, "metrics")[1])
    op = json.loads(run(project, "ops", "list", "--json")[1])[0]
    rep = json.loads(run(project, "report", op["id"], "--json")[1])["figures"]
    kind = {"kind": "Backfill", "source": "eia"}
    by_outcome = {lab["outcome"]: v for (name, labels), v in m.items()
                  if name == "aurumplan_requests_total" for lab in [dict(labels)]}
    assert by_outcome == {"ok": server.requests - 1, "retried": 1} == rep["outcomes"]
    assert sum(by_outcome.values()) == rep["requests"] == server.requests
    assert one(m, "aurumplan_retries_total", **kind) == rep["retries"] == 1
    assert "requests by outcome" in run(project, "report", op["id"])[1]


def test_metrics_of_an_empty_project_parse(tmp_path: Path) -> None:
    (tmp_path / "aurumplan.yaml").write_text(f"state: 'sqlite:///{tmp_path}/s.db'\n")
    code, out, _ = run(tmp_path, "metrics")
    assert code == 0
    m = samples(out)
    assert m[("aurumplan_up", ())] == 1
    assert not (tmp_path / "s.db").exists()


def test_scraped_during_a_real_apply(project: Path, server: EiaServer) -> None:
    server.delay = 0.6
    port = free_port()
    scraped: list[str] = []
    done = threading.Event()

    def scrape() -> None:
        while not done.is_set():
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                if r.status_code == 200 and "aurumplan_operations{" in r.text:
                    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
                    scraped.append(r.text)
            except httpx.TransportError:
                pass
            time.sleep(0.05)

    t = threading.Thread(target=scrape)
    t.start()
    try:
        code, out, err = run(project, "apply", spec(project, start="2024-01-01", end="2024-02-20"),
                             "--auto-approve", "--metrics-port", str(port))
    finally:
        done.set()
        t.join()
    assert code == 0, out + err
    assert scraped, "no scrape answered while apply ran"
    live = [samples(text) for text in scraped]
    kind = {"kind": "Backfill", "source": "eia"}
    assert any(one(m, "aurumplan_operations", status="running", **kind) == 1 for m in live)
    assert any(one(m, "aurumplan_active_operations", **kind) == 1 for m in live)
    assert all(m[("process_resident_memory_bytes", ())] > 10_000_000 for m in live)  # the apply's own memory
    with httpx.Client() as c:  # the endpoint went away with the apply
        try:
            c.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
            gone = False
        except httpx.TransportError:
            gone = True
    assert gone
    final = samples(run(project, "metrics")[1])
    op = json.loads(run(project, "ops", "list", "--json")[1])[0]
    rep = json.loads(run(project, "report", op["id"], "--json")[1])["figures"]
    assert requests(final, **kind) == rep["requests"] == server.requests
    assert one(final, "aurumplan_requests_total", outcome="ok", **kind) == server.requests
    assert max(requests(m, **kind) for m in live) <= rep["requests"]


def test_only_metrics_is_served_and_label_values_are_escaped() -> None:
    from aurumplan.observe.fleet import OpFigures
    from aurumplan.observe.metrics import render, serving

    op = OpFigures("x", 'Back"fill\\', "s\nrc", None, "failed", 0.0, 0.0, requests=3, failures=2,
                   duration_seconds=12.5)
    text = render([op], {"s\nrc": 1}, {"s\nrc": (3, None)})
    m = samples(text)
    assert one(m, "aurumplan_requests_total", kind='Back"fill\\', source="s\nrc", outcome="unrecorded") == 3
    assert one(m, "aurumplan_operation_duration_seconds_sum", kind='Back"fill\\', source="s\nrc") == 12.5
    with serving(lambda: text, 0) as (host, port):
        assert host == "127.0.0.1"
        assert httpx.get(f"http://{host}:{port}/other").status_code == 404
        assert httpx.get(f"http://{host}:{port}/metrics").text == text


def test_serve_exports_until_stopped(applied: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aurumplan.cli.main", "--config", str(applied / "aurumplan.yaml"),
                             "serve", "--metrics-port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        text = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not text:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                time.sleep(0.1)
        kind = {"kind": "Backfill", "source": "eia"}
        assert one(samples(text), "aurumplan_operations", status="succeeded", **kind) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_port_in_use_is_one_line(applied: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(applied, "serve", "--metrics-port", str(port))
    assert code == 1 and err.strip() == f"Error: cannot serve /metrics on 127.0.0.1:{port}: Address already in use"


def test_serve_without_anything_to_serve_is_one_line(applied: Path) -> None:
    code, _, err = run(applied, "serve")
    assert code == 1 and err.strip().startswith("Error: nothing to serve") and len(err.strip().splitlines()) == 1
