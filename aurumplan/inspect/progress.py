"""Progress of an operation from its plan and checkpoints: the one calculation status and reports use.

Figures sum every run (a paused-then-resumed operation counts whole); requests include those of
failed nodes. A checkpoint left `running` by a run that is no longer running counts as pending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aurumplan.catalog import SourceDef
from aurumplan.intervals import Grain
from aurumplan.plan.model import AnyNode, DeriveNode, ExtractNode, Plan, decode
from aurumplan.state import Checkpoint, Operation

DATA_KINDS = ("extract", "derive")
DONE = ("staged", "committed", "skipped")


@dataclass
class Progress:
    nodes_total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    extract_total: int = 0
    extract_done: int = 0
    periods_done: int = 0
    periods_committed: int = 0
    periods_failed: int = 0
    records: int = 0
    requests: int = 0
    bytes: int = 0
    throttles: int = 0
    retries: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # request outcome -> requests (executors/http.py)
    errors: list[str] = field(default_factory=list)
    first_start: float | None = None

    @property
    def nodes_done(self) -> int:
        return sum(self.by_status.get(s, 0) for s in DONE)


def stored_plan(op: Operation) -> Plan | None:
    """The plan an operation runs, as apply stored it (None for one that stored none, e.g. a rollback)."""
    return decode(json.loads(op.plan), f"operation {op.id}") if op.plan else None


def node_periods(node: AnyNode, source: SourceDef | None) -> int:
    """Periods an extract (window x series) or derive node loads."""
    if isinstance(node, DeriveNode):
        return node.expected_rows
    if not isinstance(node, ExtractNode) or source is None or node.dataset not in source.datasets:
        return 0
    s, e = node.span()
    return Grain(source.datasets[node.dataset].grain).count(s, e) * len(node.series)


def progress(plan: Plan | None, cps: list[Checkpoint], source: SourceDef | None, running: bool) -> Progress:
    nodes = {n.id: n for n in plan.graph.nodes} if plan is not None else {}
    by_id = {c.node_id: c for c in cps}
    p = Progress(nodes_total=len(nodes))
    for nid, n in nodes.items():
        cp = by_id.get(nid)
        st = cp.status if cp else "pending"
        if st == "running" and not running:
            st = "pending"
        p.by_status[st] = p.by_status.get(st, 0) + 1
        if n.kind == "extract":
            p.extract_total += 1
        if cp is None:
            continue
        if n.kind in DATA_KINDS:
            p.requests += cp.requests
            p.bytes += cp.bytes
            p.throttles += int((cp.detail or {}).get("throttles", 0))
            p.retries += int((cp.detail or {}).get("retries", 0))
            for k, v in ((cp.detail or {}).get("outcomes") or {}).items():
                p.outcomes[k] = p.outcomes.get(k, 0) + int(v)
            if st in ("staged", "committed"):
                p.records += cp.records
                p.periods_done += node_periods(n, source)
                p.extract_done += n.kind == "extract"
            if st == "committed":
                p.periods_committed += node_periods(n, source)
            elif st == "failed":
                p.periods_failed += node_periods(n, source)
        if cp.error and st == "failed":
            p.errors.append(f"{nid}: {cp.error}")
        if cp.started_at:
            p.first_start = cp.started_at if p.first_start is None else min(p.first_start, cp.started_at)
    return p
