"""The applier: run a plan (or resume an operation) to the end, checkpointed and fenced.

Order of a fresh apply: refuse conflicts -> refuse stale ranges -> lease the ranges it writes ->
check staleness again under the leases -> record the operation -> walk the graph. Resume skips
the stale checks (the operation's own writes changed its ranges), re-runs every node that did
not finish, and commits what it fetched. How a run ends (succeeded, failed, halted, paused,
cancelled) follows the lifecycle in apply/lifecycle.py; docs/architecture.md draws it.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, cast

from aurumplan.apply import emergency, verify
from aurumplan.apply import nodes as N
from aurumplan.apply.algorithm import run_algorithm
from aurumplan.apply.failures import FailureLog
from aurumplan.apply.faults import crash_point
from aurumplan.apply.judgeworker import JUDGE_NICE
from aurumplan.apply.lifecycle import RESUMABLE, RETRYABLE, discard_staged, lineage, transition
from aurumplan.apply.limits import make_limiter
from aurumplan.apply.migrate import migrate_node
from aurumplan.apply.quality_gate import (
    ChunkResult,
    chunk_key,
    chunks_of,
    early_allowed,
    judge_chunk,
    judging,
    validate_dataset,
)
from aurumplan.apply.rollback import rollback_operation
from aurumplan.apply.speculation import SpeculativeCommit
from aurumplan.apply.staleness import stale_ranges, written
from aurumplan.apply.waiting import Wait, keep_place, lease_or_wait
from aurumplan.catalog import Catalog, SourceDef
from aurumplan.config import Config
from aurumplan.errors import (
    AurumError,
    FencedError,
    OperationError,
    PlanError,
    SourceError,
    StalePlanError,
    SuspendedError,
)
from aurumplan.executors.base import Counters, ExtractJob, Stopped, extract_job, merged
from aurumplan.executors.parsepool import ParsePool, WorkerPool
from aurumplan.executors.registry import make_executor
from aurumplan.hashing import canonical_json, sha256_hex
from aurumplan.inspect.progress import progress, stored_plan
from aurumplan.intervals import Grain, IntervalMap, IntervalSet
from aurumplan.plan.builder import effective_rate, plan_json
from aurumplan.plan.model import AnyNode, CommitNode, DataNode, DeriveNode, ExtractNode, Plan, Settings, ValidateNode
from aurumplan.sources.keys import api_key
from aurumplan.state import Checkpoint, SqlStateStore, open_state
from aurumplan.state.holders import holder
from aurumplan.warehouse import Warehouse, open_warehouse

Hook = Callable[[str, dict[str, Any]], None]
DATA_KINDS = ("extract", "derive")
JUDGE_START_S = 10.0
"""How long a chunk waits for the judge worker to start (its imports, ~0.4 s) before it is judged here."""
_FINISHED = frozenset({"done", "failed-ok", "blocked", "stopped"})


@dataclass
class ApplyResult:
    """What happened, also when it ended early; figures sum every run of the operation."""

    operation_id: str
    status: str
    counters: Counters = field(default_factory=Counters)
    periods: dict[str, int] = field(default_factory=lambda: {"loaded": 0, "failed": 0, "skipped": 0})
    nodes: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    quality: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration: float = 0.0
    cpu_seconds: float = 0.0
    failure_log: str | None = None
    attempt: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.counters
        return {"operation_id": self.operation_id, "status": self.status, "periods": self.periods,
                "records": c.records, "requests": c.requests, "bytes": c.bytes, "throttles": c.throttles,
                "retries": c.retries, "outcomes": c.outcomes, "nodes": self.nodes, "failures": self.failures,
                "quality": self.quality,
                "notes": self.notes, "duration_seconds": round(self.duration, 3),
                "cpu_seconds": round(self.cpu_seconds, 3), "failure_log": self.failure_log,
                "attempt": self.attempt}


def _conflicts(plan: Plan) -> list[str]:
    return [f"! {ds.dataset} {','.join(a.series)} {a.intervals[0][0]} .. {a.intervals[-1][1]}: {a.reason}"
            for ds in plan.datasets for a in ds.actions if a.action == "conflict"]


def resume_overrides(source: SourceDef, settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    """Settings with `resume --concurrency/--rate-limit/--batch-size` applied; never above the quota."""
    out: dict[str, Any] = {}
    if overrides.get("concurrency") is not None:
        if int(overrides["concurrency"]) < 1:
            raise OperationError("--concurrency must be at least 1")
        out["concurrency"] = int(overrides["concurrency"])
    if overrides.get("batchSize") is not None:
        if int(overrides["batchSize"]) < 1:
            raise OperationError("--batch-size must be at least 1")
        out["batchSize"] = int(overrides["batchSize"])
    if overrides.get("rateLimit") is not None:
        rate = float(overrides["rateLimit"])
        most = effective_rate(source, "auto")
        if rate <= 0:
            raise OperationError("--rate-limit must be a positive number of requests per second")
        if rate > most * (1 + 1e-9):
            raise OperationError(f"--rate-limit {rate:g}/s is above the quota of '{source.name}': at most "
                                 f"{most:g} requests/s (quota x headroom {source.headroom:g})")
        out["rateLimit"] = rate
    return settings.model_copy(update=out)


class Applier:
    """Runs one operation's graph with a pool of workers."""

    def __init__(self, config: Config, catalog: Catalog, plan: Plan, *, hook: Hook | None = None,
                 lease_ttl: float = 60.0, heartbeat: float = 5.0, poll: float = 0.5,
                 overrides: Mapping[str, Any] | None = None, verify: bool = False,
                 accept_config_change: bool = False, cwd: Path | None = None, wait: Wait | None = None,
                 began: float | None = None, parse_pool: ParsePool | None = None) -> None:
        # recorded with the apply: the plan's estimates learn the fixed cost of an apply; `began` is when
        # the caller started it (api.apply_plan: imports and setup before this object count too)
        self.began = time.time() if began is None else began
        self.config = config
        self.catalog = catalog
        self.plan = plan
        self.op_id: str = plan.operation.id
        self.kind: str = plan.operation.kind
        self.source: SourceDef = catalog.source(plan.operation.source)
        self.settings: Settings = plan.settings
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.hook = hook or (lambda _e, _d: None)
        self.lease_ttl = lease_ttl
        self.heartbeat_every = heartbeat
        self.poll = poll
        self.stop = threading.Event()
        self.result = ApplyResult(self.op_id, "running", attempt=plan.operation.attempt)
        self._lock = threading.Lock()
        self.store: SqlStateStore = open_state(config.state_url, create=True)
        self.warehouse: Warehouse = open_warehouse(config.warehouse_url)
        self.token = 0
        self.fence_scopes: dict[str, str] = {}
        self.failures = FailureLog(config.path(config.logs), self.op_id)
        self.result.failure_log = str(self.failures.path)
        self.requested: str | None = None  # paused or cancelled, asked by another process or Ctrl-C
        self.halted: list[str] = []
        self.rollback_requested = False
        self.cpu_started = time.process_time()  # CPU seconds of this run, for `cost` (docs/operations.md#cost)
        self._interrupts = 0
        self.reusable: dict[str, Checkpoint] = {}
        self.superseded: list[str] = []
        self.verify = verify
        self.accept_config_change = accept_config_change
        self.cwd = cwd or Path.cwd()
        self.started_at = time.time()  # an emergency stop shortly before this still binds it
        self.wait = wait  # `apply --wait`: queue for leased ranges by priority (apply/waiting.py)
        self.lease_ranges: list[tuple[str, str, str, int, int]] = []
        self.judged: dict[tuple[str, ...], ChunkResult] = {}  # validation chunks judged while fetching
        self._judging: dict[tuple[str, ...], Future[None]] = {}
        self._judge: ThreadPoolExecutor | None = None
        self.judge_pool: WorkerPool | None = None  # a judge worker, beside parse workers (apply/judgeworker.py)
        self.parse_pool = parse_pool  # parse workers api.apply_plan started ahead (executors/parsepool.py)
        self.staged_ids: set[str] = set()  # data nodes staged (this run or before), for judging early
        self._chunks: dict[str, dict[str, list[DataNode]]] = {}  # dataset -> data node id -> its chunk
        self._speculative: dict[str, SpeculativeCommit] = {}  # dataset -> its commit, written while validating

    # ---- entry points -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the state and warehouse connections (a long-lived process runs many applies)."""
        self.store.close()
        self.warehouse.close()

    def apply(self) -> ApplyResult:
        emergency.refuse_frozen(self.store, self.source.name)
        existing = self.store.find_operation(self.op_id)
        if existing is not None:
            self._refuse_existing(existing.status)
        conflicts = _conflicts(self.plan)
        if conflicts:
            raise PlanError("the plan has conflicts and cannot be applied:\n" + "\n".join(conflicts))
        changes = self._verified()
        self._refuse_stale()
        self._lease()
        try:
            self._refuse_stale()
            if self.verify:
                verify.compiles_to_itself(self.plan, self.catalog, self.store, self.cwd)
        except (StalePlanError, PlanError):
            keep_place(self.store, self.op_id, self.lease_ranges, socket.gethostname(), os.getpid(),
                       self.settings.priority, self.wait)
            self.store.release_leases(self.op_id)
            raise
        op = self.plan.operation
        attempt = op.attempt
        first = attempt["first"] if attempt else None
        self.store.create_operation(
            self.op_id, self.kind, op.source, status="running", reason=op.reason, owner=op.owner,
            labels=op.labels, spec=self.plan.spec.text, spec_sha256=self.plan.spec.sha256,
            plan=plan_json(self.plan.to_dict()), host=socket.gethostname(), pid=os.getpid(), parent_id=first,
            summary={"planned": self.plan.summary, "estimates": self.plan.estimates})
        self.store.add_event(self.op_id, "apply", {"attempt": attempt, "host": socket.gethostname(),
                                                   "pid": os.getpid(), "began": round(self.began, 3)})
        if changes:
            self.store.add_event(self.op_id, "config-change-accepted", {"changes": changes})
        if first is not None:
            self._supersede(first)
        return self._run()

    def _verified(self) -> list[str]:
        """A saved plan's checks before anything is written (apply/verify.py); returns accepted changes."""
        verify.within_leases(self.plan)
        if not self.verify:
            return []
        verify.version_check(self.plan)
        changes = verify.config_changes(self.plan, self.source)
        if changes and not self.accept_config_change:
            raise PlanError(f"the source settings changed since plan {self.op_id} was made:\n  "
                            + "\n  ".join(changes),
                            hint="re-plan and review, or apply with --accept-config-change (recorded in the audit "
                                 "trail)")
        return changes

    def _refuse_existing(self, status: str) -> None:
        if status in RESUMABLE:
            raise OperationError(f"operation {self.op_id} already exists ({status}): continue it with "
                                 f"`aurumplan resume {self.op_id}`")
        if status in RETRYABLE:
            raise PlanError(f"operation {self.op_id} already ran and is {status}",
                            hint="plan the spec again (`aurumplan plan SPEC` or `aurumplan apply SPEC`): that "
                                 "starts its next attempt, which plans only what is still missing")
        raise PlanError(f"plan {self.op_id} was already applied ({status})", hint="re-plan to see what is left to do")

    def _supersede(self, first: str, resuming: bool = False) -> None:
        """Earlier attempts stop here (they cannot be resumed); their staged loads are offered for reuse
        by identical nodes of this attempt and discarded when it ends (docs/architecture.md)."""
        mine = {n.id: canonical_json(n.model_dump(mode="json", exclude_unset=True)) for n in self.plan.graph.nodes
                if n.kind == "extract"}
        for earlier in lineage(self.store, self.store.get_operation(first)):
            if earlier.id == self.op_id:
                continue
            theirs = {n.id: canonical_json(n.model_dump(mode="json", exclude_unset=True))
                      for n in plan_of_operation(self.store, earlier.id).graph.nodes} if earlier.plan else {}
            cps = self.store.checkpoints(earlier.id)
            halted = {c.node_id.rsplit("/", 1)[0] for c in cps
                      if c.node_id.endswith("/validate") and c.status == "failed"}
            for cp in cps:
                if cp.node_id.rsplit("/", 2)[0] in halted:
                    continue  # the quality gate refused these rows: fetch them again
                if cp.status == "staged" and cp.load_id and mine.get(cp.node_id) == theirs.get(cp.node_id):
                    self.reusable[cp.node_id] = cp  # the latest attempt's staged copy wins
            self.superseded.append(earlier.id)
            if not resuming:
                self.store.release_leases(earlier.id)
                self.store.add_event(earlier.id, "superseded", {"by": self.op_id})

    def _reuse(self, node: ExtractNode, lid: str, held: dict[str, Any]) -> Checkpoint | None:
        """An earlier attempt staged this very node and nobody committed in its range since: take its rows
        instead of asking the API again (quota saved). Returns that attempt's checkpoint, or None."""
        cp = self.reusable.pop(node.id, None)
        if cp is None or cp.load_id is None or (cp.detail or {}).get("held") != held:
            return None
        try:
            self.warehouse.copy_staged(cp.load_id, lid)
        except AurumError:
            return None
        return cp

    def resume(self) -> ApplyResult:
        emergency.refuse_frozen(self.store, self.source.name)
        op = self.store.get_operation(self.op_id)
        if op.status not in RESUMABLE:
            hint = " (plan the spec again to start its next attempt)" if op.status in RETRYABLE else ""
            raise OperationError(f"operation {self.op_id} is {op.status}; nothing to resume{hint}")
        later = [o for o in lineage(self.store, op) if o.created_at > op.created_at and o.id != op.id]
        if later:
            raise OperationError(f"operation {self.op_id} was superseded by its attempt {later[-1].id}: "
                                 f"resume or re-plan that one")
        if op.status == "running":
            h = holder(self.store, self.op_id)
            if h.alive:
                raise OperationError(f"operation {self.op_id} is still running (host {h.host}, pid {h.pid}); "
                                     "pause it first or wait for its lease to expire")
        earlier: dict[str, Any] = {}
        for ev in self.store.events(self.op_id):
            if ev.kind == "resume":
                earlier.update(ev.detail.get("overrides") or {})
        self.settings = resume_overrides(self.source, self.settings, {**earlier, **self.overrides})
        self._lease()
        if op.parent_id:
            self._supersede(op.parent_id, resuming=True)
        transition(self.store, self.op_id, "running", event="resume", overrides=self.overrides,
                   settings=self.settings.model_dump(include={"concurrency", "batchSize", "rateLimit"}))
        self.store.update_operation(self.op_id, host=socket.gethostname(), pid=os.getpid())
        return self._run()

    # ---- setup ----------------------------------------------------------------------------------

    def _refuse_stale(self) -> None:
        changed = stale_ranges(self.plan, self.store)
        if changed:
            lines = [f"  {c['dataset']} {c['series']} {c['intervals'][0][0]} .. {c['intervals'][-1][1]}: "
                     f"{c['detail']}" for c in changed[:20]]
            more = f"\n  (+{len(changed) - 20} more)" if len(changed) > 20 else ""
            raise StalePlanError(f"the saved plan {self.op_id} is stale: {len(changed)} range(s) it touches "
                                 "changed since it was planned:\n" + "\n".join(lines) + more, changed)

    def _lease(self) -> None:
        """Lease every range the plan writes; a resume's new token fences out its earlier leases."""
        ranges = [(self.source.name, ds, sid, s, e)
                  for (ds, sid), where in sorted(written(self.plan).items()) for s, e in where]
        per_dataset: dict[str, list[tuple[str, int, int]]] = {}
        for _, ds, sid, s, e in ranges:
            per_dataset.setdefault(ds, []).append((sid, s, e))
        self.fence_scopes = {ds: N.fence_scope(self.source.name, ds, r) for ds, r in per_dataset.items()}
        self.lease_ranges = ranges
        self.token = lease_or_wait(self.store, self.op_id, ranges, socket.gethostname(), os.getpid(), self.lease_ttl,
                                   self.settings.priority, self.wait, self.stop, self.hook)
        self.store.release_leases(self.op_id, below_token=self.token)

    # ---- the walk -------------------------------------------------------------------------------

    def _run(self) -> ApplyResult:
        started = time.monotonic()
        self.cpu_started = time.process_time()
        nodes = {n.id: n for n in self.plan.graph.nodes}
        preds: dict[str, set[str]] = {n: set() for n in nodes}
        for a, b in self.plan.graph.edges:
            preds[b].add(a)
        state = self._prepare(nodes)
        cps = {c.node_id: c for c in self.store.checkpoints(self.op_id)}
        self.staged_ids = {nid for nid, c in cps.items() if c.status == "staged"}
        limiter = make_limiter(self.source, self.settings, self.store)
        planned = sum(n.expected_rows for n in nodes.values() if isinstance(n, ExtractNode) and state.get(n.id) is None)
        executor = make_executor(self.config, self.warehouse, limiter, planned, self.parse_pool)
        self._start_judge(nodes, state)
        watcher = threading.Thread(target=self._watch, daemon=True)
        watcher.start()
        previous = self._catch_interrupts()
        try:
            with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
                running: dict[Future[None], str] = {}
                while True:
                    if not self.stop.is_set():
                        for nid in sorted(nodes):
                            if nid in state or nid in running.values():
                                continue
                            ready = self._readiness(nodes[nid], preds[nid], state)
                            if ready == "run":
                                running[pool.submit(self._node, nodes[nid], executor, cps.get(nid))] = nid
                            elif ready == "blocked":
                                state[nid] = "blocked"
                    if not running:
                        break
                    finished, _ = wait(list(running), timeout=self.poll, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        nid = running.pop(fut)
                        state[nid] = self._outcome(nid, nodes[nid], fut)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            self.stop.set()
            for dataset in list(self._speculative):  # validated, but the run stopped before its commit node
                self._speculative.pop(dataset).withdraw()
            watcher.join(timeout=5)
            if self._judge is not None:
                self._judge.shutdown(wait=True, cancel_futures=True)
                self._judge = None
            if self.judge_pool is not None:
                self.judge_pool.close()
                self.judge_pool = None
            close = getattr(executor, "close", None)
            if close:
                close()
        return self._finish(nodes, state, time.monotonic() - started)

    def _prepare(self, nodes: dict[str, AnyNode]) -> dict[str, str]:
        """What a run starts from: finished nodes are done; everything else runs again.

        A dataset counts as finished only when its commit made every one of its ranges current,
        so a resume after failed requests fetches what failed and then commits it. A dataset the
        quality gate halted has its staged rows discarded and fetched again (not re-validated).
        """
        cps = {c.node_id: c for c in self.store.checkpoints(self.op_id)}
        work: dict[str, list[str]] = {}
        for nid, n in nodes.items():
            if n.kind in DATA_KINDS:
                work.setdefault(n.dataset, []).append(nid)
        state: dict[str, str] = {}
        reset: list[str] = []
        for ds, ids in work.items():
            v, c = f"{ds}/validate", f"{ds}/commit"
            vcp, ccp = cps.get(v), cps.get(c)
            status = {nid: cps[nid].status if nid in cps else "pending" for nid in ids}
            halted = vcp is not None and vcp.status == "failed" and \
                (vcp.detail or {}).get("decision") in ("halt", "rollback")
            if halted and vcp is not None:
                redo = [nid for nid in ids if status[nid] == "staged"]
                for nid in redo:
                    self.warehouse.discard_staged(N.load_id_of(self.op_id, nid))
                    status[nid] = "pending"
                reset.extend(redo)
                score = (vcp.detail or {}).get("score")
                self.result.notes.append(
                    f"{ds}: the quality gate halted it (score {score:.3f}); its {len(redo)} staged range(s) were "
                    "discarded and are fetched again, not validated again" if isinstance(score, float) else
                    f"{ds}: halted by the quality gate; its staged ranges are fetched again")
            for nid in ids:
                if status[nid] in ("staged", "committed", "skipped"):
                    state[nid] = "done"
            finished = all(status[nid] in ("committed", "skipped") for nid in ids)
            if finished and ccp is not None and ccp.status in ("committed", "skipped"):
                state[v] = state[c] = "done"
                continue
            reset.extend(x for x, cp in ((v, vcp), (c, ccp)) if cp is not None and cp.status != "running")
        self.store.reset_checkpoints(self.op_id, reset, status="pending", error=None)
        return state

    def _readiness(self, node: AnyNode, preds: set[str], state: dict[str, str]) -> str:
        """run | wait | blocked. Atomic commits wait for every range of the dataset (docs/architecture.md)."""
        got = [state.get(p) for p in preds]
        if node.kind == "extract" or all(g == "done" for g in got):
            return "run"
        if not all(g in _FINISHED for g in got):
            return "wait"
        progressive = self.settings.commit == "progressive"
        if node.kind == "validate" and progressive and any(g == "done" for g in got) and \
                all(g in ("done", "failed-ok") for g in got):
            return "run"
        return "blocked"

    def _outcome(self, nid: str, node: AnyNode, fut: Future[None]) -> str:
        exc = fut.exception()
        if exc is None:
            return "done"
        if isinstance(exc, Stopped):
            return "stopped"
        if node.kind == "extract":
            return "failed-ok"
        if self._stopping_on_request() or self._status_now() in ("paused", "cancelled"):
            return "stopped"
        if node.kind != "validate" or node.dataset not in self.halted:  # a halt said so already
            with self._lock:
                self.result.failures.append(f"{nid}: {exc}")
        return "blocked"

    def _stopping_on_request(self) -> bool:
        return self.requested in ("paused", "cancelled") or self._interrupts > 0

    def _watch(self) -> None:
        """Heartbeat the leases and notice pause/cancel (or a freeze, an emergency stop) from another process."""
        last_beat = time.monotonic()
        while not self.stop.wait(self.poll):
            try:
                status = self.store.get_operation(self.op_id).status
                if status == "running":  # a freeze of the source or an emergency stop binds it too
                    status = emergency.enforce(self.store, self.op_id, self.source.name,
                                               self.settings.priority, self.started_at) or status
                if status in ("paused", "cancelled"):
                    self.requested = status
                    self.stop.set()
                    return
                if time.monotonic() - last_beat >= self.heartbeat_every:
                    self.store.heartbeat(self.op_id, self.token)
                    last_beat = time.monotonic()
            except FencedError as exc:
                if self.store.get_operation(self.op_id).status == "cancelled":
                    self.requested = "cancelled"
                else:
                    self.result.failures.append(f"lease lost: {exc}")
                self.stop.set()
                return
            except AurumError:
                continue

    def _catch_interrupts(self) -> Any:
        """Ctrl-C like Terraform: the first stops at the next checkpoint (paused), a second forces."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def on_interrupt(_sig: int, _frame: FrameType | None) -> None:
            self._interrupts += 1
            if self._interrupts > 1:
                self.hook("interrupt", {"force": True, "operation_id": self.op_id})
                os._exit(130)
            self.stop.set()
            self.hook("interrupt", {"force": False, "operation_id": self.op_id})

        return signal.signal(signal.SIGINT, on_interrupt)

    # ---- one node -------------------------------------------------------------------------------

    def _node_run(self) -> N.NodeRun:
        target = (self.settings.replay or {}).get("schemaVersion")
        archive = (self.settings.replay or {}).get("archive")
        folder = None
        if archive:
            from aurumplan.apply.archive import archive_dir  # imports pyarrow, which only an archiving Replay uses

            folder = archive_dir(archive["to"], self.plan.spec.file, self.cwd)
        return N.NodeRun(self.op_id, self.source, self.store, self.warehouse, self.token, self.kind, self.settings,
                         lambda ds: target or ds.schema_version, self.fence_scopes, archive_dir=folder)

    def _node(self, node: AnyNode, executor: Any, checkpoint: Checkpoint | None) -> None:
        if isinstance(node, ExtractNode):
            self._extract(node, executor, checkpoint)
        elif isinstance(node, DeriveNode):
            run = self._node_run()
            held = N.holders(run, node)
            lid, records = N.derive(run, node)
            self.store.upsert_checkpoint(self.op_id, node.id, status="staged", load_id=lid, records=records,
                                         finished_at=time.time(), detail={"held": held})
            with self._lock:
                self.result.counters.records += records
        elif isinstance(node, ValidateNode):
            self._validate(node)
        else:
            self._commit(node, checkpoint)

    def _extract(self, node: ExtractNode, executor: Any, checkpoint: Checkpoint | None) -> None:
        nid = node.id
        start, end = node.span()
        run = self._node_run()
        attempts = (checkpoint.attempts if checkpoint else 0) + 1
        before = _Before.of(checkpoint)
        held = N.holders(run, node)  # who held its periods as it is staged: newer data must not be overwritten
        lid = N.stage(run, node, node.series, start, end)
        self.store.upsert_checkpoint(self.op_id, nid, status="running", load_id=lid, started_at=time.time(),
                                     attempts=attempts, error=None)
        reused = self._reuse(node, lid, held) if self.reusable else None
        if reused is not None:
            load = self.warehouse.load(lid)
            self.store.upsert_checkpoint(self.op_id, nid, status="staged", records=load.records if load else 0,
                                         checksum=load.checksum if load else None, finished_at=time.time(),
                                         detail={"held": held, "reused_from": reused.load_id})
            with self._lock:
                self.result.counters.records += load.records if load else 0
            self.hook("node", {"node": nid, "status": "staged", "records": load.records if load else 0})
            self._judge_early(node.dataset, nid)
            return
        job = extract_job(self.op_id, node, self.source, self.settings, api_key(self.source),
                          transform=self._transform(), stop=self.stop, on_progress=self._progress(nid),
                          external_id=checkpoint.external_id if checkpoint else None,
                          record_external_id=lambda ext: self._record_external(nid, ext))
        try:
            counters = self._migrate(node, lid, job) if self._migrating() else executor.run_extract(job)
        except Stopped:
            self._count(job.counters, nid, before, status=None)
            raise
        except SuspendedError as exc:
            self._count(job.counters, nid, before, status=None)
            self.result.notes.append(f"{nid}: {exc} (operation paused; resume later)")
            self.requested = "paused"
            transition(self.store, self.op_id, "paused", expect=frozenset({"running"}), reason=str(exc))
            self.stop.set()
            raise Stopped() from exc
        except (SourceError, AurumError, OSError) as exc:
            self._count(job.counters, nid, before, status=None)
            if self._stopping_on_request() or self._status_now() in ("paused", "cancelled"):
                self.stop.set()  # cancelled (or paused) from outside while this node ran: not a failure
                raise Stopped() from exc
            self._failed(node, start, end, str(exc), attempts)
            raise
        algo = (self.settings.replay or {}).get("algorithm")
        if algo and (self.settings.replay or {}).get("type") == "algorithm_update":
            run_algorithm(self.warehouse, lid, self.source.name, self.source.datasets[node.dataset].name, algo,
                          {rel: f.text for rel, f in self.plan.spec.files.items()})
        crash_point("before-staged")
        if getattr(executor, "name", "") == "local":  # rows went through write_batch: the running totals
            load = self.warehouse.load(lid)           # in `loads` were updated with them, atomically
            records, checksum = (load.records, load.checksum) if load else self.warehouse.load_stats(lid)
        else:  # another engine wrote the rows: count and hash what is stored
            records, checksum = self.warehouse.load_stats(lid)
        self.store.upsert_checkpoint(self.op_id, nid, status="staged", records=records, checksum=checksum,
                                     finished_at=time.time(), **before.plus(counters), detail={
                                         "throttles": before.throttles + counters.throttles,
                                         "retries": before.retries + counters.retries,
                                         "outcomes": merged(before.outcomes, counters.outcomes), "held": held})
        with self._lock:
            self.result.counters.requests += counters.requests
            self.result.counters.bytes += counters.bytes
            self.result.counters.throttles += counters.throttles
            self.result.counters.retries += counters.retries
            self.result.counters.outcomes = merged(self.result.counters.outcomes, counters.outcomes)
        self.hook("node", {"node": nid, "status": "staged", "records": records})
        self._judge_early(node.dataset, nid)

    def _start_judge(self, nodes: dict[str, AnyNode], state: dict[str, str]) -> None:
        """Start the judge worker with the run, when it will judge: the apply has cores to spare
        (parse workers, parsepool.auto_workers), a validate node is left to run and may judge early.
        Started at the first judgeable chunk, the chunk waited for the worker's imports (~0.3 s; for
        a plan of one chunk, after the last page: bench/RESULTS.md, issue 18)."""
        if self.parse_pool is None or not early_allowed(self.settings):
            return
        if any(isinstance(n, ValidateNode) and nid not in state for nid, n in nodes.items()):
            self.judge_pool = judge_pool()
            self._judge = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge")
            self._judge.submit(self._warm_judge)

    def _warm_judge(self) -> None:
        """Have the judge worker connect to the warehouse once it is up, before the first chunk is ready
        (it runs on the judging thread, so chunks queue behind it); given up when the run stops."""
        pool = self.judge_pool
        waited = 0.0
        while pool is not None and not pool.wait_ready(0.05):
            waited += 0.05
            if self.stop.is_set() or waited > JUDGE_START_S:
                return
        if pool is not None and not self.stop.is_set():
            pool.ask(pickle.dumps((self.config.warehouse_url, None, "", []), protocol=pickle.HIGHEST_PROTOCOL))

    def _judge_early(self, dataset: str, staged_now: str) -> None:
        """Have each validation chunk of the dataset whose nodes are all staged judged while other nodes
        still fetch: the validate node then reuses it (the same chunk, so the same score) instead of
        reading every staged row after the last page (issue 18). One thread of its own judges them, one
        chunk at a time (memory stays that of one chunk), so no fetching slot waits for it. A failure
        there is left to the validate node, which judges that chunk again and reports it.

        The dataset's chunks are fixed by the plan and computed once: the first call looks at every
        chunk (on a resume some were staged before it), later calls at the chunk of the node just
        staged, so a node's cost does not grow with the plan's size (it did, quadratically)."""
        with self._lock:
            self.staged_ids.add(staged_now)
            if self.stop.is_set() or not early_allowed(self.settings):
                return
            index = self._chunks.get(dataset)
            if index is None:
                index = self._chunks[dataset] = {n.id: c for c in chunks_of(self._data_nodes(dataset)) for n in c}
                candidates = list({chunk_key(c): c for c in index.values()}.values())
            else:
                candidates = [index[staged_now]] if staged_now in index else []
            for chunk in candidates:
                key = chunk_key(chunk)
                if key in self._judging or not all(n.id in self.staged_ids for n in chunk):
                    continue
                if self._judge is None:
                    self._judge = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge")
                self._judging[key] = self._judge.submit(self._judge_chunk, dataset, chunk, key)

    def _judge_chunk(self, dataset: str, chunk: list[DataNode], key: tuple[str, ...]) -> None:
        """Judge one chunk in the judge worker, or here when it cannot (still starting, died, failed)."""
        if self.stop.is_set():
            return
        try:
            judge = judging(self)
            pool = self.judge_pool
            if pool is not None and not pool.wait_ready(JUDGE_START_S):
                pool = None
            done: ChunkResult | None = pool.ask(pickle.dumps(
                (self.config.warehouse_url, judge, dataset, chunk), protocol=pickle.HIGHEST_PROTOCOL)) \
                if pool is not None else None
            if done is None:
                with self.warehouse.connect() as conn:
                    done = judge_chunk(judge, conn, dataset, chunk)
            self.judged[key] = done
        except Exception:  # the validate node judges it again and reports it
            return

    def _judged_so_far(self) -> dict[tuple[str, ...], ChunkResult]:
        """The chunks judged early, once the judgements under way have ended."""
        with self._lock:
            pending = list(self._judging.values())
        wait(pending)
        return self.judged

    def _record_external(self, nid: str, external_id: str) -> None:
        """The engine's job id, saved before the job runs, so a resume adopts it instead of submitting twice."""
        self.store.upsert_checkpoint(self.op_id, nid, external_id=external_id)

    def _count(self, counters: Counters, nid: str, before: _Before, status: str | None) -> None:
        """Requests a node sent before it failed or stopped still count (and still used the quota)."""
        fields: dict[str, Any] = before.plus(counters)
        if status is not None:
            fields["status"] = status
        self.store.upsert_checkpoint(self.op_id, nid, **fields, detail={
            "throttles": before.throttles + counters.throttles, "retries": before.retries + counters.retries,
            "outcomes": merged(before.outcomes, counters.outcomes)})
        with self._lock:
            self.result.counters.requests += counters.requests
            self.result.counters.bytes += counters.bytes
            self.result.counters.outcomes = merged(self.result.counters.outcomes, counters.outcomes)

    def _status_now(self) -> str:
        try:
            return self.store.get_operation(self.op_id).status
        except AurumError:
            return "unknown"

    def _failed(self, node: ExtractNode, start: int, end: int, error: str, attempts: int) -> None:
        nid = node.id
        self.store.upsert_checkpoint(self.op_id, nid, status="failed", error=error[:2000], finished_at=time.time(),
                                     attempts=attempts)
        request = node.request.model_dump(mode="json") if node.request else None
        self.failures.add(source=self.source.name, dataset=node.dataset, series=list(node.series), start=start,
                          end=end, request=request, error=error, attempts=attempts)
        with self._lock:
            self.result.failures.append(f"{nid}: {error}")
        self.hook("node", {"node": nid, "status": "failed", "error": error})

    def _progress(self, nid: str) -> Callable[[Counters], None]:
        last = [0]

        def on(c: Counters) -> None:
            crash_point("after-batch")
            with self._lock:
                self.result.counters.records += c.records - last[0]
                last[0] = c.records
            self.hook("progress", {"node": nid, "records": self.result.counters.records})

        return on

    def _migrating(self) -> bool:
        """A schema_correction rewrites stored rows (apply/migrate.py) instead of fetching them."""
        return (self.settings.replay or {}).get("type") == "schema_correction"

    def _migrate(self, node: ExtractNode, lid: str, job: ExtractJob) -> Counters:
        fn = self._transform() or dict
        return migrate_node(self._node_run(), node, lid, fn, self.settings.batchSize, job.counters,
                            job.on_progress)

    def _transform(self) -> Callable[[dict[str, Any]], dict[str, Any] | None] | None:
        replay = self.settings.replay or {}
        files = self.plan.spec.files
        fns = []
        for attr, name in (("migration", "migrate"), ("transform", "transform")):
            rel = replay.get(attr)
            if rel:
                fns.append(_load_function(rel, files[rel].text, name))
        if not fns:
            return None

        def chain(rec: dict[str, Any]) -> dict[str, Any] | None:
            cur: dict[str, Any] | None = rec
            for fn in fns:
                if cur is None:
                    return None
                cur = fn(cur)
            return cur

        return chain

    def _data_nodes(self, dataset: str) -> list[DataNode]:
        return [n for n in self.plan.graph.nodes if n.dataset == dataset and isinstance(n, DataNode)]

    def _staged_nodes(self, dataset: str, *statuses: str) -> list[DataNode]:
        cps = {c.node_id: c for c in self.store.checkpoints(self.op_id)}
        return [n for n in self._data_nodes(dataset)
                if cps.get(n.id) is not None and cps[n.id].status in (statuses or ("staged",))]

    def _validate(self, node: ValidateNode) -> None:
        """Score the dataset's staged, not yet committed loads (committed ones passed before)."""
        dataset = node.dataset
        staged = self._staged_nodes(dataset)
        if not staged:
            self.store.upsert_checkpoint(self.op_id, node.id, status="skipped", finished_at=time.time())
            return
        v = self.settings.validation
        self._speculate(node, staged)
        decision = "unjudged"
        try:
            outcome = validate_dataset(self, dataset, staged, self._judged_so_far())
            self.result.quality.append(outcome)
            decision = N.gate(outcome["score"], v.threshold, v.onFailure, dataset)
            rollback_below = (self.settings.reprocess or {}).get("rollbackWhen")
            if rollback_below is not None and outcome["score"] is not None and outcome["score"] < rollback_below:
                decision = "rollback"
        finally:
            if decision not in ("pass", "warn") and dataset in self._speculative:
                self._speculative.pop(dataset).withdraw()
        self.store.upsert_checkpoint(self.op_id, node.id, status="staged" if decision in ("pass", "warn")
                                     else "failed", finished_at=time.time(),
                                     detail={"score": outcome["score"], "decision": decision},
                                     error=None if decision in ("pass", "warn") else
                                     f"quality {outcome['score']:.3f} below {v.threshold}")
        if decision in ("halt", "rollback"):
            msg = (f"{dataset}: quality score {outcome['score']:.3f} is below the threshold {v.threshold}; "
                   f"staged data kept, nothing made current (resume fetches it again)")
            with self._lock:
                self.result.failures.append(msg)
                self.halted.append(dataset)
                if decision == "rollback":
                    self.rollback_requested = True
            self.stop.set()
            raise AurumError(msg)

    def _speculate(self, node: ValidateNode, staged: list[DataNode]) -> None:
        """Write the dataset's commit while its validation runs, where nothing else in this apply waits on
        the warehouse's lock meanwhile (apply/speculation.py)."""
        commits = [n for n in self.plan.graph.nodes if isinstance(n, CommitNode)]
        if self.warehouse.sqlite or self.settings.commit == "progressive" or len(commits) != 1 \
                or commits[0].dataset != node.dataset:
            return
        cp = {c.node_id: c for c in self.store.checkpoints(self.op_id)}.get(commits[0].id)
        if cp is not None and (cp.detail or {}).get("pending") is not None:
            return
        try:
            self._speculative[node.dataset] = N.speculate(self._node_run(), node.dataset, staged)
        except AurumError:  # the state could not be read: an optimisation only, the commit node reads it again
            return

    def _commit(self, node: CommitNode, checkpoint: Checkpoint | None) -> None:
        """Make the dataset's staged ranges current (all of them, or with `commit: progressive` those
        that validated); several runs append their commits, each with its rollback snapshot."""
        dataset = node.dataset
        work = self._data_nodes(dataset)
        staged = self._staged_nodes(dataset)
        detail = dict(checkpoint.detail or {}) if checkpoint else {}
        commits: list[dict[str, Any]] = list(detail.get("commits") or [])
        speculative = self._speculative.pop(dataset, None)
        if speculative is not None and not staged:
            speculative.withdraw()
        if staged:
            policy = (self.settings.reprocess or {}).get("conflicts")
            cid = node.id

            def record(pending: dict[str, Any]) -> None:
                if pending.get("skipped") and policy == "fail":
                    raise OperationError(f"{dataset}: ranges changed since they were staged (another operation "
                                        "committed newer data there) and conflicts is 'fail': nothing committed")
                self.store.upsert_checkpoint(self.op_id, cid, status="running",
                                             detail={"commits": commits, "pending": pending})

            try:
                done = N.commit(self._node_run(), dataset, staged, detail.get("pending"), record, speculative)
            finally:
                if speculative is not None:  # nothing once it committed; rolled back if the commit failed first
                    speculative.withdraw()
            self.store.reset_checkpoints(self.op_id, [n.id for n in staged], status="committed")  # one transaction
            commits.append(done)
            self._note_skips(dataset, done.get("skipped") or {})
        cps = {c.node_id: c for c in self.store.checkpoints(self.op_id)}
        complete = all(cps.get(n.id) is not None and cps[n.id].status in ("committed", "skipped") for n in work)
        status = "committed" if complete and commits else "partial" if commits else "skipped"
        self.store.upsert_checkpoint(self.op_id, node.id, status=status, finished_at=time.time(),
                                     detail={"commits": commits})
        self.hook("node", {"node": node.id, "status": status})

    def _note_skips(self, dataset: str, skipped: dict[str, dict[str, list[list[int]]]]) -> None:
        if not skipped:
            return
        grain = Grain(self.source.datasets[dataset].grain)
        periods = sum(grain.count(s, e) for per in skipped.values() for ivs in per.values() for s, e in ivs)
        with self._lock:
            self.result.notes.append(f"{dataset}: {periods} period(s) skipped: another operation committed newer "
                                     "data there after they were staged; the newer version stays current")

    # ---- endings --------------------------------------------------------------------------------

    def _finish(self, nodes: dict[str, AnyNode], state: dict[str, str], seconds: float) -> ApplyResult:
        """Decide how the run ended, from what is current and what the state says (lifecycle.py)."""
        now = self._status_now()
        if now in ("paused", "cancelled"):
            self.requested = now
        elif self._interrupts:
            transition(self.store, self.op_id, "paused", expect=frozenset({"running"}), event="interrupt")
            self.requested = "paused"
        final: str
        if self.requested == "cancelled":
            discard_staged(self.config, self.op_id)
            final = "cancelled"
        elif self.requested == "paused":
            running = [c.node_id for c in self.store.checkpoints(self.op_id) if c.status == "running"
                       and isinstance(nodes.get(c.node_id), DataNode)]
            self.store.reset_checkpoints(self.op_id, running, status="pending")
            final = "paused"
        elif self.halted:
            final = "halted"
        elif any(v in ("failed-ok", "blocked") for v in state.values()) or self.result.failures:
            final = "failed"
        else:
            missing = self._not_current()
            final = "succeeded" if not missing else "failed"
            if missing:
                self.result.failures.append(f"{missing} planned period(s) are not current after the run")
        if final not in ("paused", "cancelled"):
            try:
                transition(self.store, self.op_id, "failed" if self.rollback_requested else final,
                           expect=frozenset({"running"}))
            except OperationError:  # paused or cancelled at the last moment: that request wins
                if self._status_now() not in ("paused", "cancelled"):
                    raise
                return self._finish(nodes, {}, seconds)
        if final != "paused":
            self.store.release_leases(self.op_id)
            self._discard_superseded()
        if self.rollback_requested:
            rollback_operation(self.config, self.catalog, self.op_id, mode="emergency", auto=True)
            final = "rolled_back"
        self.result.status = final
        self._account(nodes, seconds)
        self.store.update_operation(self.op_id, summary=self._summary())
        self.hook("finished", self.result.to_dict())
        return self.result

    def _discard_superseded(self) -> None:
        """Staged rows of the attempts this one superseded: reused by now, or not to be used at all."""
        reused = [c for c in self.store.checkpoints(self.op_id) if (c.detail or {}).get("reused_from")]
        if reused:
            with self._lock:
                self.result.notes.append(f"{len(reused)} range(s) reused from the earlier attempt's staged rows "
                                         "(unchanged since they were fetched): no requests sent for them")
        for earlier in self.superseded:
            for load in self.warehouse.loads_for_operation(earlier):
                if load.status == "staged":
                    self.warehouse.discard_staged(load.load_id)

    def _not_current(self) -> int:
        """Planned create/replace periods not current by this operation, nor left to newer data it met."""
        left: dict[tuple[str, str], IntervalSet] = {}
        for cp in self.store.checkpoints(self.op_id):
            if cp.node_id.endswith("/commit"):
                ds = cp.node_id.rsplit("/", 1)[0]
                for done in (cp.detail or {}).get("commits") or []:
                    for per in (done.get("skipped") or {}).values():
                        for sid, ivs in per.items():
                            left[(ds, sid)] = left.get((ds, sid), IntervalSet()) | IntervalSet(map(tuple, ivs))
        by_ds: dict[str, dict[str, IntervalSet]] = {}
        for (ds, sid), where in written(self.plan).items():
            by_ds.setdefault(ds, {})[sid] = where
        missing = 0
        for ds, per in by_ds.items():
            maps = self.store.watermarks(self.source.name, ds, list(per))
            grain = Grain(self.source.datasets[ds].grain)
            for sid, where in per.items():
                mine = IntervalSet([(s, e) for s, e, ref in maps.get((ds, sid), IntervalMap())
                                    if ref.operation_id == self.op_id])
                missing += (where - mine - left.get((ds, sid), IntervalSet())).periods(grain)
        return missing

    def _account(self, nodes: dict[str, AnyNode], seconds: float) -> None:
        """Figures of every run so far, from the checkpoints (inspect/progress.py, as status shows them)."""
        p = progress(self.plan, self.store.checkpoints(self.op_id), self.source, running=False)
        self.result.counters = Counters(requests=p.requests, records=p.records, bytes=p.bytes,
                                        throttles=p.throttles, retries=p.retries, outcomes=p.outcomes)
        self.result.nodes = dict(sorted(p.by_status.items()))
        summary = self.plan.summary
        self.result.periods = {"loaded": p.periods_committed, "failed": p.periods_failed,
                               "skipped": summary["unchanged"] + summary["missing"]}
        before = self.store.get_operation(self.op_id).summary or {}
        self.result.duration = float(before.get("duration_seconds") or 0.0) + seconds
        self.result.cpu_seconds = float(before.get("cpu_seconds") or 0.0) + time.process_time() - self.cpu_started
        self.result.failure_log = str(self.failures.path) if self.failures.path.exists() else None

    def _summary(self) -> dict[str, Any]:
        return {"planned": self.plan.summary, "estimates": self.plan.estimates,
                "settings": self.settings.model_dump(include={"concurrency", "batchSize", "rateLimit"}),
                **self.result.to_dict()}


def judge_pool() -> WorkerPool:
    """One judge worker (apply/judgeworker.py), below the apply's priority from its first import on."""
    return WorkerPool(1, "aurumplan.apply.judgeworker", "judge", nice=JUDGE_NICE)


@dataclass(frozen=True)
class _Before:
    """A node's figures from earlier runs, to which this run's are added."""

    requests: int = 0
    bytes: int = 0
    throttles: int = 0
    retries: int = 0
    outcomes: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, cp: Checkpoint | None) -> _Before:
        if cp is None:
            return cls()
        d = cp.detail or {}
        return cls(cp.requests, cp.bytes, int(d.get("throttles", 0)), int(d.get("retries", 0)),
                   dict(d.get("outcomes") or {}))

    def plus(self, c: Counters) -> dict[str, int]:
        return {"requests": self.requests + c.requests, "bytes": self.bytes + c.bytes}


def _load_function(rel: str, text: str, name: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """A spec's Python file, from the text embedded in the plan (the spec folder's file at plan time)."""
    namespace: dict[str, Any] = {"__name__": f"aurumplan_spec_{sha256_hex(text)[:8]}", "__file__": rel}
    exec(compile(text, rel, "exec"), namespace)
    fn = namespace.get(name)
    if not callable(fn):
        raise PlanError(f"{rel}: defines no function {name}(record) -> dict | None")
    return cast(Callable[[dict[str, Any]], dict[str, Any] | None], fn)


def plan_of_operation(store: SqlStateStore, op_id: str) -> Plan:
    """The plan an operation runs, as stored when it started (checked against the models again)."""
    plan = stored_plan(store.get_operation(op_id))
    if plan is None:
        raise OperationError(f"operation {op_id} has no stored plan")
    return plan


def failure_log_path(config: Config, op_id: str) -> Path:
    return config.path(config.logs) / f"failed_records_{op_id}.jsonl"
