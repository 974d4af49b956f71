"""Alert rules over the state, sent to Slack, PagerDuty, a JSON webhook or email (docs/operations.md#alerts).

`serve --alerts` calls Alerter.evaluate every interval. A condition fires once per (rule, subject)
(de-duplication), is sent again every repeat_minutes while it holds, goes to escalate_to channels
after escalate_after_minutes, and sends a resolve message when it stops holding. Sending retries
with backoff and never raises: a failed send is reported as a line. Webhook URLs, routing keys and
SMTP passwords are read from the environment variables the config names, and never printed.
"""

from __future__ import annotations

import os
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

import httpx

from aurumplan.config import AlertChannel, AlertRule, AlertsConfig
from aurumplan.errors import AurumError
from aurumplan.intervals import fmt_ts
from aurumplan.observe.fleet import OpFigures
from aurumplan.observe.reports import ENDED, FAILED

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PD_SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}
SEND_TIMEOUT = 5.0
ATTEMPTS = 3
BACKOFF = 0.5


class SendError(AurumError):
    """A channel could not be reached or refused the message; the text holds no secret."""


@dataclass(frozen=True)
class Snapshot:
    """What the rules read: every operation's figures, and (used, daily cap) per source."""

    ops: list[OpFigures]
    quota: dict[str, tuple[int, int | None]]
    now: float
    newest: dict[tuple[str, str], int] = field(default_factory=dict)
    """(source, dataset) -> end of its newest committed period."""


@dataclass(frozen=True)
class Alert:
    rule: str
    subject: str
    summary: str
    severity: str
    source: str | None = None

    @property
    def key(self) -> str:
        return f"{self.rule}/{self.subject}"


def _env(name: str | None, what: str) -> str:
    value = os.environ.get(name or "")
    if not name or not value:
        raise SendError(f"{what}: environment variable {name or '(none named)'} is not set")
    return value


def firing(rule: AlertRule, snap: Snapshot, already: set[str]) -> list[Alert]:
    """The alerts a rule raises now; `already` (keys firing before) keeps a status alert on until it changes."""
    ops = [o for o in snap.ops if rule.source is None or o.source == rule.source]
    out: list[Alert] = []
    if rule.when == "status":
        recent = snap.now - rule.window_minutes * 60
        for o in ops:
            a = Alert(rule.name, o.id, f"{o.kind} {o.id} on {o.source} is {o.status}"
                      + (f": {o.errors[0]}" if o.errors else ""), rule.severity, o.source)
            if o.status in rule.statuses and (o.updated_at >= recent or a.key in already):
                out.append(a)
    elif rule.when == "interrupted":
        for o in ops:
            minutes = (snap.now - o.updated_at) / 60
            if o.status == "interrupted" and minutes > rule.minutes:
                out.append(Alert(rule.name, o.id, f"{o.kind} {o.id} on {o.source} has been interrupted for "
                                 f"{minutes:.0f} minutes: resume it with `aurumplan resume {o.id}`",
                                 rule.severity, o.source))
    elif rule.when == "duration":
        for o in ops:
            if o.status == "running" and o.duration_seconds > rule.minutes * 60:
                out.append(Alert(rule.name, o.id, f"{o.kind} {o.id} on {o.source} has been running for "
                                 f"{o.duration_seconds / 60:.0f} minutes (limit {rule.minutes:g})", rule.severity,
                                 o.source))
    elif rule.when == "error_rate":
        since = snap.now - rule.window_minutes * 60
        for source in sorted({o.source for o in ops}):
            ended = [o for o in ops if o.source == source and o.status in ENDED and o.updated_at >= since]
            bad = sum(o.status in FAILED for o in ended)
            if ended and bad / len(ended) > rule.threshold:
                out.append(Alert(rule.name, source, f"{bad} of {len(ended)} operations on {source} failed in the "
                                 f"last {rule.window_minutes:g} minutes (error rate {bad / len(ended):.0%}, "
                                 f"threshold {rule.threshold:.0%})", rule.severity, source))
    elif rule.when == "quota":
        for source, (used, cap) in sorted(snap.quota.items()):
            if cap and (rule.source is None or source == rule.source) and used / cap >= rule.threshold:
                out.append(Alert(rule.name, source, f"{source} has used {used} of its {cap} daily requests "
                                 f"({used / cap:.0%}, threshold {rule.threshold:.0%})", rule.severity, source))
    elif rule.when == "freshness":
        for (source, dataset), end in sorted(snap.newest.items()):
            age = (snap.now - end) / 60
            if (rule.source is None or source == rule.source) and age > rule.minutes:
                out.append(Alert(rule.name, f"{source}/{dataset}", f"{source} {dataset} has no data after "
                                 f"{fmt_ts(end)}: {age / 60:.1f} hours old (limit {rule.minutes / 60:g} hours)",
                                 rule.severity, source))
    return out


def text(alert: Alert, action: str, escalated: bool = False) -> str:
    """The one-line message: Slack text, mail subject, PagerDuty summary."""
    head = {"trigger": "FIRING", "resolve": "RESOLVED", "test": "TEST"}[action]
    return f"[aurumplan {head}{' ESCALATED' if escalated else ''}] {alert.rule}: {alert.summary}"


def payload(channel: AlertChannel, alert: Alert, action: str, escalated: bool = False) -> dict[str, Any]:
    """The JSON body a channel gets; action is trigger, resolve or test."""
    head = {"trigger": "FIRING", "resolve": "RESOLVED", "test": "TEST"}[action]
    line = text(alert, action, escalated)
    if channel.type == "slack":
        return {"text": line}
    if channel.type == "pagerduty":
        body: dict[str, Any] = {"routing_key": _env(channel.routing_key_env, "pagerduty routing key"),
                                "event_action": "resolve" if action == "resolve" else "trigger",
                                "dedup_key": f"aurumplan/{alert.key}"}
        if action != "resolve":
            body["payload"] = {"summary": line[:1024], "source": socket.gethostname(),
                               "severity": PD_SEVERITY[alert.severity], "component": alert.source or "aurumplan",
                               "group": "aurumplan", "class": alert.rule,
                               "custom_details": {"rule": alert.rule, "subject": alert.subject}}
        return body
    return {"status": head.lower(), "escalated": escalated, "rule": alert.rule, "subject": alert.subject,
            "severity": alert.severity, "source": alert.source, "summary": alert.summary, "text": line}


def _post(url: str, body: dict[str, Any], sleep: Callable[[float], None]) -> None:
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            r = httpx.post(url, json=body, timeout=SEND_TIMEOUT)
            if r.status_code < 300:
                return
            last = f"HTTP {r.status_code}"
            if r.status_code < 500 and r.status_code != 429:
                break
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if attempt < ATTEMPTS - 1:
            sleep(BACKOFF * 2 ** attempt)
    raise SendError(f"not delivered after retries ({last})")


def _mail(channel: AlertChannel, line: str) -> None:
    if not channel.mail_to:
        raise SendError("email channel has no mail_to")
    msg = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    msg["From"] = channel.mail_from
    msg["To"] = ", ".join(channel.mail_to)
    msg["Subject"] = line[:200]
    msg.set_content(line + "\n")
    try:
        with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=SEND_TIMEOUT) as smtp:
            if channel.starttls:
                smtp.starttls()
            if channel.smtp_user:
                smtp.login(channel.smtp_user, _env(channel.smtp_password_env, "smtp password"))
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"SMTP {channel.smtp_host}:{channel.smtp_port}: {type(exc).__name__}") from None


def send(channel: AlertChannel, alert: Alert, action: str, escalated: bool = False,
         sleep: Callable[[float], None] = time.sleep) -> None:
    """Deliver one message; SendError (with no secret in it) when it could not be."""
    if channel.type == "email":
        _mail(channel, text(alert, action, escalated))
    elif channel.type == "pagerduty":
        _post(channel.url or PAGERDUTY_URL, payload(channel, alert, action, escalated), sleep)
    else:
        _post(_env(channel.url_env, f"{channel.type} webhook URL"), payload(channel, alert, action, escalated), sleep)


@dataclass
class _Firing:
    alert: Alert
    first_at: float
    sent_at: float
    escalated: bool = False
    notified: set[str] = field(default_factory=set)


class Alerter:
    """Evaluates the rules against snapshots and remembers what fires (de-duplication, repeats, escalation)."""

    def __init__(self, config: AlertsConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.sleep = sleep
        self.active: dict[str, _Firing] = {}

    def _deliver(self, names: list[str], alert: Alert, action: str, escalated: bool, log: list[str]) -> set[str]:
        done = set()
        for name in names:
            channel = self.config.channels.get(name)
            if channel is None:
                log.append(f"alert {alert.key}: no channel named '{name}' in alerts.channels")
                continue
            try:
                send(channel, alert, action, escalated, self.sleep)
                done.add(name)
                log.append(f"alert {alert.key}: {action} sent to {name}")
            except SendError as exc:
                log.append(f"alert {alert.key}: {action} to {name} failed: {exc}")
        return done

    def evaluate(self, snap: Snapshot) -> list[str]:
        """Send what is new, due again, due for escalation or resolved; one line per send."""
        log: list[str] = []
        now = snap.now
        seen: set[str] = set()
        for rule in self.config.rules:
            for alert in firing(rule, snap, set(self.active)):
                seen.add(alert.key)
                f = self.active.get(alert.key)
                if f is None:
                    f = _Firing(alert, now, now)
                    f.notified = self._deliver(rule.channels, alert, "trigger", False, log)
                    self.active[alert.key] = f
                    continue
                f.alert = alert
                if rule.repeat_minutes is not None and now - f.sent_at >= rule.repeat_minutes * 60:
                    names = rule.channels + (rule.escalate_to if f.escalated else [])
                    f.notified |= self._deliver(names, alert, "trigger", f.escalated, log)
                    f.sent_at = now
                if (rule.escalate_after_minutes is not None and not f.escalated
                        and now - f.first_at >= rule.escalate_after_minutes * 60):
                    f.escalated = True
                    f.notified |= self._deliver(rule.escalate_to or rule.channels, alert, "trigger", True, log)
                    f.sent_at = now
        for key in [k for k in self.active if k not in seen]:
            f = self.active.pop(key)
            self._deliver(sorted(f.notified), f.alert, "resolve", f.escalated, log)
        return log


def send_test(config: AlertsConfig, channel: str) -> Alert:
    """Send a test notification to one channel; SendError if it fails or is unknown."""
    ch = config.channels.get(channel)
    if ch is None:
        known = ", ".join(sorted(config.channels)) or "none configured"
        raise SendError(f"no channel named '{channel}' in alerts.channels (known: {known})")
    alert = Alert("test", "aurumplan", "a test notification from `aurumplan alerts test`", "info")
    send(ch, alert, "test")
    return alert
