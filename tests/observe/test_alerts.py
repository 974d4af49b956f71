"""Alerts against local receivers: a loopback HTTP server for Slack/PagerDuty/webhooks, aiosmtpd for mail."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from aurumplan import api
from aurumplan.config import AlertsConfig
from aurumplan.observe.alerts import Alerter, Snapshot, firing
from aurumplan.observe.fleet import OpFigures
from aurumplan.state import open_state
from tests.apply.common import run
from tests.observe.conftest import free_port

SECRET = "T000/B000/very-secret-path"


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.headers["Content-Type"] == "application/json"
        self.server.got.append((self.path, json.loads(body)))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    srv = Receiver()
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    yield box, port
    ctl.stop()


def alerts_yaml(receiver: Receiver, smtp_port: int) -> str:
    return f"""alerts:
  channels:
    slack: {{type: slack, url_env: SLACK_URL}}
    pd: {{type: pagerduty, url: '{receiver.url}/v2/enqueue', routing_key_env: PD_KEY}}
    hook: {{type: webhook, url_env: HOOK_URL}}
    mail: {{type: email, smtp_host: 127.0.0.1, smtp_port: {smtp_port}, mail_to: [oncall@example.test]}}
  rules:
    - {{name: failed, when: status, channels: [slack, pd], severity: critical, repeat_minutes: 30,
       escalate_after_minutes: 45, escalate_to: [mail]}}
    - {{name: stuck, when: interrupted, minutes: 10, channels: [hook]}}
    - {{name: errors, when: error_rate, threshold: 0.4, window_minutes: 60, channels: [hook]}}
    - {{name: quota, when: quota, threshold: 0.9, channels: [hook]}}
    - {{name: long, when: duration, minutes: 60, channels: [hook]}}
    - {{name: stale, when: freshness, minutes: 2880, source: eia, channels: [hook]}}
"""


@pytest.fixture()
def project(tmp_path: Path, receiver: Receiver, mailbox: tuple[Mailbox, int],
            monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLACK_URL", f"{receiver.url}/services/{SECRET}")
    monkeypatch.setenv("HOOK_URL", f"{receiver.url}/hook")
    monkeypatch.setenv("PD_KEY", "pd-routing-key-123")
    (tmp_path / "aurumplan.yaml").write_text(f"state: 'sqlite:///{tmp_path}/s.db'\n"
                                             + alerts_yaml(receiver, mailbox[1]))
    return tmp_path


def op(op_id: str, status: str, updated: float, source: str = "eia") -> OpFigures:
    return OpFigures(op_id, "Backfill", source, None, status, updated - 100, updated, errors=["n1: HTTP 500"])


def config(project: Path) -> AlertsConfig:
    return api.context(project / "aurumplan.yaml").config.alerts


@pytest.mark.parametrize("channel", ["slack", "pd", "hook", "mail"])
def test_alerts_test_sends_to_each_channel(project: Path, receiver: Receiver, mailbox: tuple[Mailbox, int],
                                           channel: str) -> None:
    code, out, err = run(project, "alerts", "test", "--channel", channel)
    assert code == 0, err
    assert out.strip() == f"Sent a test notification to {channel}." and SECRET not in out + err
    if channel == "mail":
        [(to, msg)] = mailbox[0].messages
        assert to == ["oncall@example.test"] and msg["Subject"].startswith("[aurumplan TEST] test:")
        return
    [(path, body)] = receiver.got
    if channel == "slack":
        assert path == f"/services/{SECRET}" and body == {"text": body["text"]}
        assert body["text"].startswith("[aurumplan TEST] test:")
    elif channel == "pd":  # Events API v2: routing_key, event_action, dedup_key, payload{summary,source,severity}
        assert path == "/v2/enqueue" and body["routing_key"] == "pd-routing-key-123"
        assert body["event_action"] == "trigger" and body["dedup_key"] == "aurumplan/test/aurumplan"
        assert set(body["payload"]) >= {"summary", "source", "severity"}
        assert body["payload"]["severity"] in ("critical", "error", "warning", "info")
    else:
        assert path == "/hook" and body["status"] == "test" and body["rule"] == "test"


def test_unknown_channel_and_unset_secret_are_one_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(project, "alerts", "test", "--channel", "sms")
    assert code == 1 and err.strip() == ("Error: no channel named 'sms' in alerts.channels "
                                         "(known: hook, mail, pd, slack)")
    monkeypatch.delenv("SLACK_URL")
    code, _, err = run(project, "alerts", "test", "--channel", "slack")
    assert code == 1 and err.strip() == "Error: slack webhook URL: environment variable SLACK_URL is not set"


def test_dedup_repeat_escalation_and_resolve(project: Path, receiver: Receiver, mailbox: tuple[Mailbox, int]) -> None:
    cfg = config(project)
    alerter = Alerter(cfg.model_copy(update={"rules": cfg.rules[:1]}), sleep=lambda s: None)
    t0 = 1_000_000.0
    failed = [op("OP1", "failed", t0)]
    log = alerter.evaluate(Snapshot(failed, {}, t0))
    assert log == ["alert failed/OP1: trigger sent to slack", "alert failed/OP1: trigger sent to pd"]
    assert receiver.got[0][1]["text"] == "[aurumplan FIRING] failed: Backfill OP1 on eia is failed: n1: HTTP 500"
    pd = receiver.got[1][1]
    assert pd["event_action"] == "trigger" and pd["dedup_key"] == "aurumplan/failed/OP1"
    assert pd["payload"]["severity"] == "critical"
    assert alerter.evaluate(Snapshot(failed, {}, t0 + 60)) == []  # de-duplicated
    assert len(alerter.evaluate(Snapshot(failed, {}, t0 + 30 * 60))) == 2  # repeated every 30 minutes
    log = alerter.evaluate(Snapshot(failed, {}, t0 + 45 * 60))
    assert log == ["alert failed/OP1: trigger sent to mail"]
    assert mailbox[0].messages[-1][1]["Subject"].startswith("[aurumplan FIRING ESCALATED] failed:")
    n = len(receiver.got)
    log = alerter.evaluate(Snapshot([op("OP1", "running", t0 + 50 * 60)], {}, t0 + 50 * 60))
    assert log == [f"alert failed/OP1: resolve sent to {c}" for c in ("mail", "pd", "slack")]
    resolved = {p: b for p, b in receiver.got[n:]}
    assert resolved["/v2/enqueue"] == {"routing_key": "pd-routing-key-123", "event_action": "resolve",
                                       "dedup_key": "aurumplan/failed/OP1"}
    assert resolved[f"/services/{SECRET}"]["text"].startswith("[aurumplan RESOLVED ESCALATED] failed:")


def test_an_old_failure_does_not_page_on_start(project: Path) -> None:
    rule = config(project).rules[0]
    assert firing(rule, Snapshot([op("OLD", "failed", 0.0)], {}, 10_000_000.0), set()) == []


def test_interrupted_error_rate_quota_and_freshness_rules(project: Path) -> None:
    rules = {r.name: r for r in config(project).rules}
    now = 1_000_000.0
    snap = Snapshot([op("I1", "interrupted", now - 11 * 60), op("I2", "interrupted", now - 5 * 60),
                     op("A", "failed", now - 60), op("B", "succeeded", now - 60), op("C", "halted", now - 120),
                     op("D", "failed", now - 2 * 3600), op("F", "succeeded", now, source="fred")],
                    {"eia": (4500, 5000), "fred": (10, 100), "bls": (5, None)}, now)
    assert [a.subject for a in firing(rules["stuck"], snap, set())] == ["I1"]
    [err] = firing(rules["errors"], snap, set())
    assert err.subject == "eia" and "2 of 3 operations on eia failed" in err.summary
    [q] = firing(rules["quota"], snap, set())
    assert q.subject == "eia" and q.summary == "eia has used 4500 of its 5000 daily requests (90%, threshold 90%)"
    slow = OpFigures("S1", "Backfill", "eia", None, "running", now - 7200, now, duration_seconds=3700)
    quick = OpFigures("S2", "Backfill", "eia", None, "running", now - 60, now, duration_seconds=60)
    [long] = firing(rules["long"], Snapshot([slow, quick], {}, now), set())
    assert long.summary == "Backfill S1 on eia has been running for 62 minutes (limit 60)"
    day = 86400
    newest = {("eia", "ELEC.DEMAND"): 100 * day, ("eia", "NG.PRICE"): 102 * day, ("fred", "GDP"): 0}
    [stale] = firing(rules["stale"], Snapshot([], {}, 102.5 * day, newest), set())
    assert stale.subject == "eia/ELEC.DEMAND"  # 2.5 days old; NG.PRICE is fresh, fred is not watched
    assert stale.summary == "eia ELEC.DEMAND has no data after 1970-04-11T00:00Z: 60.0 hours old (limit 48 hours)"


def test_a_receiver_that_is_down_is_reported_not_raised(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_URL", f"http://127.0.0.1:{free_port()}/x/{SECRET}")
    slept: list[float] = []
    cfg = config(project)
    alerter = Alerter(cfg.model_copy(update={"rules": cfg.rules[:1]}), sleep=slept.append)
    log = alerter.evaluate(Snapshot([op("OP1", "failed", 1e6)], {}, 1e6))
    assert log[0] == "alert failed/OP1: trigger to slack failed: not delivered after retries (ConnectError)"
    assert slept == [0.5, 1.0] and all(SECRET not in line for line in log)
    assert log[1] == "alert failed/OP1: trigger sent to pd"


def test_evaluated_against_the_state(project: Path, receiver: Receiver) -> None:
    store = open_state(f"sqlite:///{project}/s.db")
    store.create_operation("R1", "Replay", "eia")
    store.update_operation("R1", status="halted", summary={"requests": 3, "failures": ["n2: quality 0.2"]})
    store.close()
    ctx = api.context(project / "aurumplan.yaml")
    evaluator = api.alerter(ctx)
    lines = api.alerts_evaluate(ctx, evaluator)
    assert "alert failed/R1: trigger sent to slack" in lines and "alert errors/eia: trigger sent to hook" in lines
    assert any(b.get("text", "").endswith("Replay R1 on eia is halted: n2: quality 0.2") for _, b in receiver.got)
    assert api.alerts_evaluate(ctx, evaluator) == []


def test_serve_alerts_sends_from_a_long_running_process(project: Path, receiver: Receiver) -> None:
    store = open_state(f"sqlite:///{project}/s.db")
    store.create_operation("F1", "Backfill", "eia")
    store.update_operation("F1", status="failed", summary={"requests": 1, "failures": ["n1: boom"]})
    store.close()
    proc = subprocess.Popen([sys.executable, "-m", "aurumplan.cli.main", "--config", str(project / "aurumplan.yaml"),
                             "serve", "--alerts", "--interval", "0.2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(receiver.got) < 2:
            time.sleep(0.1)
        time.sleep(1.0)  # a few more evaluations, and time to print what was sent
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert {p for p, _ in receiver.got} >= {f"/services/{SECRET}", "/v2/enqueue"}
    assert b"alert failed/F1: trigger sent to slack" in err and SECRET.encode() not in err
    assert sum(p == "/v2/enqueue" for p, _ in receiver.got) == 1  # once, not every 0.2 s
