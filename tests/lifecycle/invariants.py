"""The model of a history and the invariants checked after every step, read from the tables directly.

The model knows, per operation, every value the API served to it and at which step (the fake
records them), and at which step each load was first seen committed. The invariants compare that
with what the warehouse and the state say:

1. latest committed wins: each current row is the one of the committed load with the highest
   commit_seq holding that period, with the value the API served to that load's operation (or, for
   rows an attempt reused from an earlier attempt's staged load, to that earlier attempt);
2. no duplicate current rows;
3. the watermarks name exactly the current rows' periods and loads;
4. no staged version became current over a newer one: the operation that made a row current
   fetched it no earlier than the step at which any other load committed at that period;
5. a `succeeded` operation has every planned create/replace period current (by it or later);
6. nothing is lost: a failed (or halted) operation's planned periods are current, staged for
   its resume, in its failure log, or planned again by a later attempt of the same spec.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aurumplan.intervals import parse_ts
from aurumplan.state import schema as S
from aurumplan.warehouse import schema as W
from tests.lifecycle.world import DATASET, HOUR, Key

FAILED = ("failed", "halted")


def epoch(d: dt.datetime) -> int:
    return int(d.replace(tzinfo=dt.UTC).timestamp())


def hours(start: int, end: int) -> range:
    return range(start, end, HOUR)


@dataclass
class OpInfo:
    """An operation the history started (or that appeared during a step, e.g. a new attempt)."""

    op_id: str
    kind: str
    spec: Path | None
    created_step: int
    planned: set[Key] = field(default_factory=set)


def planned_keys(plan: dict[str, Any]) -> set[Key]:
    """The (series, period) pairs a plan creates or replaces."""
    out: set[Key] = set()
    for ds in plan.get("datasets", []):
        if ds["dataset"] != DATASET:
            continue
        for a in ds["actions"]:
            if a["action"] not in ("create", "replace"):
                continue
            for s, e in a["intervals"]:
                for sid in a["series"]:
                    out.update((sid, t) for t in hours(parse_ts(s), parse_ts(e)))
    return out


@dataclass
class Model:
    """What the history did, as far as the test knows it without asking aurumplan."""

    ops: dict[str, OpInfo] = field(default_factory=dict)
    fetched: dict[str, dict[Key, tuple[int, float | None]]] = field(default_factory=dict)
    commit_step: dict[str, int] = field(default_factory=dict)
    step: int = 0
    log: list[str] = field(default_factory=list)

    def record_fetches(self, ops: Iterable[str], served: Iterable[tuple[int, Key, float | None]]) -> None:
        """Values the API served during this step, attributed to the operations that ran in it."""
        rows = [(st, k, v) for st, k, v in served if st == self.step]
        for op in ops:
            seen = self.fetched.setdefault(op, {})
            for st, k, v in rows:
                seen[k] = (st, v)


@dataclass
class Snapshot:
    """The tables, read in one go after a step."""

    current: list[tuple[str, int, float | None, str]]
    loads: dict[str, dict[str, Any]]
    rows: dict[str, dict[Key, float | None]]
    watermarks: list[tuple[str, int, int, str]]
    operations: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, url: str) -> Snapshot:
        eng = sa.create_engine(url)
        try:
            with eng.connect() as c:
                if not sa.inspect(c).has_table("loads") or not sa.inspect(c).has_table("operations"):
                    return cls([], {}, {}, [], {})
                cur = [(r.series_id, epoch(r.period), r.value, r.load_id) for r in c.execute(
                    W.current_select.where(W.observations.c.dataset == DATASET))]
                loads = {r["load_id"]: dict(r) for r in c.execute(
                    sa.select(W.loads).where(W.loads.c.dataset == DATASET)).mappings()}
                rows: dict[str, dict[Key, float | None]] = {}
                o = W.observations
                for r in c.execute(sa.select(o.c.load_id, o.c.series_id, o.c.period, o.c.value)
                                   .where(o.c.dataset == DATASET)):
                    rows.setdefault(r.load_id, {})[(r.series_id, epoch(r.period))] = r.value
                w = S.watermarks
                marks = [(r.series_id, r.start, r.end, r.load_id) for r in c.execute(
                    sa.select(w.c.series_id, w.c.start, w.c.end, w.c.load_id).where(w.c.dataset == DATASET))]
                ops = {r["id"]: dict(r) for r in c.execute(sa.select(S.operations)).mappings()}
        finally:
            eng.dispose()
        return cls(cur, loads, rows, marks, ops)


def check(model: Model, snap: Snapshot, logs: Path) -> list[str]:
    """Every invariant; returns the violations (empty when all hold)."""
    bad: list[str] = []
    current: dict[Key, tuple[float | None, str]] = {}
    for sid, ts, value, lid in snap.current:
        k = (sid, ts)
        if k in current:
            bad.append(f"inv2 duplicate current rows at {k}: loads {current[k][1]} and {lid}")
        current[k] = (value, lid)

    # 1. latest committed wins, with the value served to that operation
    committed = {lid: ld for lid, ld in snap.loads.items() if ld["status"] == "committed"}
    expected: dict[Key, str] = {}
    for lid, _ld in sorted(committed.items(), key=lambda kv: kv[1]["commit_seq"] or 0):
        for k in snap.rows.get(lid, {}):
            expected[k] = lid
    for k in sorted(set(expected) | set(current)):
        want, got = expected.get(k), current.get(k, (None, None))[1]
        if want != got:
            bad.append(f"inv1 at {k}: current load {got}, but the latest committed load holding it is {want}")
    for k, (value, lid) in sorted(current.items()):
        load = snap.loads.get(lid)
        if load is None:
            bad.append(f"inv1 at {k}: current load {lid} is not in `loads`")
            continue
        op = load["operation_id"]
        served = served_to(model, op, k)
        if served is None:
            bad.append(f"inv1 at {k}: current value {value} of {lid}, but the API never served {k} to {op}")
        elif served[1] != value:
            bad.append(f"inv1 at {k}: current value {value} of {lid}, but the API last served {served[1]} "
                       f"to {op} (step {served[0]})")

    # 3. watermarks equal the warehouse
    marks: dict[Key, str] = {}
    for sid, s, e, lid in snap.watermarks:
        for t in hours(s, e):
            if (sid, t) in marks:
                bad.append(f"inv3 overlapping watermarks at {(sid, t)}: {marks[(sid, t)]} and {lid}")
            marks[(sid, t)] = lid
    # A kill -9 between the warehouse commit and the watermark update leaves them apart until the
    # operation is resumed (the documented repair): tolerated only while it is running/interrupted.
    unfinished = {op for op, row in snap.operations.items() if row["status"] in ("running", "interrupted")}

    def op_of(lid: str | None) -> str | None:
        return snap.loads[lid]["operation_id"] if lid in snap.loads else None

    for k in sorted(set(marks) | set(current)):
        m, c = marks.get(k), current.get(k, (None, None))[1]
        if m != c and not ({op_of(m), op_of(c)} & unfinished):
            bad.append(f"inv3 at {k}: watermark names {m}, current row is of {c}")

    # 4. nothing made current over a version committed after it was fetched
    for k, (_, lid) in sorted(current.items()):
        load = snap.loads.get(lid)
        if load is None or load["commit_seq"] is None:
            continue
        op = load["operation_id"]
        fetched = served_to(model, op, k)
        if fetched is None:
            continue  # already reported by inv1
        for other, ol in committed.items():
            if other == lid or ol["operation_id"] == op or k not in snap.rows.get(other, {}):
                continue
            if (ol["commit_seq"] or 0) < load["commit_seq"] and model.commit_step.get(other, -1) > fetched[0]:
                bad.append(f"inv4 at {k}: {lid} ({op}) was fetched at step {fetched[0]} and made current over "
                           f"{other} ({ol['operation_id']}), committed later, at step {model.commit_step[other]}")

    # 5 and 6: what the operations say against what is current
    for op_id, info in sorted(model.ops.items()):
        row = snap.operations.get(op_id)
        if row is None or not info.planned:
            continue
        status = row["status"]
        if status not in ("succeeded", *FAILED):
            continue
        missing = []
        for k in sorted(info.planned):
            cur = current.get(k)
            if cur is None:
                missing.append(k)
                continue
            ld = snap.loads.get(cur[1])
            if ld is not None and ld["operation_id"] != op_id and \
                    model.commit_step.get(cur[1], -1) < info.created_step:
                missing.append(k)  # current, but from a load committed before this operation began
        if not missing:
            continue
        if status == "succeeded":
            bad.append(f"inv5 {op_id} is succeeded but {len(missing)} of its {len(info.planned)} planned "
                       f"periods are not current by it or a later operation, e.g. {missing[:3]}")
            continue
        kept = failure_log_keys(logs, op_id)  # failed and logged, or staged for its resume,
        for later in model.ops.values():  # or handed to a later attempt of the same spec (<first>-a<n>)
            if later.op_id != op_id and attempt_base(later.op_id) == attempt_base(op_id) and \
                    later.created_step > info.created_step:
                kept.update(later.planned)
        for lid, ld in snap.loads.items():
            if ld["operation_id"] == op_id and ld["status"] == "staged":
                kept.update(snap.rows.get(lid, {}))
        lost = [k for k in missing if k not in kept]
        if lost:
            bad.append(f"inv6 {op_id} is {status}: {len(lost)} planned periods neither current, nor staged for "
                       f"its resume, nor in its failure log, e.g. {lost[:3]}")
    return bad


def served_to(model: Model, op_id: str, k: Key) -> Any:
    """(step, value) the API last served for k to the operation, or to the latest earlier attempt of its spec:
    attempt n reuses an earlier attempt's staged rows for an identical node when nobody committed in its
    range since (docs/architecture.md, "Operation lifecycle"), so its row may have been fetched by that one."""
    own = model.fetched.get(op_id, {}).get(k)
    if own is not None:
        return own
    base = attempt_base(op_id)
    n = int(op_id.rsplit("-a", 1)[1]) if op_id != base else 1
    for m in range(n - 1, 0, -1):
        got = model.fetched.get(base if m == 1 else f"{base}-a{m}", {}).get(k)
        if got is not None:
            return got
    return None


def attempt_base(op_id: str) -> str:
    """The first attempt's id: re-planning a failed spec starts `<first>-a<n>`."""
    return re.sub(r"-a\d+$", "", op_id)


def failure_log_keys(logs: Path, op_id: str) -> set[Key]:
    """The (series, period) pairs the operation's failure log names."""
    path = logs / f"failed_records_{op_id}.jsonl"
    out: set[Key] = set()
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        e = json.loads(line)
        if e.get("dataset") != DATASET:
            continue
        s, t = e["interval"]
        for sid in e["series"]:
            out.update((sid, x) for x in hours(parse_ts(s), parse_ts(t)))
    return out
