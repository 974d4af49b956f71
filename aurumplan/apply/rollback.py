"""Rollback: a reverse plan that restores what an operation replaced and removes what it created.

The warehouse switch is one transaction (its loads go inactive and the versions they
displaced come back); the watermarks are then restored from the snapshots each commit saved.
The rollback is itself an operation with a deterministic id, so a crash mid-way is finished
by running the same rollback again.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from aurumplan.apply import nodes as N
from aurumplan.apply.quality_gate import check_current
from aurumplan.catalog import Catalog
from aurumplan.config import Config
from aurumplan.errors import OperationError
from aurumplan.intervals import IntervalSet
from aurumplan.state import SqlStateStore, open_state
from aurumplan.warehouse import open_warehouse


def rollback_id(target: str) -> str:
    """ROLLBACK_<day and source of the target>_<hash>: the same target always gives the same id."""
    parts = target.split("_")
    day, source, short = (parts[1], parts[2], parts[3]) if len(parts) >= 4 else ("00000000", "OP", target[-6:])
    return f"ROLLBACK_{day}_{source}_{short}"


def _commits(store: SqlStateStore, op_id: str) -> list[Any]:
    """The target's commit checkpoints, newest first (reverse order of commit)."""
    cps = [c for c in store.checkpoints(op_id) if c.node_id.endswith("/commit") and c.status == "committed"]
    return sorted(cps, key=lambda c: (c.finished_at or 0, c.node_id), reverse=True)


def rollback_plan(config: Config, catalog: Catalog, op_id: str) -> dict[str, Any]:
    """What a rollback would do, for review: per dataset the loads it deactivates and what comes back."""
    store = open_state(config.state_url, create=True)
    target = store.get_operation(op_id)
    if target.status == "rolled_back":
        raise OperationError(f"operation {op_id} is already rolled back")
    if target.status in ("running", "planned"):
        raise OperationError(f"operation {op_id} is {target.status}: pause or cancel it before rolling back")
    datasets = []
    for cp in _commits(store, op_id):
        replaced = (cp.detail or {}).get("replaced", {})
        restores = sorted({h[2] for snap in replaced.values() for h in snap["held"]})
        where = IntervalSet()
        for snap in replaced.values():
            where = where | IntervalSet.from_json(snap["where"])
        datasets.append({"dataset": cp.node_id.rsplit("/", 1)[0], "loads": (cp.detail or {}).get("loads", []),
                         "series": sorted(replaced), "intervals": where.to_json(), "restores": restores})
    return {"operation_id": rollback_id(op_id), "target": op_id, "source": target.source, "kind": target.kind,
            "datasets": datasets}


def rollback_operation(config: Config, catalog: Catalog, op_id: str, *, mode: str = "controlled",
                       auto: bool = False) -> dict[str, Any]:
    """Undo op_id exactly; returns the rollback's summary."""
    plan = rollback_plan(config, catalog, op_id)
    store = open_state(config.state_url, create=True)
    warehouse = open_warehouse(config.warehouse_url)
    target = store.get_operation(op_id)
    source = catalog.source(target.source)
    rb_id = plan["operation_id"]
    if store.find_operation(rb_id) is None:
        store.create_operation(rb_id, "Rollback", target.source, status="running",
                               reason=f"rollback of {op_id} ({mode})", parent_id=op_id,
                               spec=json.dumps(plan, sort_keys=True), host=socket.gethostname(), pid=os.getpid())
    else:
        store.update_operation(rb_id, status="running")
    ranges = [(target.source, d["dataset"], sid, s, e) for d in plan["datasets"] for sid in d["series"]
              for s, e in IntervalSet.from_json(d["intervals"])]
    token = store.acquire_leases(rb_id, ranges, socket.gethostname(), os.getpid())
    started = time.time()
    checks: dict[str, Any] = {}
    try:
        if mode == "controlled":
            checks["before"] = check_current(config, catalog, target.source, plan["datasets"])
        loads = [ld.load_id for ld in warehouse.loads_for_operation(op_id) if ld.status == "committed"]
        warehouse.rollback(loads)
        run = N.NodeRun(rb_id, source, store, warehouse, token, "Rollback", {}, lambda ds: ds.schema_version)
        for cp in _commits(store, op_id):
            N.restore(run, cp.node_id.rsplit("/", 1)[0], (cp.detail or {}).get("replaced", {}))
        if mode == "controlled":
            checks["after"] = check_current(config, catalog, target.source, plan["datasets"])
        summary = {"target": op_id, "mode": mode, "loads_deactivated": len(loads), "datasets": plan["datasets"],
                   "quality": checks, "duration_seconds": round(time.time() - started, 3)}
        store.update_operation(op_id, status="rolled_back")
        store.update_operation(rb_id, status="succeeded", summary=summary)
        return summary
    except Exception:
        store.update_operation(rb_id, status="failed")
        raise
    finally:
        store.release_leases(rb_id)
