"""A schema_correction Replay rewrites what is stored: each extract node migrates the active rows of its
periods instead of fetching them again (docs/quality.md, "Schema versions").

`migrate(record)` gets the stored record whole: source, dataset, series_id, period (epoch seconds),
value, unit, attributes (a dict or None) and schema_version (the version it was stored at). What it
returns is staged under the node's load, stamped with the Replay's schemaVersion; None drops the
record (the commit then removes it from the current version, and a rollback brings it back).
No request is sent and no quota is spent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aurumplan.apply.nodes import NodeRun
from aurumplan.errors import OperationError
from aurumplan.executors.base import Counters
from aurumplan.intervals import IntervalSet, fmt_ts
from aurumplan.plan.model import ExtractNode
from aurumplan.warehouse import Warehouse
from aurumplan.warehouse.rows import Record

Migrate = Callable[[dict[str, Any]], dict[str, Any] | None]


def migrate_node(run: NodeRun, node: ExtractNode, load_id: str, migrate: Migrate, batch_size: int,
                 counters: Counters, on_progress: Callable[[Counters], None] | None = None) -> Counters:
    """Stage the node's periods as `migrate` rewrites their active rows; counts into `counters`."""
    wh = run.warehouse
    ds = run.source.datasets[node.dataset]
    versions: dict[str, str] = {}
    batch: list[Record] = []
    where = {sid: node.where(sid) for sid in node.series}
    span = IntervalSet([iv for w in where.values() for iv in w]).span
    rows = [r for r in wh.read_rows(run.source.name, ds.name, span) if r.series_id in where
            and where[r.series_id].contains(r.period)] if span else []
    for row in rows:
        if row.load_id not in versions:
            load = wh.load(row.load_id)
            versions[row.load_id] = (load.schema_version if load else None) or ds.schema_version
        record = {"source": row.source, "dataset": row.dataset, "series_id": row.series_id,
                  "period": row.period, "value": row.value, "unit": row.unit,
                  "attributes": dict(row.attributes) if row.attributes else row.attributes,
                  "schema_version": versions[row.load_id]}
        try:
            out = migrate(dict(record))
        except Exception as exc:  # the user's code: one line naming the record, never a traceback
            raise OperationError(f"migrate() failed on {row.series_id} at {fmt_ts(row.period)}: "
                                 f"{type(exc).__name__}: {exc}") from None
        if out is None:
            continue
        batch.append(_as_record(out, record))
        if len(batch) >= batch_size:
            _flush(wh, load_id, run.source.name, ds.name, batch, counters, on_progress)
    if batch:
        _flush(wh, load_id, run.source.name, ds.name, batch, counters, on_progress)
    return counters


def _as_record(out: dict[str, Any], record: dict[str, Any]) -> Record:
    """A migrated record as a warehouse record; it may not move to another series or period."""
    where = f"{record['series_id']} at {fmt_ts(record['period'])}"
    if not isinstance(out, dict):
        raise OperationError(f"migrate() returned {type(out).__name__} for {where}: return the record as a "
                             "dict, or None to drop it")
    if out.get("series_id", record["series_id"]) != record["series_id"] or \
            out.get("period", record["period"]) != record["period"]:
        raise OperationError(f"migrate() moved {where} to another series or period: a schema migration "
                             "rewrites records in place")
    value = out.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise OperationError(f"migrate() returned value {value!r} for {where}: return a number or None")
    return (record["series_id"], record["period"], None if value is None else float(value),
            out.get("unit", record["unit"]), out.get("attributes", record["attributes"]))


def _flush(wh: Warehouse, load_id: str, source: str, dataset: str, batch: list[Record], counters: Counters,
           on_progress: Callable[[Counters], None] | None) -> None:
    wh.write_records(load_id, source, dataset, batch)
    counters.records += len(batch)
    batch.clear()
    if on_progress is not None:
        on_progress(counters)
