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
from contextlib import nullcontext
from typing import Any

from aurumplan.apply import nodes as N
from aurumplan.apply.quality_gate import check_current, scoring_current
from aurumplan.catalog import Catalog
from aurumplan.config import Config
from aurumplan.errors import OperationError
from aurumplan.intervals import IntervalSet
from aurumplan.state import SqlStateStore, open_state
from aurumplan.warehouse import Verified, Warehouse, open_warehouse


def rollback_id(target: str) -> str:
    """ROLLBACK_<day and source of the target>_<hash>: the same target always gives the same id."""
    parts = target.split("_")
    day, source, short = (parts[1], parts[2], parts[3]) if len(parts) >= 4 else ("00000000", "OP", target[-6:])
    return f"ROLLBACK_{day}_{source}_{short}"


def commit_records(store: SqlStateStore, op_id: str,
                   committed: set[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The target's commits as (dataset, {loads, replaced}), newest first (the reverse of commit order).

    A commit node keeps one record per commit it made (`commits`; several with `commit: progressive`)
    and, while one is under way, its `pending` record. A pending record counts only when the warehouse
    committed its loads (`committed`): restoring the snapshot of a switch that never happened would
    take ranges away from whoever wrote them since.
    """
    out: list[tuple[float, int, str, dict[str, Any]]] = []
    for c in store.checkpoints(op_id):
        if not c.node_id.endswith("/commit"):
            continue
        ds, d = c.node_id.rsplit("/", 1)[0], c.detail or {}
        records = list(d.get("commits") or [])
        pending = d.get("pending")
        if pending and committed is not None and set(pending.get("loads") or []) & committed:
            records.append(pending)  # its warehouse switch happened (a crash before the watermarks)
        if not records and d.get("replaced") is not None and c.status == "committed":
            records.append({"loads": d.get("loads", []), "replaced": d["replaced"]})
        out.extend((c.finished_at or 0, i, ds, r) for i, r in enumerate(records))
    return [(ds, r) for _, _, ds, r in sorted(out, key=lambda x: (x[0], x[1], x[2]), reverse=True)]


def switched(warehouse: Warehouse, op_id: str) -> set[str]:
    """The operation's loads the warehouse made current at some point (committed, or since rolled back)."""
    return {ld.load_id for ld in warehouse.loads_for_operation(op_id) if ld.status in ("committed", "rolled_back")}


def _refuse_collected(warehouse: Warehouse, store: SqlStateStore, op_id: str) -> Verified:
    """A rollback needs every version the operation replaced; `gc` may have removed them. What was found
    whole need not be checked again by the rollback while no `gc` runs (Warehouse.rollback)."""
    committed = [ld.load_id for ld in warehouse.loads_for_operation(op_id) if ld.status == "committed"]
    missing, verified = warehouse.unrestorable(committed)
    if not missing:
        return verified
    records = commit_records(store, op_id, set(committed))
    files = [f for f in dict.fromkeys((rec.get("archive") or {}).get("file") for _, rec in records) if f]
    how = (f"restore them with `aurumplan archive restore FILE` for each of {', '.join(files)}, then roll back"
           if files else "it wrote no archive (its spec had no `archive:`), so they cannot come back")
    raise OperationError(f"cannot roll back {op_id}: `aurumplan gc` removed versions it replaced "
                         "(it ended before the retention cut-off); nothing was changed", hint=how)


def rollback_plan(config: Config, catalog: Catalog, op_id: str) -> dict[str, Any]:
    """What a rollback would do, for review: per dataset the loads it deactivates and what comes back."""
    with open_state(config.state_url, create=True) as store:
        _refuse_status(store, op_id)
        with open_warehouse(config.warehouse_url) as warehouse:
            return _rollback_plan(store, warehouse, op_id)[0]


def _refuse_status(store: SqlStateStore, op_id: str) -> None:
    target = store.get_operation(op_id)
    if target.status == "rolled_back":
        raise OperationError(f"operation {op_id} is already rolled back")
    if target.status in ("running", "planned"):
        raise OperationError(f"operation {op_id} is {target.status}: pause or cancel it before rolling back")


def _rollback_plan(store: SqlStateStore, warehouse: Warehouse, op_id: str) -> tuple[dict[str, Any], Verified]:
    target = store.get_operation(op_id)
    verified = _refuse_collected(warehouse, store, op_id)
    done = switched(warehouse, op_id)
    per: dict[str, dict[str, Any]] = {}
    for ds, rec in commit_records(store, op_id, done):
        replaced = rec.get("replaced") or {}
        d = per.setdefault(ds, {"dataset": ds, "loads": [], "series": set(), "where": IntervalSet(),
                                "restores": set()})
        d["loads"].extend(rec.get("loads") or [])
        d["series"].update(replaced)
        d["restores"].update(h[2] for snap in replaced.values() for h in snap["held"])
        for snap in replaced.values():
            d["where"] = d["where"] | IntervalSet.from_json(snap["where"])
    datasets = [{"dataset": d["dataset"], "loads": sorted(set(d["loads"])), "series": sorted(d["series"]),
                 "intervals": d["where"].to_json(), "restores": sorted(d["restores"])}
                for d in sorted(per.values(), key=lambda d: d["dataset"])]
    return {"operation_id": rollback_id(op_id), "target": op_id, "source": target.source, "kind": target.kind,
            "datasets": datasets}, verified


def _switch(run: N.NodeRun, store: SqlStateStore, op_id: str, verified: Verified) -> list[str]:
    """The operation's committed loads rolled back and its watermarks restored; returns those loads."""
    loads = [ld.load_id for ld in run.warehouse.loads_for_operation(op_id) if ld.status == "committed"]
    run.warehouse.rollback(loads, verified)
    for ds, rec in commit_records(store, op_id, switched(run.warehouse, op_id)):
        N.restore(run, ds, rec.get("replaced") or {})
    return loads


def rollback_operation(config: Config, catalog: Catalog, op_id: str, *, mode: str = "controlled",
                       auto: bool = False, store: SqlStateStore | None = None) -> dict[str, Any]:
    """Undo op_id exactly; returns the rollback's summary. One store (the caller's, if it has one open) and
    one warehouse serve the plan, the switch and the quality checks around it (PostgreSQL: each open costs
    an engine, a connection and ~8-30 ms)."""
    with nullcontext(store) if store is not None else open_state(config.state_url, create=True) as store:
        _refuse_status(store, op_id)
        with open_warehouse(config.warehouse_url) as warehouse:
            plan, verified = _rollback_plan(store, warehouse, op_id)
            return _rollback(config, catalog, plan, store, warehouse, mode, verified)


def _rollback(config: Config, catalog: Catalog, plan: dict[str, Any], store: SqlStateStore, warehouse: Warehouse,
              mode: str, verified: Verified) -> dict[str, Any]:
    op_id = plan["target"]
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
    token = store.acquire_leases(rb_id, ranges, socket.gethostname(), os.getpid(), priority=None)  # not queued
    started = time.time()
    checks: dict[str, Any] = {}
    try:
        run = N.NodeRun(rb_id, source, store, warehouse, token, "Rollback", None, lambda ds: ds.schema_version)
        if mode == "controlled":  # scored before the switch, in a snapshot, while it runs
            with scoring_current(warehouse, catalog, target.source, plan["datasets"]) as before:
                loads = _switch(run, store, op_id, verified)
            checks = {"before": before.result(),
                      "after": check_current(warehouse, catalog, target.source, plan["datasets"])}
        else:
            loads = _switch(run, store, op_id, verified)
        summary = {"target": op_id, "mode": mode, "loads_deactivated": len(loads), "datasets": plan["datasets"],
                   "quality": checks, "duration_seconds": round(time.time() - started, 3)}
        store.update_operation(op_id, status="rolled_back")
        store.add_event(op_id, "rolled_back", {"by": rb_id, "mode": mode})
        store.update_operation(rb_id, status="succeeded", summary=summary)
        return summary
    except Exception:
        store.update_operation(rb_id, status="failed")
        raise
    finally:
        store.release_leases(rb_id)
