"""Is a saved plan still true? Compare each touched range's fingerprint with the state now.

Only ranges the plan touches count: a change elsewhere never makes a plan stale (unlike
Terraform's whole-state serial), and the check happens before anything is written (unlike a
check at the end of apply).
"""

from __future__ import annotations

from typing import Any

from aurumplan.diff import range_fingerprint
from aurumplan.intervals import IntervalMap, IntervalSet, fmt_ts
from aurumplan.plan.model import Plan


def touched(plan: Plan) -> dict[tuple[str, str], IntervalSet]:
    """(dataset, series) -> every interval the plan mentions for it, whatever the action."""
    out: dict[tuple[str, str], IntervalSet] = {}
    for ds in plan.datasets:
        for a in ds.actions:
            where = IntervalSet.from_json(a.intervals)
            for sid in a.series:
                key = (ds.dataset, sid)
                out[key] = out.get(key, IntervalSet()) | where
    return out


def written(plan: Plan) -> dict[tuple[str, str], IntervalSet]:
    """(dataset, series) -> the intervals the plan creates or replaces (what apply leases)."""
    out: dict[tuple[str, str], IntervalSet] = {}
    for ds in plan.datasets:
        for a in ds.actions:
            if a.action not in ("create", "replace"):
                continue
            where = IntervalSet.from_json(a.intervals)
            for sid in a.series:
                key = (ds.dataset, sid)
                out[key] = out.get(key, IntervalSet()) | where
    return out


def stale_ranges(plan: Plan, state: Any) -> list[dict[str, Any]]:
    """Every touched (dataset, series) whose state changed since planning, with who changed it."""
    source = plan.operation.source
    fps = plan.fingerprints
    changed = []
    by_dataset: dict[str, list[tuple[str, IntervalSet]]] = {}
    for (dataset, sid), where in touched(plan).items():
        by_dataset.setdefault(dataset, []).append((sid, where))
    for dataset, items in sorted(by_dataset.items()):
        maps = state.watermarks(source, dataset, [sid for sid, _ in items])
        rows = None
        for sid, where in sorted(items, key=lambda x: x[0]):
            loaded = maps.get((dataset, sid), IntervalMap())
            if range_fingerprint(loaded, where) == fps.get(f"{dataset}|{sid}"):
                continue
            if rows is None:
                rows = state.watermark_rows(source, dataset)
            writers = sorted({(r.ref.operation_id, r.committed_at) for r in rows
                              if r.series_id == sid and IntervalSet([(r.start, r.end)]).overlaps(where)},
                             key=lambda w: w[1])
            detail = ", ".join(f"written by {op} at {fmt_ts(int(at))}" for op, at in writers[-3:]) \
                or "data removed (rolled back or cancelled)"
            changed.append({"dataset": dataset, "series": sid, "intervals": where.to_json(), "detail": detail,
                            "writers": [w[0] for w in writers]})
    return changed
