"""Running one node of the graph: extract (stage), derive, validate (gate) and commit (switch).

The commit protocol (docs/architecture.md):
1. extract: a node's rows are staged in the warehouse under a load_id derived from the
   operation and node ids, batch by batch. Only when all are written does the state
   checkpoint say `staged` (with records and checksum). A crash before that leaves a
   `running` checkpoint, and resume discards the partial rows and fetches again.
2. commit: first the replaced watermarks are saved in the commit checkpoint (for rollback),
   then ONE warehouse transaction makes the dataset's staged loads current (fenced by the
   lease token), then the state's watermarks follow, then the checkpoint says `committed`.
   A crash between the warehouse commit and the state update is repaired on resume: the
   warehouse commit is idempotent and the watermarks are written again from the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurumplan.apply.faults import crash_point
from aurumplan.apply.speculation import SpeculativeCommit
from aurumplan.catalog import DatasetDef, SourceDef
from aurumplan.errors import QualityGateError
from aurumplan.executors.base import load_id_of as load_id_of
from aurumplan.hashing import sha256_hex
from aurumplan.intervals import IntervalMap, IntervalSet
from aurumplan.plan.model import DataNode, DeriveNode, Settings
from aurumplan.state import StateStore, WatermarkRef
from aurumplan.warehouse import LoadInfo, Warehouse


@dataclass
class NodeRun:
    """The shared handles a node needs."""

    operation_id: str
    source: SourceDef
    store: StateStore
    warehouse: Warehouse
    token: int
    kind: str
    settings: Settings | None  # None for a rollback (it runs no plan)
    schema_version: Callable[[DatasetDef], str]
    fence_scopes: dict[str, str] = field(default_factory=dict)
    log: Callable[[str], None] = field(default=lambda _m: None)
    archive_dir: Path | None = None
    """A Replay's `archive.to`, resolved: the replaced versions are exported there before each commit."""

    def fence(self, dataset: str) -> tuple[str, int]:
        return self.fence_scopes.get(dataset, fence_scope(self.source.name, dataset, [])), self.token


def fence_scope(source: str, dataset: str, ranges: list[tuple[str, int, int]]) -> str:
    """The warehouse fence of the ranges an operation leases in a dataset.

    A resumed (or taken-over) operation leases the same ranges, so it gets the same scope and a
    higher token: the earlier holder is fenced out. Operations on disjoint ranges get different
    scopes and never fence each other; an overlapping takeover by another operation is refused by
    the lease check just before the commit (check_fence).
    """
    return f"{source}/{dataset}/{sha256_hex(repr(sorted(ranges)))[:16]}"


def stage(run: NodeRun, node: DataNode, series: list[str], start: int, end: int) -> str:
    """Register the node's load and clear rows a crashed attempt left behind."""
    lid = load_id_of(run.operation_id, node.id)
    ds = node.dataset
    load = run.warehouse.stage_load(LoadInfo(lid, run.operation_id, run.source.name, ds, start, end, tuple(series),
                                             node_id=node.id, fence_scope=run.fence(ds)[0],
                                             fence_token=run.token,
                                             schema_version=run.schema_version(run.source.datasets[ds])))
    if load.status != "committed" and (load.records or run.warehouse.has_rows(lid)):
        run.warehouse.discard_staged(lid, restage=True)  # rows a crashed attempt left (any engine wrote them)
    return lid


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


_AGGREGATES: dict[str, Callable[[list[float]], float]] = {"sum": sum, "min": min, "max": max, "mean": _mean}


def derive(run: NodeRun, node: DeriveNode) -> tuple[str, int]:
    """Compute a derived dataset's periods from its input's current rows (e.g. hourly -> daily)."""
    ds = run.source.datasets[node.dataset]
    assert ds.derive is not None
    intervals = {sid: IntervalSet.from_json(v) for sid, v in node.intervals.items()}
    span = IntervalSet([iv for w in intervals.values() for iv in w]).span
    assert span is not None
    lid = stage(run, node, sorted(intervals), span[0], span[1])
    agg = ds.derive.aggregate
    rows = []
    for sid, where in sorted(intervals.items()):
        buckets: dict[int, list[float]] = {}
        units: set[str] = set()
        for s, e in where:
            for row in run.warehouse.read_rows(run.source.name, ds.derive.source_dataset, (s, e)):
                if row.series_id != sid or row.value is None:
                    continue
                buckets.setdefault(ds.grain.floor(row.period), []).append(row.value)
                units.add(row.unit or "")
        for period, values in sorted(buckets.items()):
            val = _AGGREGATES.get(agg, _mean)(values)
            rows.append((run.source.name, ds.name, sid, period, float(val), ds.unit or ",".join(sorted(units)),
                         {"derived_from": ds.derive.source_dataset, "aggregate": agg, "inputs": len(values)}))
    for i in range(0, len(rows), 1000):
        run.warehouse.write_batch(lid, rows[i:i + 1000])
    return lid, len(rows)


Skips = dict[str, dict[str, list[list[int]]]]
"""load id -> series -> [start, end] intervals a commit leaves to a newer version."""


def commit(run: NodeRun, dataset: str, nodes: list[DataNode], pending: dict[str, Any] | None,
           record: Callable[[dict[str, Any]], None], speculative: SpeculativeCommit | None = None) -> dict[str, Any]:
    """Make the staged loads of `nodes` current, then move the watermarks; returns what was committed.

    Before anything changes, `record` saves the rollback snapshot and the periods left out (a newer
    operation committed them after these loads were staged: the commit invariant). A crash after
    that resumes with the same `pending` record, so the retry writes exactly the same. A `speculative`
    commit already written while the validation ran is committed when it writes exactly that, else
    rolled back first (apply/speculation.py).
    """
    ds = run.source.datasets[dataset]
    loads = [(n, load_id_of(run.operation_id, n.id)) for n in nodes]
    ids = [lid for _, lid in loads]
    if pending is None or pending.get("loads") != ids:
        skips = changed_since_staged(run, dataset, nodes)
        pending = {"loads": ids, "replaced": _snapshot(run, dataset, nodes), "skipped": skips}
        if run.archive_dir is not None:
            from aurumplan.apply.archive import write_archive  # pyarrow: only a Replay that archives needs it

            replaced = run.warehouse.replaced_by_commit(ids, _exclusions(skips))
            pending["archive"] = write_archive(run.archive_dir, run.operation_id, dataset, replaced)
            crash_point("after-archive")
        record(pending)
    skips = pending.get("skipped") or {}
    run.store.check_fence(run.operation_id, run.token)
    crash_point("before-commit")
    args = (ids, run.fence(dataset), run.kind in ("Replay", "Reprocess"), _exclusions(skips))
    if speculative is not None and speculative.matches(*args):
        speculative.finish()
    else:
        if speculative is not None:
            speculative.withdraw()
        run.warehouse.commit(ids, fence=args[1], replace_range=args[2], exclude=args[3])
    crash_point("after-warehouse-commit")
    schema = run.schema_version(ds)
    found = run.warehouse.loads_by_id(ids)
    counts = run.warehouse.series_counts_many(ids)
    items = []
    for n, lid in loads:
        load = found.get(lid)
        ref = WatermarkRef(lid, run.operation_id, load.checksum if load else None, schema)
        left = skips.get(lid, {})
        for sid in n.series:
            where = n.where(sid) - IntervalSet([(s, e) for s, e in left.get(sid, [])])
            if where:
                items.append((sid, where, ref, counts[lid].get(sid, 0)))
    crash_point("mid-watermarks")
    run.store.set_watermarks_many(run.source.name, dataset, items, fence=run.fence(dataset))
    return pending


def speculate(run: NodeRun, dataset: str, nodes: list[DataNode]) -> SpeculativeCommit:
    """The commit of `nodes` as commit() would write it now, written on a thread of its own while the
    validation runs; nothing is recorded yet (apply/speculation.py)."""
    ids = [load_id_of(run.operation_id, n.id) for n in nodes]
    skips = changed_since_staged(run, dataset, nodes)
    return SpeculativeCommit(run.warehouse, ids, run.fence(dataset), run.kind in ("Replay", "Reprocess"),
                             _exclusions(skips))


def _exclusions(skips: Skips) -> dict[str, dict[str, list[tuple[int, int]]]]:
    return {lid: {sid: [(s, e) for s, e in ivs] for sid, ivs in per.items()} for lid, per in skips.items()}


def holders(run: NodeRun, node: DataNode) -> dict[str, list[list[Any]]]:
    """Which load held each period the node writes, when it was staged: [start, end, load_id, operation_id]."""
    ds = node.dataset
    maps = run.store.watermarks(run.source.name, ds, node.series)
    out: dict[str, list[list[Any]]] = {}
    for sid in node.series:
        held = maps.get((ds, sid), IntervalMap()).restrict(node.where(sid))
        out[sid] = [[s, e, r.load_id, r.operation_id] for s, e, r in held]
    return out


def changed_since_staged(run: NodeRun, dataset: str, nodes: list[DataNode]) -> Skips:
    """Per load, the periods another operation committed after the load was staged.

    Compares the holders recorded at staging (checkpoint detail `held`) with the watermarks now;
    a period whose holder is now another operation's load that was not there then is newer data,
    and the staged version must not go over it. A Backfill only fills gaps, so for it every period
    another operation holds now is left alone (it was a gap when planned). Nodes staged without a
    record compare as unchanged.
    """
    backfill = run.kind == "Backfill"
    cps = {c.node_id: c for c in run.store.checkpoints(run.operation_id)}
    series = sorted({sid for n in nodes for sid in n.series})
    maps = run.store.watermarks(run.source.name, dataset, series)
    out: Skips = {}
    for n in nodes:
        cp = cps.get(n.id)
        recorded: dict[str, Any] | None = (cp.detail or {}).get("held") if cp else None
        if recorded is None and not backfill:
            continue
        then_all: dict[str, Any] = {} if backfill or recorded is None else recorded
        per: dict[str, list[list[int]]] = {}
        for sid in n.series:
            then: dict[str, IntervalSet] = {}
            for s, e, lid, _op in then_all.get(sid, []):
                then[lid] = then.get(lid, IntervalSet()) | IntervalSet([(s, e)])
            now = maps.get((dataset, sid), IntervalMap()).restrict(n.where(sid))
            changed = IntervalSet()
            for s, e, ref in now:
                if ref.operation_id != run.operation_id:
                    changed = changed | (IntervalSet([(s, e)]) - then.get(ref.load_id, IntervalSet()))
            if changed:
                per[sid] = [[s, e] for s, e in changed]
        if per:
            out[load_id_of(run.operation_id, n.id)] = per
    return out


def _snapshot(run: NodeRun, dataset: str, nodes: list[DataNode]) -> dict[str, Any]:
    """What the state held where this commit writes: restored exactly by rollback."""
    series = sorted({sid for n in nodes for sid in n.series})
    maps = run.store.watermarks(run.source.name, dataset, series)
    out: dict[str, Any] = {}
    for sid in series:
        where = IntervalSet()
        for n in nodes:
            if sid in n.series:
                where = where | n.where(sid)
        loaded = maps.get((dataset, sid), IntervalMap()).restrict(where)
        out[sid] = {"where": where.to_json(),
                    "held": [[s, e, r.load_id, r.operation_id, r.checksum, r.schema_version] for s, e, r in loaded]}
    return out


def restore(run: NodeRun, dataset: str, replaced: dict[str, Any]) -> None:
    """Put the watermarks back as the snapshot says (rollback)."""
    restore_watermarks(run.store, run.source.name, dataset, replaced)


def restore_watermarks(store: StateStore, source: str, dataset: str, replaced: dict[str, Any]) -> None:
    """The watermarks of a commit's snapshot, as they were before that commit, in one transaction."""
    clear = {sid: IntervalSet.from_json(snap["where"]) for sid, snap in replaced.items()}
    items = [(sid, IntervalSet([(s, e)]), WatermarkRef(lid, op, checksum, schema), 0)
             for sid, snap in replaced.items() for s, e, lid, op, checksum, schema in snap["held"]]
    if clear:
        store.set_watermarks_many(source, dataset, items, clear=clear)


def gate(score: float | None, threshold: float, on_failure: str, dataset: str) -> str:
    """pass | warn | halt | rollback for a quality score against the threshold."""
    if score is None or score >= threshold:
        return "pass"
    if on_failure == "warn":
        return "warn"
    if on_failure in ("halt", "rollback"):
        return on_failure
    raise QualityGateError(f"unknown onFailure '{on_failure}' for {dataset}")

