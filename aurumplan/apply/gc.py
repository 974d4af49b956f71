"""`aurumplan gc`: delete superseded versions that no rollback can need (docs/replay.md, "Archive and retention").

The state decides which operations are eligible: ended (succeeded, cancelled or rolled back, or failed or
halted and superseded by a later attempt) and last changed before the retention cut-off. Running,
paused, failed and halted operations can still resume, so their versions and the versions they
replaced stay, however old. The warehouse then
deletes in one locked transaction (warehouse/gc.py), so an apply committing meanwhile is safe.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

from aurumplan.apply.rollback import commit_records
from aurumplan.config import Config
from aurumplan.errors import OperationError
from aurumplan.state import Operation, open_state
from aurumplan.warehouse import open_warehouse

ENDED = frozenset(("succeeded", "cancelled", "rolled_back"))
SUPERSEDABLE = frozenset(("failed", "halted"))
"""Resumable, until a later attempt of the same spec supersedes them (docs/architecture.md, "Re-running a spec")."""
_AGE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNIT = {"d": 86400, "h": 3600, "m": 60}


def parse_age(text: str) -> int:
    """`90d`, `36h` or `30m` as seconds."""
    m = _AGE.match(text)
    if m is None:
        raise OperationError(f"--older-than {text!r}: use a whole number of days, hours or minutes, e.g. 90d")
    return int(m.group(1)) * _UNIT[m.group(2)]


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def archives_of(store: Any, op_id: str) -> list[str]:
    """The archive files an operation's commits wrote (spec `archive:`), oldest commit first."""
    files = [(rec.get("archive") or {}).get("file") for _, rec in reversed(commit_records(store, op_id))]
    return [f for f in dict.fromkeys(files) if f]


def ended_operations(ops: list[Operation]) -> set[str]:
    """Operations that will never run again: ended, or failed/halted and superseded by a later attempt."""
    later: dict[str, float] = {}
    for o in ops:
        first = o.parent_id or o.id
        later[first] = max(later.get(first, 0.0), o.created_at)
    return {o.id for o in ops if o.status in ENDED
            or (o.status in SUPERSEDABLE and later.get(o.parent_id or o.id, 0.0) > o.created_at)}


def collect(config: Config, older_than: str, *, dry_run: bool = False, now: float | None = None) -> dict[str, Any]:
    """Delete (or with dry_run only count) what no rollback can need; returns what and why."""
    age = parse_age(older_than)
    cutoff = (time.time() if now is None else now) - age
    with open_state(config.state_url, create=True) as store:
        ops = store.list_operations()
        ended = ended_operations(ops)
        eligible = [o.id for o in ops if o.id in ended and o.updated_at < cutoff]
        recent = sorted(o.id for o in ops if o.id in ended and o.updated_at >= cutoff)
        open_ops = sorted((o.id, o.status) for o in ops if o.id not in ended and o.kind != "Rollback")
        with open_warehouse(config.warehouse_url) as warehouse:
            got = warehouse.collect_garbage(eligible, dry_run=dry_run)
        lost = [{"operation": op, "archives": archives_of(store, op)} for op in sorted(got.unrollbackable)]
        if not dry_run:
            for op in sorted(got.operations | got.unrollbackable):
                store.add_event(op, "gc", {"older_than": older_than, "cutoff": _iso(cutoff),
                                           "can_roll_back": op not in got.unrollbackable})
    return {"older_than": older_than, "cutoff": _iso(cutoff), "dry_run": dry_run,
            "rows": got.rows, "bytes": got.bytes, "links": got.links,
            "datasets": [{"source": s, "dataset": d, "rows": n, "bytes": b}
                         for (s, d), (n, b) in sorted(got.by_dataset.items())],
            "operations": sorted(got.operations), "no_longer_rollbackable": lost,
            "kept": {"inside_retention": recent,
                     "not_ended": [{"operation": op, "status": st} for op, st in open_ops]}}
