"""The operation lifecycle: one state machine, and the commands that drive it from outside.

Every status change of an operation goes through `transition`, which refuses a change the
machine does not allow and writes it to the operation's audit trail. The machine, and what each
transition does to leases, staged loads, checkpoints and watermarks, is drawn in
docs/architecture.md ("Operation lifecycle"). `interrupted` is not stored: it is a `running`
operation whose holder is gone (killed, or its lease expired), derived by `holder`.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from aurumplan.apply.nodes import restore_watermarks
from aurumplan.config import Config
from aurumplan.errors import OperationError
from aurumplan.state import Operation, SqlStateStore, open_state
from aurumplan.state.holders import holder
from aurumplan.warehouse import Warehouse, open_warehouse

TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"running", "cancelled"}),
    "running": frozenset({"running", "paused", "failed", "halted", "cancelled", "succeeded", "rolled_back"}),
    "paused": frozenset({"running", "cancelled"}),
    "failed": frozenset({"running", "cancelled", "rolled_back"}),
    "halted": frozenset({"running", "cancelled", "rolled_back"}),
    "cancelled": frozenset({"rolled_back"}),
    "succeeded": frozenset({"rolled_back"}),
    "rolled_back": frozenset(),
}
"""status -> the statuses it may move to (running -> running: a resume takes over an interrupted run)."""

RESUMABLE = frozenset({"running", "paused", "failed", "halted"})
"""Statuses `resume` continues (running only when interrupted)."""

RETRYABLE = frozenset({"failed", "halted", "cancelled", "rolled_back"})
"""Ended without its data current: a fresh plan of the same spec starts the next attempt."""


def transition(store: SqlStateStore, op_id: str, to: str, *, expect: frozenset[str] | None = None,
               event: str | None = None, **detail: Any) -> Operation:
    """Move op_id to `to` if the machine allows it from its current status (and from one of `expect`).

    The change is conditional on the status read, so two processes racing (a pause against the
    end of a run) cannot both win; the loser gets an OperationError naming the status it met.
    """
    op = store.get_operation(op_id)
    allowed = {s for s, nxt in TRANSITIONS.items() if to in nxt}
    if expect is not None:
        allowed &= set(expect)
    if op.status not in allowed:
        raise OperationError(f"operation {op_id} is {op.status}; it cannot become {to}")
    return store.update_operation(op_id, status=to, expect_status=op.status,
                                  event=(event or to, {"from": op.status, "to": to, "by": who(), **detail}))


def who() -> str:
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _store(config: Config) -> SqlStateStore:
    return open_state(config.state_url, create=True)


def pause(config: Config, op_id: str) -> str:
    """running -> paused. A live apply stops at its next checkpoint and keeps its leases."""
    with _store(config) as store:
        op = store.get_operation(op_id)
        if op.status != "running":
            raise OperationError(f"operation {op_id} is {op.status}; only a running operation can be paused")
        alive = holder(store, op_id).alive
        transition(store, op_id, "paused", expect=frozenset({"running"}))
        if alive:
            return "pause requested: in-flight requests finish, then it stops at a checkpoint and keeps its leases"
        return "paused (its process was not running); its ranges stay leased until you resume or cancel it"


def cancel(config: Config, op_id: str, force: bool = False) -> dict[str, Any]:
    """-> cancelled: stop the operation and discard its uncommitted staged versions (no failure log)."""
    with _store(config) as store:
        op = store.get_operation(op_id)
        if "cancelled" not in TRANSITIONS.get(op.status, frozenset()):
            raise OperationError(f"operation {op_id} is {op.status}; use `aurumplan rollback {op_id}` to undo "
                                 "committed data")
        alive = op.status == "running" and holder(store, op_id).alive
        transition(store, op_id, "cancelled", force=force)
        if alive and not force:
            return {"operation_id": op_id, "discarded_loads": 0,
                    "message": "cancel requested: the running apply stops and discards its staged data"}
        store.release_leases(op_id)  # with --force a still-running process is fenced out from here on
        discarded = discard_staged(config, op_id)
        return {"operation_id": op_id, "discarded_loads": discarded, "message": "cancelled; uncommitted data discarded"}


def discard_staged(config: Config, op_id: str) -> int:
    """Drop every staged (uncommitted) load of the operation; committed ones stay (rollback undoes them).

    A commit cut short between its warehouse switch and its watermarks (killed, or fenced out by
    `cancel --force`) is undone first, warehouse and watermarks both back to its snapshot, so a
    cancelled operation leaves the two in agreement (docs/architecture.md, "Operation lifecycle").
    """
    with open_warehouse(config.warehouse_url) as warehouse, open_state(config.state_url, create=True) as store:
        undo_cut_short_commits(store, warehouse, op_id)
        n = 0
        for load in warehouse.loads_for_operation(op_id):
            if load.status == "staged":
                warehouse.discard_staged(load.load_id)
                n += 1
    return n


def undo_cut_short_commits(store: SqlStateStore, warehouse: Warehouse, op_id: str) -> int:
    """Roll back the warehouse switch of every commit the operation began and did not finish; returns loads."""
    source = store.get_operation(op_id).source
    undone = 0
    for cp in store.checkpoints(op_id):
        pending = (cp.detail or {}).get("pending") if cp.node_id.endswith("/commit") else None
        if not pending:
            continue
        switched = [lid for lid in pending.get("loads") or []
                    if (load := warehouse.load(lid)) is not None and load.status == "committed"]
        if switched:
            warehouse.rollback(switched)
            undone += len(switched)
        restore_watermarks(store, source, cp.node_id.rsplit("/", 1)[0], pending.get("replaced") or {})
        store.upsert_checkpoint(op_id, cp.node_id, status="partial" if (cp.detail or {}).get("commits") else "failed",
                                detail={"commits": (cp.detail or {}).get("commits") or []})
        store.add_event(op_id, "commit-undone", {"node": cp.node_id, "loads": switched})
    return undone


def unlock_operation(config: Config, op_id: str) -> dict[str, Any]:
    """Break every lease of a dead operation at once (`state unlock --operation`)."""
    with _store(config) as store:
        op = store.get_operation(op_id)
        h = holder(store, op_id)
        if h.alive:
            raise OperationError(f"operation {op_id} is held by a live process (host {h.host}, pid {h.pid}): "
                                 f"pause or cancel it instead")
        n = store.break_leases_of(op_id)
        store.add_event(op_id, "unlock", {"leases": n, "status": op.status, "by": who()})
        return {"operation_id": op_id, "leases_broken": n, "status": op.status}


def lineage(store: SqlStateStore, op: Operation) -> list[Operation]:
    """Every attempt of op's spec, first attempt first (attempt n links to the first by parent_id)."""
    first = op.parent_id if op.parent_id and op.kind != "Rollback" else op.id
    return [o for o in store.list_operations() if o.id == first or (o.parent_id == first and o.kind != "Rollback")]
