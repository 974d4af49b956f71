"""The applier: run a plan (or resume an operation) to the end, checkpointed and fenced.

Order of a fresh apply: refuse conflicts -> refuse stale ranges -> lease the ranges it writes ->
check staleness again under the leases -> record the operation -> walk the graph. Resume
skips the first checks (the operation's own writes changed its ranges) and re-runs every
node that is not checkpointed as done.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurumplan.apply import nodes as N
from aurumplan.apply.failures import FailureLog
from aurumplan.apply.faults import crash_point
from aurumplan.apply.limits import make_limiter
from aurumplan.apply.quality_gate import validate_dataset
from aurumplan.apply.rollback import rollback_operation
from aurumplan.apply.staleness import stale_ranges, written
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
from aurumplan.executors.base import Counters, ExtractJob, RetryPolicy, Stopped
from aurumplan.executors.registry import make_executor
from aurumplan.hashing import sha256_hex
from aurumplan.intervals import Grain, IntervalSet
from aurumplan.plan.builder import plan_json
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.keys import api_key
from aurumplan.sources.registry import get_driver
from aurumplan.state import SqlStateStore, open_state
from aurumplan.warehouse import Warehouse, open_warehouse

Hook = Callable[[str, dict[str, Any]], None]


@dataclass
class ApplyResult:
    """What happened, also when it ended early."""

    operation_id: str
    status: str
    counters: Counters = field(default_factory=Counters)
    periods: dict[str, int] = field(default_factory=lambda: {"loaded": 0, "failed": 0, "skipped": 0})
    nodes: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    quality: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0
    failure_log: str | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.counters
        return {"operation_id": self.operation_id, "status": self.status, "periods": self.periods,
                "records": c.records, "requests": c.requests, "bytes": c.bytes, "throttles": c.throttles,
                "retries": c.retries, "nodes": self.nodes, "failures": self.failures, "quality": self.quality,
                "duration_seconds": round(self.duration, 3), "failure_log": self.failure_log}


def _conflicts(plan: dict[str, Any]) -> list[str]:
    return [f"! {ds['dataset']} {','.join(a['series'])} {a['intervals'][0][0]} .. {a['intervals'][-1][1]}: "
            f"{a['reason']}" for ds in plan["datasets"] for a in ds["actions"] if a["action"] == "conflict"]


class Applier:
    """Runs one operation's graph with a pool of workers."""

    def __init__(self, config: Config, catalog: Catalog, plan: dict[str, Any], *, hook: Hook | None = None,
                 lease_ttl: float = 60.0, heartbeat: float = 5.0, poll: float = 0.5) -> None:
        self.config = config
        self.catalog = catalog
        self.plan = plan
        self.op_id: str = plan["operation"]["id"]
        self.kind: str = plan["operation"]["kind"]
        self.source: SourceDef = catalog.source(plan["operation"]["source"])
        self.settings = plan["settings"]
        self.hook = hook or (lambda _e, _d: None)
        self.lease_ttl = lease_ttl
        self.heartbeat_every = heartbeat
        self.poll = poll
        self.stop = threading.Event()
        self.result = ApplyResult(self.op_id, "running")
        self._lock = threading.Lock()
        self.store: SqlStateStore = open_state(config.state_url, create=True)
        self.warehouse: Warehouse = open_warehouse(config.warehouse_url)
        self.token = 0
        self.fence_scopes: dict[str, str] = {}
        self.failures = FailureLog(config.path(config.logs), self.op_id)
        self.result.failure_log = str(self.failures.path)

    # ---- entry points -------------------------------------------------------------------------

    def apply(self) -> ApplyResult:
        existing = self.store.find_operation(self.op_id)
        if existing is not None:
            if existing.status in ("paused", "failed", "running"):
                raise OperationError(f"operation {self.op_id} already exists ({existing.status}): "
                                     f"continue it with `aurumplan resume {self.op_id}`")
            raise PlanError(f"plan {self.op_id} was already applied ({existing.status})",
                            hint="re-plan to see what is left to do")
        conflicts = _conflicts(self.plan)
        if conflicts:
            raise PlanError("the plan has conflicts and cannot be applied:\n" + "\n".join(conflicts))
        self._refuse_stale()
        self._lease()
        try:
            self._refuse_stale()
        except StalePlanError:
            self.store.release_leases(self.op_id)
            raise
        op = self.plan["operation"]
        self.store.create_operation(
            self.op_id, self.kind, op["source"], status="running", reason=op.get("reason"), owner=op.get("owner"),
            labels=op.get("labels") or {}, spec=self.plan["spec"]["text"], spec_sha256=self.plan["spec"]["sha256"],
            plan=plan_json(self.plan), host=socket.gethostname(), pid=os.getpid(),
            summary={"planned": self.plan["summary"], "estimates": self.plan["estimates"]})
        return self._run()

    def resume(self) -> ApplyResult:
        op = self.store.get_operation(self.op_id)
        if op.status in ("succeeded", "cancelled", "rolled_back"):
            raise OperationError(f"operation {self.op_id} is {op.status}; nothing to resume")
        live = [lease for lease in self.store.leases(active_only=True)
                if lease.operation_id == self.op_id and holder_alive(lease.host, lease.pid)]
        if op.status == "running" and live:
            holder = live[0]
            raise OperationError(f"operation {self.op_id} is still running (host {holder.host}, pid {holder.pid}); "
                                 "pause it first or wait for its lease to expire")
        self._lease()
        self.store.update_operation(self.op_id, status="running", host=socket.gethostname(), pid=os.getpid())
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
        ranges = [(self.source.name, ds, sid, s, e)
                  for (ds, sid), where in sorted(written(self.plan).items()) for s, e in where]
        per_dataset: dict[str, list[tuple[str, int, int]]] = {}
        for _, ds, sid, s, e in ranges:
            per_dataset.setdefault(ds, []).append((sid, s, e))
        self.fence_scopes = {ds: N.fence_scope(self.source.name, ds, r) for ds, r in per_dataset.items()}
        self.token = self.store.acquire_leases(self.op_id, ranges, socket.gethostname(), os.getpid(),
                                               ttl_seconds=self.lease_ttl)

    # ---- the walk -------------------------------------------------------------------------------

    def _run(self) -> ApplyResult:
        started = time.monotonic()
        nodes = {n["id"]: n for n in self.plan["graph"]["nodes"]}
        preds: dict[str, set[str]] = {n: set() for n in nodes}
        for a, b in self.plan["graph"]["edges"]:
            preds[b].add(a)
        done = {c.node_id: c for c in self.store.checkpoints(self.op_id)}
        state: dict[str, str] = {}
        for nid in nodes:
            cp = done.get(nid)
            if cp is not None and cp.status in ("staged", "committed", "skipped"):
                state[nid] = "done"
        limiter = make_limiter(self.source, self.settings, self.store)
        executor = make_executor(self.config, self.warehouse, limiter)
        watcher = threading.Thread(target=self._watch, daemon=True)
        watcher.start()
        pending_status = "succeeded"
        try:
            with ThreadPoolExecutor(max_workers=self.settings["concurrency"]) as pool:
                running: dict[Future[None], str] = {}
                while True:
                    if not self.stop.is_set():
                        for nid in sorted(nodes):
                            if nid in state or nid in running.values():
                                continue
                            if all(state.get(p) in ("done", "failed-ok") for p in preds[nid]) and \
                                    self._ready(nodes[nid], preds[nid], state):
                                running[pool.submit(self._node, nodes[nid], executor, done.get(nid))] = nid
                            elif any(state.get(p) == "blocked" for p in preds[nid]):
                                state[nid] = "blocked"
                    if not running:
                        break
                    finished, _ = wait(list(running), timeout=self.poll, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        nid = running.pop(fut)
                        state[nid] = self._outcome(nid, nodes[nid], fut)
        finally:
            self.stop.set()
            watcher.join(timeout=5)
            close = getattr(executor, "close", None)
            if close:
                close()
        status = self.store.get_operation(self.op_id).status
        if status == "cancelled" or self.result.status == "cancelled":
            self._discard_uncommitted()
            pending_status = "cancelled"
        elif status == "paused" or self.result.status == "paused":
            pending_status = "paused"
        elif any(v in ("failed", "blocked") for v in state.values()) or self.result.failures:
            pending_status = "failed"
        if self.result.status == "rollback":
            self.store.update_operation(self.op_id, status="failed")
            self.store.release_leases(self.op_id)
            rollback_operation(self.config, self.catalog, self.op_id, mode="emergency", auto=True)
            pending_status = "rolled_back"
        self.result.status = pending_status
        self.result.duration = time.monotonic() - started
        self._account(nodes, state)
        self.store.update_operation(self.op_id, status=pending_status, summary=self._summary())
        self.store.release_leases(self.op_id)
        self.hook("finished", self.result.to_dict())
        return self.result

    def _ready(self, node: dict[str, Any], preds: set[str], state: dict[str, str]) -> bool:
        if node["kind"] == "derive":
            return all(state.get(p) == "done" for p in preds)
        return True

    def _outcome(self, nid: str, node: dict[str, Any], fut: Future[None]) -> str:
        exc = fut.exception()
        if exc is None:
            return "done"
        if isinstance(exc, Stopped):
            return "stopped"
        if node["kind"] == "extract":
            return "failed-ok"
        self.result.failures.append(f"{nid}: {exc}")
        return "blocked"

    def _watch(self) -> None:
        """Heartbeat the leases and notice pause/cancel requested by another process."""
        last_beat = time.monotonic()
        while not self.stop.wait(self.poll):
            try:
                status = self.store.get_operation(self.op_id).status
                if status in ("paused", "cancelled"):
                    self.result.status = status
                    self.stop.set()
                    return
                if time.monotonic() - last_beat >= self.heartbeat_every:
                    self.store.heartbeat(self.op_id, self.token)
                    last_beat = time.monotonic()
            except FencedError as exc:
                self.result.failures.append(f"lease lost: {exc}")
                self.stop.set()
                return
            except AurumError:
                continue

    # ---- one node -------------------------------------------------------------------------------

    def _node_run(self) -> N.NodeRun:
        target = (self.settings.get("replay") or {}).get("schemaVersion")
        return N.NodeRun(self.op_id, self.source, self.store, self.warehouse, self.token, self.kind, self.settings,
                         lambda ds: target or ds.schema_version, self.fence_scopes)

    def _node(self, node: dict[str, Any], executor: Any, checkpoint: Any) -> None:
        kind = node["kind"]
        if kind == "extract":
            self._extract(node, executor, checkpoint)
        elif kind == "derive":
            lid, records = N.derive(self._node_run(), node)
            self.store.upsert_checkpoint(self.op_id, node["id"], status="staged", load_id=lid, records=records,
                                         finished_at=time.time())
            with self._lock:
                self.result.counters.records += records
        elif kind == "validate":
            self._validate(node)
        elif kind == "commit":
            self._commit(node, checkpoint)

    def _extract(self, node: dict[str, Any], executor: Any, checkpoint: Any) -> None:
        nid = node["id"]
        ds = self.source.datasets[node["dataset"]]
        start, end = (IntervalSet.from_json([node["window"]]).span or (0, 0))
        run = self._node_run()
        attempts = (checkpoint.attempts if checkpoint else 0) + 1
        lid = N.stage(run, node, node["series"], start, end)
        self.store.upsert_checkpoint(self.op_id, nid, status="running", load_id=lid, started_at=time.time(),
                                     attempts=attempts, error=None)
        retries = self.settings["retries"]
        job = ExtractJob(self.op_id, nid, lid, self.source, ds,
                         RequestSpec.of_node(self.source.name, node),
                         get_driver(self.source.driver), api_key(self.source), self.settings["batchSize"],
                         RetryPolicy(retries["max"], retries["backoff_seconds"], retries["maxBackoff_seconds"]),
                         transform=self._transform(), stop=self.stop, on_progress=self._progress(nid),
                         external_id=checkpoint.external_id if checkpoint else None,
                         record_external_id=lambda ext: self.store.upsert_checkpoint(self.op_id, nid,
                                                                                     external_id=ext))
        try:
            counters = executor.run_extract(job)
        except Stopped:
            raise
        except SuspendedError as exc:
            self.result.failures.append(f"{nid}: {exc} (operation paused; resume later)")
            self.store.update_operation(self.op_id, status="paused")
            self.result.status = "paused"
            self.stop.set()
            raise Stopped() from exc
        except (SourceError, AurumError, OSError) as exc:
            self._failed(node, start, end, str(exc), attempts)
            raise
        crash_point("before-staged")
        if getattr(executor, "name", "") == "local":  # rows went through write_batch: the running totals
            load = self.warehouse.load(lid)           # in `loads` were updated with them, atomically
            records, checksum = (load.records, load.checksum) if load else self.warehouse.load_stats(lid)
        else:  # another engine wrote the rows: count and hash what is stored
            records, checksum = self.warehouse.load_stats(lid)
        self.store.upsert_checkpoint(self.op_id, nid, status="staged", requests=counters.requests, records=records,
                                     bytes=counters.bytes, checksum=checksum, finished_at=time.time(),
                                     detail={"throttles": counters.throttles, "retries": counters.retries})
        with self._lock:
            self.result.counters.requests += counters.requests
            self.result.counters.bytes += counters.bytes
            self.result.counters.throttles += counters.throttles
            self.result.counters.retries += counters.retries
        self.hook("node", {"node": nid, "status": "staged", "records": records})

    def _failed(self, node: dict[str, Any], start: int, end: int, error: str, attempts: int) -> None:
        nid = node["id"]
        self.store.upsert_checkpoint(self.op_id, nid, status="failed", error=error[:2000], finished_at=time.time(),
                                     attempts=attempts)
        self.failures.add(source=self.source.name, dataset=node["dataset"], series=list(node["series"]), start=start,
                          end=end, request=node.get("request"), error=error, attempts=attempts)
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

    def _transform(self) -> Callable[[dict[str, Any]], dict[str, Any] | None] | None:
        replay = self.settings.get("replay") or {}
        files = self.plan["spec"].get("files", {})
        fns = []
        for attr, name in (("migration", "migrate"), ("transform", "transform")):
            rel = replay.get(attr)
            if rel:
                fns.append(_load_function(rel, files[rel]["text"], name))
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

    def _dataset_nodes(self, dataset: str, *kinds: str) -> list[dict[str, Any]]:
        return [n for n in self.plan["graph"]["nodes"] if n["dataset"] == dataset and n["kind"] in kinds]

    def _staged_nodes(self, dataset: str) -> list[dict[str, Any]]:
        cps = {c.node_id: c for c in self.store.checkpoints(self.op_id)}
        return [n for n in self._dataset_nodes(dataset, "extract", "derive")
                if cps.get(n["id"]) is not None and cps[n["id"]].status in ("staged", "committed")]

    def _validate(self, node: dict[str, Any]) -> None:
        dataset = node["dataset"]
        staged = self._staged_nodes(dataset)
        if not staged:
            self.store.upsert_checkpoint(self.op_id, node["id"], status="skipped", finished_at=time.time())
            return
        v = self.settings["validation"]
        outcome = validate_dataset(self, dataset, staged)
        self.result.quality.append(outcome)
        decision = N.gate(outcome["score"], v["threshold"], v["onFailure"], dataset)
        rollback_below = (self.settings.get("reprocess") or {}).get("rollbackWhen")
        if rollback_below is not None and outcome["score"] is not None and outcome["score"] < rollback_below:
            decision = "rollback"
        self.store.upsert_checkpoint(self.op_id, node["id"], status="staged" if decision in ("pass", "warn")
                                     else "failed", finished_at=time.time(),
                                     detail={"score": outcome["score"], "decision": decision},
                                     error=None if decision in ("pass", "warn") else
                                     f"quality {outcome['score']:.3f} below {v['threshold']}")
        if decision in ("halt", "rollback"):
            msg = (f"{dataset}: quality score {outcome['score']:.3f} is below the threshold {v['threshold']}; "
                   f"staged data kept, nothing made current")
            with self._lock:
                self.result.failures.append(msg)
                if decision == "rollback":
                    self.result.status = "rollback"
            self.stop.set()
            raise AurumError(msg)

    def _commit(self, node: dict[str, Any], checkpoint: Any) -> None:
        dataset = node["dataset"]
        staged = self._staged_nodes(dataset)
        if not staged:
            self.store.upsert_checkpoint(self.op_id, node["id"], status="skipped", finished_at=time.time())
            return
        replaced = (checkpoint.detail or {}).get("replaced") if checkpoint else None
        replaced = N.commit(self._node_run(), dataset, staged, replaced)
        now = time.time()
        for n in staged:
            self.store.upsert_checkpoint(self.op_id, n["id"], status="committed")
        self.store.upsert_checkpoint(self.op_id, node["id"], status="committed", finished_at=now,
                                     detail={"replaced": replaced, "loads": [N.load_id_of(self.op_id, n["id"])
                                                                             for n in staged]})
        self.hook("node", {"node": node["id"], "status": "committed"})

    # ---- endings --------------------------------------------------------------------------------

    def _discard_uncommitted(self) -> None:
        for load in self.warehouse.loads_for_operation(self.op_id):
            if load.status == "staged":
                self.warehouse.discard_staged(load.load_id)

    def _account(self, nodes: dict[str, dict[str, Any]], state: dict[str, str]) -> None:
        cps = {c.node_id: c for c in self.store.checkpoints(self.op_id)}
        loaded = failed = 0
        counts: dict[str, int] = {}
        for nid, n in nodes.items():
            cp = cps.get(nid)
            status = cp.status if cp else "pending"
            counts[status] = counts.get(status, 0) + 1
            if n["kind"] not in ("extract", "derive"):
                continue
            grain = Grain(self.source.datasets[n["dataset"]].grain)
            if n["kind"] == "extract":
                s, e = IntervalSet.from_json([n["window"]]).span or (0, 0)
                periods = grain.count(s, e) * len(n["series"])
            else:
                periods = n["expected_rows"]
            if status == "committed":
                loaded += periods
            elif status == "failed":
                failed += periods
        self.result.nodes = counts
        summary = self.plan["summary"]
        self.result.periods = {"loaded": loaded, "failed": failed,
                               "skipped": summary["unchanged"] + summary["missing"]}
        if not self.result.counters.requests:
            self.result.counters.requests = sum(c.requests for c in cps.values())
        if not self.result.counters.records:
            self.result.counters.records = sum(c.records for c in cps.values() if c.node_id in nodes)

    def _summary(self) -> dict[str, Any]:
        return {"planned": self.plan["summary"], "estimates": self.plan["estimates"], **self.result.to_dict()}


def _load_function(rel: str, text: str, name: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """A spec's Python file, from the text embedded in the plan (the spec folder's file at plan time)."""
    namespace: dict[str, Any] = {"__name__": f"aurumplan_spec_{sha256_hex(text)[:8]}", "__file__": rel}
    exec(compile(text, rel, "exec"), namespace)
    fn = namespace.get(name)
    if not callable(fn):
        raise PlanError(f"{rel}: defines no function {name}(record) -> dict | None")
    return fn


def holder_alive(host: str, pid: int) -> bool:
    """False only when the holder provably died: same host and no such process (a kill -9)."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def plan_of_operation(store: SqlStateStore, op_id: str) -> dict[str, Any]:
    op = store.get_operation(op_id)
    if not op.plan:
        raise OperationError(f"operation {op_id} has no stored plan")
    return json.loads(op.plan)


def failure_log_path(config: Config, op_id: str) -> Path:
    return config.path(config.logs) / f"failed_records_{op_id}.jsonl"
