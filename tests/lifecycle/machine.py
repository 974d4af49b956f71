"""LifecycleMachine: random operation histories against the fake EIA API, invariants after every step.

Steps run in-process through `aurumplan.api` (pause and cancel are requested from the apply's own
progress hook, as another process would), except kill -9, which runs `aurumplan apply|resume` in a
child process with AURUMPLAN_CRASH_AT set. Every AurumError a step raises is an answer (a refusal),
recorded in the model's log; any other exception is a bug and fails the history.
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aurumplan import api
from aurumplan.errors import AurumError, StateError
from tests.lifecycle.invariants import Model, OpInfo, Snapshot, check, planned_keys
from tests.lifecycle.world import DAYS, HOUR, SERIES, FaultyEia, Project, spec_text

CRASH_POINTS = ("before-staged", "after-batch", "before-commit", "after-warehouse-commit", "mid-watermarks")
KINDS = ("Backfill", "Backfill", "Replay", "Reprocess")
# kill -9 needs a child process (~1.5 s of start-up): rarer than the in-process interruptions
INTERRUPTS = ("none",) * 9 + ("pause", "pause", "cancel", "cancel-force", "kill")
# API faults during one step: none, every request 500, every other one, every third 429, one series down
FAULTS = (None, None, None, "500-all", "500-some", "429-some", "MISO-down")
TERMINAL = ("succeeded", "cancelled", "rolled_back")
COLLECT = os.environ.get("AURUMPLAN_HISTORIES_LOG")
"""Long runs: a history that breaks an invariant is appended to this JSON-lines file instead of failing."""
PAUSE_LATENCY = 0.6  # the fake answers this slowly once a pause/cancel is requested: the applier polls


def resume_overrides() -> tuple[str, ...]:
    """The tuning overrides `api.resume` takes on this version of main (none before issue 11)."""
    params = inspect.signature(api.resume).parameters
    return tuple(p for p in ("concurrency", "rate_limit", "batch_size") if p in params)


class LifecycleMachine(RuleBasedStateMachine):
    """One history; subclasses set `server` and `db_urls` (a generator of fresh database URLs)."""

    server: ClassVar[FaultyEia]
    db_urls: ClassVar[Callable[[Path], Iterator[str]]]

    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory(prefix="aurum-life-")
        self._urls = type(self).db_urls(Path(self._tmp.name))
        url = next(self._urls)
        self.srv = type(self).server
        self.srv.fault = None
        self.srv.fail_series = set()
        self.srv.delay = 0.0
        self.srv.data.clear()
        self.srv.served.clear()
        self.project = Project(Path(self._tmp.name) / "p", url, self.srv)
        self.model = Model()
        self.n_specs = 0
        self.last_result: Any = None
        self.broken = False
        self.crashed: str | None = None
        os.environ["EIA_API_KEY"] = "lifecycle-key"

    def teardown(self) -> None:
        if COLLECT:  # one line per history run, so a long run can say how many it ran
            with open(COLLECT + ".count", "a") as fh:
                fh.write(f"{self.project.db_url.split(':', 1)[0]} {self.model.step}\n")
        if os.environ.get("AURUMPLAN_HISTORY_VERBOSE"):
            print("history:\n  " + "\n  ".join(self.model.log))
        self.srv.fault = None
        self.srv.delay = 0.0
        for _ in self._urls:  # drops a PostgreSQL schema
            pass
        self._tmp.cleanup()

    # ---- helpers ------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        self.model.log.append(f"step {self.model.step}: {text}")

    def _ops_now(self) -> set[str]:
        try:
            return {o["id"] for o in api.ops_list(self.project.ctx)}
        except StateError:  # nothing applied yet: no state file (read commands refuse a missing one)
            return set()

    def _hook(self, op_id: str, interrupt: str) -> Callable[[str, dict[str, Any]], None]:
        fired = threading.Event()

        def hook(event: str, data: dict[str, Any]) -> None:
            if interrupt == "none" or event != "node" or data.get("status") != "staged" or fired.is_set():
                return
            fired.set()
            try:
                if interrupt == "pause":
                    api.pause(op_id, self.project.ctx)
                elif interrupt == "cancel":
                    api.cancel(op_id, self.project.ctx)
                elif interrupt == "cancel-force":
                    api.cancel(op_id, self.project.ctx, force=True)
            except AurumError as exc:
                self.note(f"{interrupt} refused: {exc}")
            self.srv.delay = PAUSE_LATENCY

        return hook

    def _step(self, target: str | None, fn: Callable[[], str], fault: str | None = None) -> None:
        """Run one step: tag what the API serves, attribute it, then record new operations and commits."""
        t0 = time.monotonic()
        before = self._ops_now()
        self.srv.step = self.model.step
        background = self.srv.fault
        if fault == "MISO-down":
            self.srv.fail_series = {"MISO"}
        elif fault is not None:
            self.srv.fault = fault
        try:
            outcome = fn()
        except AurumError as exc:
            outcome = f"refused: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        except Exception as exc:  # a bug, not an answer: fails the history (or is collected, see COLLECT)
            if not COLLECT:
                raise
            outcome = f"CRASHED: {type(exc).__name__}: {exc}"
            self.crashed = outcome
        finally:
            self.srv.delay = 0.0
            self.srv.fault = background
            self.srv.fail_series = set()
        if fault is not None:
            outcome += f" [API fault: {fault}]"
        created = self._ops_now() - before
        ops = api.ops_list(self.project.ctx)
        for o in ops:
            if o["id"] in created and o["kind"] != "Rollback" and o["id"] not in self.model.ops:
                plan = api.plan_of_operation(api.open_store(self.project.ctx), o["id"])
                self.model.ops[o["id"]] = OpInfo(o["id"], o["kind"], None, self.model.step,
                                                 planned_keys(plan) if plan else set())
        involved = {t for t in ({target} | created) if t in self.model.ops}
        served = [(s.step, s.key, s.value) for s in list(self.srv.served)]
        self.model.record_fetches(involved, served)
        snap = Snapshot.read(self.project.db_url)
        for lid, ld in snap.loads.items():
            if ld["commit_seq"] is not None and lid not in self.model.commit_step:
                self.model.commit_step[lid] = self.model.step
        status = {o["id"]: o["status"] for o in ops}
        self.note(f"{outcome} -> {status.get(target or '', '?') if target else ''} ({time.monotonic() - t0:.2f}s)")
        self._snap = snap
        self.model.step += 1

    def _new_spec(self, kind: str, series: list[str], start: int, days: int, **kw: Any) -> Path:
        self.n_specs += 1
        path = self.project.folder / f"op{self.n_specs}.yaml"
        path.write_text(spec_text(kind, f"op{self.n_specs}-{kind.lower()}", series, start, days, **kw))
        return path

    def _plan(self, spec: Path) -> tuple[str, Any]:
        """Plan a spec (saved next to it as .plan.json) and register the operation in the model."""
        planned = api.plan(spec, self.project.ctx, out=spec.with_suffix(".plan.json"))
        op_id = planned.plan["operation"]["id"]
        if op_id not in self.model.ops:
            kind = planned.plan["operation"]["kind"]
            self.model.ops[op_id] = OpInfo(op_id, kind, spec, self.model.step, planned_keys(planned.plan))
        return op_id, planned

    def _apply(self, spec: Path, interrupt: str, crash: str, via_file: bool, fault: str | None = None) -> str:
        op_id, planned = self._plan(spec)

        if interrupt == "kill" and not self.model.ops[op_id].planned:
            interrupt = "none"  # nothing to fetch or commit: a child process would only cost its start-up

        def go() -> str:
            if interrupt == "kill":
                res = self.project.cli("apply", str(spec.with_suffix(".plan.json")), crash=crash)
                return f"apply {op_id} killed at {crash}: rc {res.returncode} {res.stderr.strip()[-200:]}"
            plan = api.show(spec.with_suffix(".plan.json")) if via_file else planned.plan
            r = api.apply_plan(plan, self.project.ctx, hook=self._hook(op_id, interrupt))
            self.last_result = r
            return f"apply {op_id} ({interrupt}): {r.status}"

        self._step(op_id, go, fault)
        return op_id

    def _resume(self, op_id: str, interrupt: str = "none", crash: str = "", overrides: dict[str, Any] | None = None,
                fault: str | None = None) -> None:
        overrides = overrides or {}
        if interrupt == "kill" and not any(o["id"] == op_id and o["status"] in ("running", "paused", "failed", "halted")
                                           for o in api.ops_list(self.project.ctx)):
            interrupt = "none"  # it will be refused: no need for a child process to hear that

        def go() -> str:
            if interrupt == "kill":
                args = []
                for p, v in overrides.items():
                    args += [f"--{p.replace('_', '-')}", str(v)]
                res = self.project.cli("resume", op_id, *args, crash=crash)
                return f"resume {op_id} killed at {crash}: rc {res.returncode}"
            r = api.resume(op_id, self.project.ctx, hook=self._hook(op_id, interrupt), **overrides)
            self.last_result = r
            return f"resume {op_id} {overrides or ''} ({interrupt}): {r.status}"

        self._step(op_id, go, fault)

    def violations(self) -> list[str]:
        return check(self.model, self._snap, self.project.logs)

    def status_of(self, op_id: str) -> str:
        return str(self._snap.operations[op_id]["status"])

    # ---- rules --------------------------------------------------------------------------------

    @initialize(series=st.lists(st.sampled_from(SERIES), min_size=1, max_size=2, unique=True),
                start=st.integers(0, DAYS - 1))
    def first_backfill(self, series: list[str], start: int) -> None:
        """Every history starts from some loaded data (a day of one or two series: more is left to fill)."""
        self._apply(self._new_spec("Backfill", series, start, 1), "none", "", False)

    @rule(kind=st.sampled_from(KINDS), series=st.lists(st.sampled_from(SERIES), min_size=1, max_size=3, unique=True),
          start=st.integers(0, DAYS - 1), days=st.integers(1, 2), interrupt=st.sampled_from(INTERRUPTS),
          crash=st.tuples(st.sampled_from(CRASH_POINTS), st.integers(1, 2)), via_file=st.booleans(),
          fault=st.sampled_from(FAULTS))
    def apply_new(self, kind: str, series: list[str], start: int, days: int, interrupt: str,
                  crash: tuple[str, int], via_file: bool, fault: str | None) -> None:
        spec = self._new_spec(kind, series, start, min(days, DAYS - start))
        self._apply(spec, interrupt, f"{crash[0]}:{crash[1]}", via_file, fault)

    def _pick(self, which: int, statuses: tuple[str, ...] | None = None) -> str | None:
        """The which-th (modulo) operation in one of these statuses.

        An index, not a draw from the list: which operations are paused or failed depends on timing,
        and hypothesis must see the same draws when it replays a history.
        """
        known = [o for o in api.ops_list(self.project.ctx) if o["id"] in self.model.ops]
        ops = sorted(o["id"] for o in known if statuses is None or o["status"] in statuses)
        if not ops or which % 4 == 3:  # now and then any operation: a refusal must leave everything intact
            ops = sorted(o["id"] for o in known)
        return ops[which % len(ops)] if ops else None

    @precondition(lambda self: bool(self.model.ops))
    @rule(which=st.integers(0, 99), interrupt=st.sampled_from(INTERRUPTS), fault=st.sampled_from(FAULTS))
    def reapply(self, which: int, interrupt: str, fault: str | None) -> None:
        """Apply an earlier operation's spec again (the runbook's retry after a non-success)."""
        specs = sorted({str(i.spec) for i in self.model.ops.values() if i.spec is not None})
        if not specs:
            return
        spec = Path(specs[which % len(specs)])
        self._apply(spec, interrupt if interrupt != "kill" else "none", "", False, fault)

    @precondition(lambda self: bool(self.model.ops))
    @rule(which=st.integers(0, 99), interrupt=st.sampled_from(("none", "none", "none", "none", "pause", "kill")),
          crash=st.tuples(st.sampled_from(CRASH_POINTS), st.integers(1, 2)), tune=st.booleans(),
          fault=st.sampled_from(FAULTS))
    def resume(self, which: int, interrupt: str, crash: tuple[str, int], tune: bool,
               fault: str | None) -> None:
        op_id = self._pick(which, ("paused", "failed", "running", "interrupted", "halted", "cancelled"))
        if op_id is None:
            return
        overrides = {p: {"concurrency": 1, "rate_limit": 500.0, "batch_size": 12}[p]
                     for p in resume_overrides()} if tune else {}
        self._resume(op_id, interrupt, f"{crash[0]}:{crash[1]}", overrides, fault)

    @precondition(lambda self: bool(self.model.ops))
    @rule(which=st.integers(0, 99), force=st.booleans())
    def cancel(self, which: int, force: bool) -> None:
        op_id = self._pick(which, ("running", "paused", "failed", "interrupted", "halted"))
        if op_id is None:
            return
        self._step(op_id, lambda: f"cancel {op_id} force={force}: "
                   f"{api.cancel(op_id, self.project.ctx, force=force)['message']}")

    @precondition(lambda self: bool(self.model.ops))
    @rule(which=st.integers(0, 99))
    def rollback(self, which: int) -> None:
        op_id = self._pick(which, ("succeeded", "failed", "paused", "cancelled", "halted", "interrupted"))
        if op_id is None:
            return
        self._step(op_id, lambda: f"rollback {op_id}: {api.rollback_apply(op_id, self.project.ctx)['mode']}")

    @rule(series=st.sampled_from(SERIES), start=st.integers(0, DAYS * 24 - 1), n=st.integers(1, 30),
          delta=st.integers(1, 500))
    def revise(self, series: str, start: int, n: int, delta: int) -> None:
        def go() -> str:
            from tests.lifecycle.world import DAY0
            t0 = int(DAY0.timestamp()) + start * HOUR
            for i in range(min(n, DAYS * 24 - start)):
                self.srv.revise((series, t0 + i * HOUR), float(delta))
            return f"upstream revised {series} hours {start}..{start + n - 1} by +{delta}"

        self._step(None, go)

    @invariant()
    def invariants_hold(self) -> None:
        snap = getattr(self, "_snap", None)
        if snap is None or self.broken:
            return
        bad = check(self.model, snap, self.project.logs)
        if self.crashed:
            bad.insert(0, f"bug: {self.crashed}")
        if bad and COLLECT:  # long runs: write the history down and go on with the next one
            self.broken = True
            with open(COLLECT, "a") as fh:
                fh.write(json.dumps({"backend": self.project.db_url.split(":", 1)[0], "violations": bad[:12],
                                     "history": self.model.log}) + "\n")
            return
        assert not bad, "\n".join(bad[:12]) + "\nhistory:\n  " + "\n  ".join(self.model.log)
