"""The reads planning makes, as SQL text that two drivers run: SQLAlchemy (the store, on SQLite or
PostgreSQL) and the standard library's sqlite3 (state/litereader.py), so `aurumplan plan` on the embedded
default starts without importing SQLAlchemy (docs/architecture.md, "Start-up").

Each read takes a `Query`: a function that runs one statement with `:name` parameters (both drivers'
style) and returns its rows as sequences. No SQLAlchemy here: this module is on the plan's import path.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from aurumplan.intervals import IntervalMap
from aurumplan.state.models import Freeze, Lease, Operation, RunRecord, SeriesKey, WatermarkRef

Query = Callable[[str, Mapping[str, Any]], Sequence[Sequence[Any]]]

SCHEMA_VERSION = 1
"""Changes whenever the state tables change in a way older code cannot read (state/schema.py)."""
TABLES = ("meta", "watermarks", "operations", "checkpoints", "leases", "operation_events", "freezes")
"""The tables these reads use."""

WATERMARK_COLUMNS = ("dataset", "series_id", "start", "end", "load_id", "operation_id", "checksum",
                     "schema_version", "records", "committed_at")
LEASE_COLUMNS = ("id", "operation_id", "source", "dataset", "series_id", "start", "end", "host", "pid", "token",
                 "acquired_at", "heartbeat_at", "ttl_seconds", "released")
OPERATION_COLUMNS = ("id", "kind", "source", "status", "reason", "owner", "labels", "spec", "spec_sha256", "plan",
                     "created_at", "updated_at", "host", "pid", "summary", "parent_id")
DATA_KINDS = ("Backfill", "Replay", "Reprocess")

_SERIES = itemgetter(0, 1)
_new_ref = tuple.__new__  # WatermarkRef straight from a row slice, without NamedTuple's Python __new__


def loads(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def columns(names: Iterable[str]) -> str:
    """A select list; every name quoted (`end` is an SQL keyword)."""
    return ", ".join(f'"{n}"' for n in names)


def _in(name: str, values: Iterable[Any], params: dict[str, Any]) -> str:
    """`:name0, :name1, …` for an IN list, its values added to params."""
    keys = []
    for i, value in enumerate(values):
        params[f"{name}{i}"] = value
        keys.append(f":{name}{i}")
    return ", ".join(keys)


def schema_version_error(url: str, version: int) -> str | None:
    """The refusal of a state newer than this code, or None."""
    if version > SCHEMA_VERSION:
        return (f"state at {url} has schema version {version}, newer than this aurumplan understands "
                f"({SCHEMA_VERSION}); upgrade aurumplan")
    return None


def watermark_select(source: str, dataset: str | None, series: Iterable[str] | None,
                     names: Sequence[str] = WATERMARK_COLUMNS) -> tuple[str, dict[str, Any]] | None:
    """The watermark rows of a source (a dataset, some series), sorted by series and start; None when
    `series` is empty (nothing to read)."""
    params: dict[str, Any] = {"source": source}
    sql = f"SELECT {columns(names)} FROM watermarks WHERE source = :source"
    if dataset is not None:
        sql += " AND dataset = :dataset"
        params["dataset"] = dataset
    if series is not None:
        wanted = list(series)
        if not wanted:
            return None
        sql += f" AND series_id IN ({_in('s', wanted, params)})"
    return sql + ' ORDER BY dataset, series_id, "start"', params


def watermarks(query: Query, source: str, dataset: str | None = None,
               series: Iterable[str] | None = None) -> dict[SeriesKey, IntervalMap[WatermarkRef]]:
    """Per series, its rows as an interval map; one ref object per distinct load.

    Rows arrive sorted by series and start and are coalesced here, so the maps are built as they are
    (planning reads 100,000s of rows: no second pass over them).
    """
    select = watermark_select(source, dataset, series, WATERMARK_COLUMNS[:8])
    rows = query(*select) if select is not None else []
    refs: dict[WatermarkRef, WatermarkRef] = {}
    out: dict[SeriesKey, IntervalMap[WatermarkRef]] = {}
    for key, group in groupby(rows, key=_SERIES):
        items: list[tuple[int, int, WatermarkRef]] = []
        last = None
        for row in group:
            ref = _new_ref(WatermarkRef, row[4:])  # (load_id, operation_id, checksum, schema_version)
            ref = refs.setdefault(ref, ref)
            if last is not None and last[1] == row[2] and last[2] is ref:
                last = items[-1] = (last[0], row[3], ref)
            else:
                last = (row[2], row[3], ref)
                items.append(last)
        out[key] = IntervalMap.from_normalized(items)
    return out


def lease(row: Sequence[Any] | Mapping[Any, Any]) -> Lease:
    """A leases row (in LEASE_COLUMNS order, or by name) as a Lease."""
    data = dict(row) if isinstance(row, Mapping) else dict(zip(LEASE_COLUMNS, row, strict=True))
    data["released"] = bool(data["released"])
    return Lease(**data)


def leases(query: Query, active_only: bool, now: float) -> list[Lease]:
    """Leases; active_only keeps the live ones and those of paused operations (they hold)."""
    sql = f"SELECT {columns(LEASE_COLUMNS)} FROM leases"
    if not active_only:
        return [lease(r) for r in query(sql + " ORDER BY id", {})]
    held = [lease(r) for r in query(sql + " WHERE NOT released ORDER BY id", {})]
    paused = paused_operations(query) if held else set()
    return [dataclasses.replace(x, paused=True) if x.operation_id in paused else x
            for x in held if x.live(now) or x.operation_id in paused]


def paused_operations(query: Query) -> set[str]:
    """Operations whose leases hold without a heartbeat: a paused operation keeps its ranges."""
    return {r[0] for r in query("SELECT id FROM operations WHERE status = :paused", {"paused": "paused"})}


def freezes(query: Query, source: str | None = None) -> list[Freeze]:
    """Sources frozen by `aurumplan freeze` (one, or all), by name."""
    sql, params = f"SELECT {columns(('source', 'reason', 'by', 'at'))} FROM freezes", {}
    if source is not None:
        sql, params = sql + " WHERE source = :source", {"source": source}
    return [Freeze(*r) for r in query(sql + " ORDER BY source", params)]


def operation(row: Sequence[Any] | Mapping[Any, Any]) -> Operation:
    """An operations row (in OPERATION_COLUMNS order, or by name) as an Operation."""
    data = dict(row) if isinstance(row, Mapping) else dict(zip(OPERATION_COLUMNS, row, strict=True))
    data["labels"] = loads(data["labels"])
    data["summary"] = loads(data["summary"])
    return Operation(**data)


def attempts_of_spec(query: Query, spec_sha256: str) -> list[Operation]:
    """Operations applied from this spec text, oldest first, without their (large) plans."""
    names = columns(OPERATION_COLUMNS).replace('"plan"', 'NULL AS "plan"')
    sql = (f"SELECT {names} FROM operations WHERE spec_sha256 = :sha AND kind != :rollback "
           "ORDER BY created_at, id")
    return [operation(r) for r in query(sql, {"sha": spec_sha256, "rollback": "Rollback"})]


_EXTRACT = "started_at IS NOT NULL AND finished_at IS NOT NULL AND requests > 0"
_RUN_FIGURES = f"""SELECT operation_id,
 MIN(CASE WHEN {_EXTRACT} THEN started_at END),
 MAX(CASE WHEN {_EXTRACT} THEN finished_at END),
 MAX(finished_at),
 SUM(CASE WHEN {_EXTRACT} THEN requests ELSE 0 END),
 SUM(CASE WHEN {_EXTRACT} THEN 1 ELSE 0 END),
 SUM(CASE WHEN node_id LIKE :validate OR node_id LIKE :commit THEN 1 ELSE 0 END)
 FROM checkpoints WHERE operation_id IN ({{ids}}) GROUP BY operation_id"""
"""Per operation, summed in the database (a large operation has 100,000s of checkpoints): the first
extract start, the last extract end, the last node end, requests, extract and validate/commit nodes."""


def _run(row: Sequence[Any], agg: Sequence[Any] | None, began: float | None) -> RunRecord | None:
    """One operation's figures; None when it sent no request (nothing to learn a latency from)."""
    if agg is None or not agg[4] or agg[1] is None:
        return None
    op_id, created_at, updated_at, summary = row
    _, first_start, last_end, last_finish, requests, extract_nodes, other_nodes = agg
    s = loads(summary)
    settings = s.get("settings") or {}
    return RunRecord(
        operation_id=op_id, began=began, created_at=created_at, first_start=float(first_start),
        last_end=float(last_end), ended=max(float(updated_at), float(last_finish or 0.0)),
        requests=int(requests), retries=int(s.get("retries") or 0), throttles=int(s.get("throttles") or 0),
        records=int(s.get("records") or 0), concurrency=max(1, int(settings.get("concurrency") or 1)),
        rate_limit=settings.get("rateLimit"), extract_nodes=int(extract_nodes), other_nodes=int(other_nodes))


def recent_runs(query: Query, source: str, limit: int = 5) -> list[RunRecord]:
    """The last `limit` operations of `source` that succeeded in one run and sent requests, newest first,
    with what they measured (docs/operations.md, "Estimates"). Read from the operations, checkpoints and
    audit-trail rows every apply writes: no table of its own."""
    params: dict[str, Any] = {"source": source, "succeeded": "succeeded", "n": 4 * limit}
    rows = query("SELECT id, created_at, updated_at, summary FROM operations "
                 f"WHERE source = :source AND status = :succeeded AND kind IN ({_in('k', DATA_KINDS, params)}) "
                 "ORDER BY created_at DESC, id DESC LIMIT :n", params)
    ids = [r[0] for r in rows]
    figures: dict[str, Sequence[Any]] = {}
    began: dict[str, float | None] = {}
    resumed: set[str] = set()
    if ids:
        params = {"validate": "%/validate", "commit": "%/commit"}
        figures = {f[0]: f for f in query(_RUN_FIGURES.format(ids=_in("i", ids, params)), params)}
        params = {"apply": "apply", "resume": "resume"}
        for op_id, kind, detail in query(
                "SELECT operation_id, kind, detail FROM operation_events "
                f"WHERE operation_id IN ({_in('i', ids, params)}) AND kind IN (:apply, :resume)", params):
            if kind == "resume":
                resumed.add(op_id)
            else:
                at = loads(detail).get("began")
                began[op_id] = float(at) if isinstance(at, int | float) else None
    out = []
    for r in rows:
        run = None if r[0] in resumed else _run(r, figures.get(r[0]), began.get(r[0]))
        if run is not None:
            out.append(run)
        if len(out) == limit:
            break
    return out
