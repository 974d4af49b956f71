"""Emergency stop and source freezes (runbook section 4; docs/emergency.md).

Both are rows in the state store, so they bind every process on every host. A running apply polls
them with its status (`enforce`, called by the runner's watcher) and stops at its next checkpoint.
A stop also binds applies that start within STOP_GRACE seconds after it, so an apply that was
starting while `stop` listed the operations is not missed.
"""

from __future__ import annotations

import json
from typing import Any

from aurumplan.apply.lifecycle import discard_staged, transition, who
from aurumplan.config import Config
from aurumplan.errors import AurumError, OperationError
from aurumplan.state import Operation, SqlStateStore, open_state
from aurumplan.state.freezes import Freeze
from aurumplan.state.holders import holder

STOP_GRACE = 30.0
"""Seconds after a stop during which a newly started apply is stopped too."""


def _store(config: Config) -> SqlStateStore:
    return open_state(config.state_url, create=True)


def priority_of(op: Operation) -> str:
    """The operation's spec priority (low | normal | high), from its stored plan."""
    try:
        return str(json.loads(op.plan or "{}").get("settings", {}).get("priority") or "normal")
    except ValueError:
        return "normal"


def _resume_hint(op_id: str, status: str) -> str:
    if status == "paused":
        return f"aurumplan resume {op_id}"
    return "plan its spec again (`aurumplan apply SPEC`): that starts its next attempt"


def stop(config: Config, *, source: str | None, reason: str, cancel: bool = False,
         include_critical: bool = False) -> dict[str, Any]:
    """Pause (or cancel) every active operation, or a source's; `priority: high` ones unless include_critical.

    The stop is recorded first, then the operations are listed: an apply that registers after the
    listing finds the record at its first checkpoint. Running it twice changes nothing more.
    """
    if not reason.strip():
        raise OperationError("--reason is required: say why, it goes into the audit trail")
    with _store(config) as store:
        by = who()
        record = store.add_stop(source, reason, by, cancel=cancel, include_critical=include_critical)
        store.log_emergency("stop", source, {"reason": reason, "by": by, "cancel": cancel,
                                             "include_critical": include_critical, "stop_id": record.id})
        stopped, kept, already = [], [], []
        for op in store.list_operations(active_only=True):
            if source is not None and op.source != source:
                continue
            priority = priority_of(op)
            if not record.covers(op.source, priority):
                kept.append({"operation_id": op.id, "status": op.status, "priority": priority})
                continue
            target = "cancelled" if cancel else "paused"
            entry = {"operation_id": op.id, "source": op.source, "was": "running", "status": target,
                     "priority": priority, "resume": _resume_hint(op.id, target)}
            if op.status == target or (op.status == "paused" and not cancel) or \
                    (op.status == "planned" and not cancel):
                if _by_this_stop(store, op.id, record.id):  # its own watcher saw the record first
                    stopped.append(entry)
                else:
                    already.append({"operation_id": op.id, "status": op.status})
                continue
            alive = op.status == "running" and holder(store, op.id).alive
            try:
                transition(store, op.id, target, event="stop", reason=reason, stop_id=record.id)
            except OperationError:  # its own watcher saw the record first, or it ended meanwhile
                if _by_this_stop(store, op.id, record.id):
                    stopped.append({**entry, "was": op.status})
                else:
                    already.append({"operation_id": op.id, "status": store.get_operation(op.id).status})
                continue
            if target == "cancelled" and not alive:
                store.release_leases(op.id)
                discard_staged(config, op.id)
            stopped.append({**entry, "was": op.status})
        return {"stop_id": record.id, "source": source, "reason": reason, "by": by, "stopped": stopped,
                "kept": kept, "already": already}


def _by_this_stop(store: SqlStateStore, op_id: str, stop_id: int) -> bool:
    return any(e.kind == "stop" and e.detail.get("stop_id") == stop_id for e in store.events(op_id))


def freeze(config: Config, source: str, reason: str) -> dict[str, Any]:
    """Freeze a source for everyone: plans show conflicts, apply and resume refuse, running applies pause."""
    if not reason.strip():
        raise OperationError("--reason is required: say why, it is shown to whoever is refused")
    with _store(config) as store:
        f, made = store.freeze(source, reason, who())
        if made:
            store.log_emergency("freeze", source, {"reason": reason, "by": f.by})
        running = [op.id for op in store.list_operations(active_only=True)
                   if op.source == source and op.status == "running"]
        return {"source": source, "reason": f.reason, "by": f.by, "at": f.at, "new": made, "running": running}


def unfreeze(config: Config, source: str) -> dict[str, Any]:
    """Lift a source's freeze; paused operations stay paused until resumed."""
    with _store(config) as store:
        f = store.unfreeze(source)
        if f is None:
            raise OperationError(f"source '{source}' is not frozen")
        store.log_emergency("unfreeze", source, {"by": who(), "was": f.reason})
        paused = [op.id for op in store.list_operations(active_only=True)
                  if op.source == source and op.status == "paused"]
        return {"source": source, "lifted": f.reason, "paused": paused}


def describe(f: Freeze) -> str:
    return f"source '{f.source}' is frozen ({f.reason}; by {f.by})"


def refuse_frozen(store: SqlStateStore, source: str) -> None:
    """Raise OperationError if source is frozen in the state (apply and resume call this first)."""
    for f in store.freezes(source):
        raise OperationError(f"{describe(f)}: nothing may write to it; lift it with `aurumplan unfreeze {source}`")


def enforce(store: SqlStateStore, op_id: str, source: str, priority: str | None, started_at: float) -> str | None:
    """If a freeze or a stop binds this running operation, stop it: the status it moved to, else None.

    A stop binds it when it came after the run started, or at most STOP_GRACE seconds before, and
    no resume of the operation came after the stop.
    """
    freeze, stops = store.holds(source, started_at - STOP_GRACE)
    if freeze is not None:
        return _move(store, op_id, "paused", "freeze", reason=freeze.reason, frozen_by=freeze.by)
    binding = [s for s in stops if s.covers(source, priority)]
    if not binding:
        return None
    resumed = max((e.at for e in store.events(op_id) if e.kind == "resume"), default=0.0)
    binding = [s for s in binding if s.at > resumed]
    if not binding:
        return None
    s = binding[-1]
    return _move(store, op_id, "cancelled" if s.cancel else "paused", "stop", reason=s.reason, stop_id=s.id)


def _move(store: SqlStateStore, op_id: str, to: str, event: str, **detail: Any) -> str | None:
    try:
        transition(store, op_id, to, expect=frozenset({"running"}), event=event, **detail)
    except AurumError:
        return None
    return to
