"""Structured log records of what an apply, resume or rollback did, and the per-operation action log
(`<logs>/actions_<op>.jsonl`) that `aurumplan logs OP` reads back (docs/operations.md#logs).

One record is one JSON object: ts (UTC, ISO 8601), level, op_id, node, event, fields. The same
records go to stderr with `--log-format json`. Known secret values (the source's API key) are
replaced by "***" wherever they appear, so neither a log line nor the file can carry one.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aurumplan.errors import AurumError

Hook = Callable[[str, dict[str, Any]], None]
SKIPPED = frozenset(("progress",))  # per-batch record counts: the node events already carry them
MASK = "***"


def level_of(event: str, data: dict[str, Any]) -> str:
    if event == "error" or (event == "node" and data.get("status") == "failed"):
        return "error"
    if event == "interrupt" or (event == "finished" and data.get("status") not in ("succeeded", None)):
        return "warning"
    return "info"


def _masked(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, MASK)
        return value
    if isinstance(value, dict):
        return {k: _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v, secrets) for v in value]
    return value


def record(op_id: str, event: str, data: dict[str, Any], secrets: Iterable[str] = (),
           at: dt.datetime | None = None) -> dict[str, Any]:
    """One log record of an applier event."""
    keep = tuple(s for s in secrets if s)
    fields = {k: v for k, v in data.items() if k not in ("node", "operation_id")}
    ts = (at or dt.datetime.now(dt.UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"ts": ts, "level": level_of(event, data), "op_id": op_id, "node": data.get("node"), "event": event,
            "fields": _masked(fields, keep)}


def line(rec: dict[str, Any]) -> str:
    """The record as one JSON line (sorted keys)."""
    return json.dumps(rec, sort_keys=True, default=str, separators=(",", ":"))


def human(rec: dict[str, Any]) -> str:
    """The record as a person reads it: time, level, event, node, then key=value fields."""
    f = rec.get("fields") or {}
    figures = " ".join(f"{k}={v}" for k, v in sorted(f.items()) if not isinstance(v, dict | list) or v)
    node = f" {rec['node']}" if rec.get("node") else ""
    return f"{rec['ts']} {rec['level'].upper():7} {rec['event']}{node}" + (f" {figures}" if figures else "")


def path_of(logs: str | Path, op_id: str) -> Path:
    return Path(logs) / f"actions_{op_id}.jsonl"


class ActionLog:
    """Appends records of one operation to its action log, from every worker thread."""

    def __init__(self, logs: str | Path, op_id: str, secrets: Iterable[str] = ()) -> None:
        self.op_id = op_id
        self.secrets = tuple(s for s in secrets if s)
        self.path = path_of(logs, op_id)
        self._lock = threading.Lock()

    def write(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        rec = record(self.op_id, event, data, self.secrets)
        if event not in SKIPPED:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line(rec) + "\n")
        return rec

    def wrap(self, hook: Hook | None) -> Hook:
        """A hook that logs each event, then passes it on (secrets masked) with the operation id."""

        def both(event: str, data: dict[str, Any]) -> None:
            self.write(event, data)
            if hook is not None:
                hook(event, {**_masked(data, self.secrets), "operation_id": self.op_id})

        return both


def read(logs: str | Path, op_id: str) -> list[dict[str, Any]]:
    """The operation's action log, oldest first."""
    p = path_of(logs, op_id)
    if not p.exists():
        raise AurumError(f"no action log for operation {op_id} in {logs}",
                         hint="action logs are written by apply, resume and rollback since this version; "
                              "`aurumplan report OP` has the figures")
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
