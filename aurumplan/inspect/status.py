"""`status` and `ops list`: what an operation is doing, derived from the state, never from flags alone.

A `running` operation whose process is gone shows as `interrupted`, with who held it and what to
do; a paused one shows nothing running; attempts of the same spec are listed together.
"""

from __future__ import annotations

import time
from typing import Any

from aurumplan.catalog import Catalog
from aurumplan.catalog.estimate import RUNS, observe, pace_of, remaining
from aurumplan.inspect.progress import Progress, progress, stored_plan
from aurumplan.plan.model import Plan
from aurumplan.state import Checkpoint, Operation, SqlStateStore
from aurumplan.state.holders import shown_status


def attempts(store: SqlStateStore, op: Operation) -> list[dict[str, Any]]:
    """Every attempt of op's spec, first first: id, status, records, requests."""
    first = op.parent_id if op.parent_id and op.kind != "Rollback" else op.id
    out = []
    for o in store.list_operations():
        if o.id == first or (o.parent_id == first and o.kind != "Rollback"):
            s = o.summary or {}
            out.append({"id": o.id, "status": o.status, "records": s.get("records", 0),
                        "requests": s.get("requests", 0)})
    return out


def status(store: SqlStateStore, catalog: Catalog, op_id: str) -> dict[str, Any]:
    """Progress figures: nodes done/total, periods, records, requests, throttles, errors, rate, ETA."""
    op = store.get_operation(op_id)
    shown, why = shown_status(store, op)
    plan = stored_plan(op)
    running = shown == "running"
    cps = store.checkpoints(op_id)
    p = progress(plan, cps, catalog.sources.get(op.source), running)
    elapsed = (time.time() - p.first_start) if p.first_start and running else None
    rate = p.requests / elapsed if elapsed else None
    eta = _eta(store, catalog, op, plan, cps, p, elapsed) if running else None
    summary = plan.summary if plan is not None else {}
    tries = attempts(store, op)
    return {"id": op.id, "kind": op.kind, "source": op.source, "status": shown, "detail": why,
            "reason": op.reason, "owner": op.owner, "labels": op.labels, "created_at": op.created_at,
            "updated_at": op.updated_at,
            "nodes": {"total": p.nodes_total, "done": p.nodes_done, "by_status": dict(sorted(p.by_status.items()))},
            "periods": {"planned": summary.get("create", 0) + summary.get("replace", 0), "done": p.periods_done},
            "records": p.records, "requests": p.requests, "throttles": p.throttles, "retries": p.retries,
            "errors": p.errors[:20], "rate_per_second": round(rate, 3) if rate else None,
            "eta_seconds": round(eta, 1) if eta else None, "summary": op.summary, "parent_id": op.parent_id,
            "attempt": {"number": [t["id"] for t in tries].index(op.id) + 1, "of": len(tries), "first": tries[0]["id"]}
            if len(tries) > 1 and op.id in [t["id"] for t in tries] else None,
            "attempts": tries if len(tries) > 1 else []}


_FINISHED = frozenset(("staged", "committed", "skipped", "partial"))


def _eta(store: SqlStateStore, catalog: Catalog, op: Operation, plan: Plan | None, cps: list[Checkpoint],
         p: Progress, elapsed: float | None) -> float | None:
    """Seconds left: the plan's estimator (catalog/estimate.py) for the requests and validate/commit
    nodes still to run, blended with this run's own pace once it has answered some."""
    source = catalog.sources.get(op.source)
    if plan is None or source is None:
        return (p.extract_total - p.extract_done) / (p.extract_done / elapsed) if elapsed and p.extract_done else None
    done = {c.node_id for c in cps if c.status in _FINISHED}
    steps = sum(1 for n in plan.graph.nodes if n.kind in ("validate", "commit") and n.id not in done)
    recorded = bool(source.recordings)
    observed = observe(store.recent_runs(source.name, RUNS), source.quota, source.headroom, recorded)
    pace = pace_of(source.quota, source.headroom, plan.settings.rateLimit, recorded)
    return remaining(p.extract_total - p.extract_done, pace, plan.settings.concurrency, steps, observed,
                     done=p.extract_done, elapsed=elapsed)


def ops_list(store: SqlStateStore, active_only: bool = False) -> list[dict[str, Any]]:
    out = []
    for o in store.list_operations(active_only=active_only):
        shown, _ = shown_status(store, o)
        out.append({"id": o.id, "kind": o.kind, "source": o.source, "status": shown, "created_at": o.created_at,
                    "updated_at": o.updated_at, "reason": o.reason, "owner": o.owner, "labels": o.labels,
                    "parent_id": o.parent_id})
    return out
