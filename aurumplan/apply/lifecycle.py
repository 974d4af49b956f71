"""pause, resume, cancel and status: the operation's status row is the control channel.

A running applier polls its operation's status; `pause` and `cancel` change it, and the
applier stops at its next checkpoint (in-flight requests finish). When the applier is gone
(killed), `resume` continues from the checkpoints and `cancel --force` cleans up directly.
"""

from __future__ import annotations

import time
from typing import Any

from aurumplan.catalog import Catalog
from aurumplan.config import Config
from aurumplan.errors import OperationError
from aurumplan.intervals import Grain, IntervalSet
from aurumplan.state import SqlStateStore, open_state
from aurumplan.warehouse import open_warehouse


def _store(config: Config) -> SqlStateStore:
    return open_state(config.state_url, create=True)


def _holder_alive(store: SqlStateStore, op_id: str) -> bool:
    return any(lease.operation_id == op_id for lease in store.leases(active_only=True))


def pause(config: Config, op_id: str) -> str:
    store = _store(config)
    op = store.get_operation(op_id)
    if op.status != "running":
        raise OperationError(f"operation {op_id} is {op.status}; only a running operation can be paused")
    store.update_operation(op_id, status="paused")
    if _holder_alive(store, op_id):
        return "pause requested: in-flight requests finish, then it stops at a checkpoint"
    return "paused (its process was not running)"


def cancel(config: Config, op_id: str, force: bool = False) -> dict[str, Any]:
    """Stop the operation and discard its uncommitted staged versions."""
    store = _store(config)
    op = store.get_operation(op_id)
    if op.status in ("succeeded", "rolled_back", "cancelled"):
        raise OperationError(f"operation {op_id} is {op.status}; use `aurumplan rollback {op_id}` to undo "
                             "committed data")
    alive = _holder_alive(store, op_id)
    store.update_operation(op_id, status="cancelled")
    if alive and not force:
        return {"operation_id": op_id, "discarded_loads": 0,
                "message": "cancel requested: the running apply stops and discards its staged data"}
    if alive and force:
        for lease in store.leases(active_only=True):
            if lease.operation_id == op_id:
                store.break_lease(lease.id)
    warehouse = open_warehouse(config.warehouse_url)
    discarded = 0
    for load in warehouse.loads_for_operation(op_id):
        if load.status == "staged":
            warehouse.discard_staged(load.load_id)
            discarded += 1
    store.release_leases(op_id)
    return {"operation_id": op_id, "discarded_loads": discarded, "message": "cancelled; uncommitted data discarded"}


def status(config: Config, catalog: Catalog, op_id: str) -> dict[str, Any]:
    """Progress figures: nodes done/total, periods, records, requests, throttles, errors, rate, ETA."""
    store = _store(config)
    op = store.get_operation(op_id)
    import json

    plan = json.loads(op.plan) if op.plan else {"graph": {"nodes": []}, "summary": {}, "estimates": {}}
    nodes = {n["id"]: n for n in plan["graph"]["nodes"]}
    cps = {c.node_id: c for c in store.checkpoints(op_id)}
    by_status: dict[str, int] = {}
    requests = records = 0
    throttles = retries = 0
    errors = []
    periods_done = 0
    first_start = None
    src = catalog.sources.get(op.source)
    for nid, n in nodes.items():
        cp = cps.get(nid)
        st = cp.status if cp else "pending"
        by_status[st] = by_status.get(st, 0) + 1
        if cp is None:
            continue
        requests += cp.requests
        records += cp.records
        throttles += int((cp.detail or {}).get("throttles", 0))
        retries += int((cp.detail or {}).get("retries", 0))
        if cp.error:
            errors.append(f"{nid}: {cp.error}")
        if cp.started_at:
            first_start = cp.started_at if first_start is None else min(first_start, cp.started_at)
        if n["kind"] == "extract" and st in ("staged", "committed") and src is not None:
            s, e = IntervalSet.from_json([n["window"]]).span or (0, 0)
            periods_done += Grain(src.datasets[n["dataset"]].grain).count(s, e) * len(n["series"])
    total_extract = sum(1 for n in nodes.values() if n["kind"] == "extract")
    done_extract = sum(1 for nid, n in nodes.items() if n["kind"] == "extract"
                       and cps.get(nid) is not None and cps[nid].status in ("staged", "committed"))
    elapsed = (time.time() - first_start) if first_start and op.status == "running" else None
    rate = requests / elapsed if elapsed else None
    eta = (total_extract - done_extract) / (done_extract / elapsed) if elapsed and done_extract else None
    return {"id": op.id, "kind": op.kind, "source": op.source, "status": op.status, "reason": op.reason,
            "owner": op.owner, "labels": op.labels, "created_at": op.created_at, "updated_at": op.updated_at,
            "nodes": {"total": len(nodes), "done": by_status.get("committed", 0) + by_status.get("staged", 0)
                      + by_status.get("skipped", 0), "by_status": by_status},
            "periods": {"planned": (plan.get("summary") or {}).get("create", 0)
                        + (plan.get("summary") or {}).get("replace", 0), "done": periods_done},
            "records": records, "requests": requests, "throttles": throttles, "retries": retries,
            "errors": errors[:20], "rate_per_second": round(rate, 3) if rate else None,
            "eta_seconds": round(eta, 1) if eta else None, "summary": op.summary, "parent_id": op.parent_id}


def ops_list(config: Config, active_only: bool = False) -> list[dict[str, Any]]:
    store = _store(config)
    return [{"id": o.id, "kind": o.kind, "source": o.source, "status": o.status, "created_at": o.created_at,
             "updated_at": o.updated_at, "reason": o.reason, "owner": o.owner, "labels": o.labels,
             "parent_id": o.parent_id} for o in store.list_operations(active_only=active_only)]
