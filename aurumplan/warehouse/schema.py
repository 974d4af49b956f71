"""Warehouse tables: every version of every record, plus which version is active.

What each table holds is in docs/architecture.md, "The warehouse tables".
"""

from __future__ import annotations

import functools
import hashlib

import sqlalchemy as sa

metadata = sa.MetaData()
_Ts = sa.DateTime(timezone=False)  # naive UTC

# SQLite: WITHOUT ROWID, so each row lives once, in its primary-key tree (a rowid table keeps the
# long key twice: in the table and in the key's index), which makes staging and commits cheaper.
observations = sa.Table(
    "observations", metadata,
    # load_id leads the key: a load's rows are then one contiguous index range (fast writes,
    # discards, commits); lookups of the active version always know all five columns.
    sa.Column("load_id", sa.String(128), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("dataset", sa.String(128), primary_key=True),
    sa.Column("series_id", sa.String(256), primary_key=True),
    sa.Column("period", _Ts, primary_key=True),
    sa.Column("value", sa.Float(53), nullable=True),
    sa.Column("unit", sa.Text),
    sa.Column("attributes", sa.Text),
    sqlite_with_rowid=False,
)

observations_active = sa.Table(
    "observations_active", metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("dataset", sa.String(128), primary_key=True),
    sa.Column("series_id", sa.String(256), primary_key=True),
    sa.Column("period", _Ts, primary_key=True),
    sa.Column("load_id", sa.String(128), nullable=False),
    # On SQLite no index on load_id: a commit writes every active row, and a second index made it
    # ~25% slower; a rollback reaches a load's active rows through its rows in observations (key
    # lookups). PostgreSQL keeps the index: its planner would scan the active table for that instead.
    sa.Index("ix_observations_active_load", "load_id").ddl_if(dialect="postgresql"),
    sqlite_with_rowid=False,
)

loads = sa.Table(
    "loads", metadata,
    sa.Column("load_id", sa.String(128), primary_key=True),
    sa.Column("operation_id", sa.String(128), nullable=False),
    sa.Column("node_id", sa.String(255)),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("dataset", sa.String(128), nullable=False),
    sa.Column("period_start", _Ts, nullable=False),
    sa.Column("period_end", _Ts, nullable=False),
    sa.Column("series", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("records", sa.BigInteger, nullable=False),
    sa.Column("checksum", sa.String(32), nullable=False),
    sa.Column("fence_scope", sa.String(255)),
    sa.Column("fence_token", sa.BigInteger),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("committed_at", _Ts),
    sa.Column("commit_seq", sa.BigInteger),
    # the schema version every row of the load is at (docs/quality.md, "Schema versions"); added to
    # older warehouses on open (base.py, _add_columns), so it is NULL for loads written before it existed
    sa.Column("schema_version", sa.String(64)),
    sa.Index("ix_loads_operation", "operation_id"),
    # a commit numbers its loads after the highest commit_seq: one index seek, where a scan of every load
    # the warehouse ever staged cost ~30 ms per committed load at 200,000 loads (bench/RESULTS.md)
    sa.Index("ix_loads_commit_seq", "commit_seq"),
)

load_displaced = sa.Table(
    "load_displaced", metadata,
    sa.Column("load_id", sa.String(128), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("dataset", sa.String(128), primary_key=True),
    sa.Column("series_id", sa.String(256), primary_key=True),
    sa.Column("period", _Ts, primary_key=True),
    sa.Column("prev_load_id", sa.String(128), nullable=False),
    sa.Index("ix_load_displaced_prev", "prev_load_id"),
    sqlite_with_rowid=False,
)

GC_SCOPE = "aurumplan:gc"
"""The `fences` row whose token counts the `gc` runs that deleted versions, from 0 written with a new
warehouse: a rollback checked at one count needs no second check while the count stays, and none at all
at 0 (commits.py, Warehouse.rollback and unrestorable). A warehouse created before the count has no row
until its first counted `gc`: its rollbacks always check."""

SCHEMA_SCOPE = "aurumplan:schema"
"""The `fences` row whose token marks the tables, columns, indexes and view a warehouse was last brought
to (schema_mark): an open that finds the mark current skips creating and inspecting them (base.py)."""

fences = sa.Table(
    "fences", metadata,
    sa.Column("scope", sa.String(255), primary_key=True),
    sa.Column("token", sa.BigInteger, nullable=False),
)

_o, _a = observations, observations_active
current_from = _a.join(_o, (_o.c.load_id == _a.c.load_id) & (_o.c.source == _a.c.source)
                       & (_o.c.dataset == _a.c.dataset) & (_o.c.series_id == _a.c.series_id)
                       & (_o.c.period == _a.c.period))
current_select = sa.select(_a.c.source, _a.c.dataset, _a.c.series_id, _a.c.period, _o.c.value, _o.c.unit,
                           _o.c.attributes, _o.c.load_id).select_from(current_from)
"""observations_current as a Core select: one row per key, the active version. The key columns are the
active table's (equal to the version's by the join), so a filter on the view's `period` or `series_id`
narrows the active rows before each is joined to its version: a month of a 5-year dataset read 276,332
active rows through the join when `period` was the version's. `load_id` is the version's, whose key it
leads, so a filter on it starts from that load's rows (docs/architecture.md, "The warehouse tables")."""


@functools.cache
def schema_mark() -> int:
    """A number that changes with any table, column, index or the current view defined here."""
    parts = [str(current_select)]
    for t in metadata.sorted_tables:
        parts.append(t.name)
        parts.extend(f"{c.name} {c.type!r} {c.nullable} {c.primary_key}" for c in t.columns)
        parts.extend(f"{i.name} {[c.name for c in i.columns]} {i.unique}" for i in sorted(t.indexes, key=str))
    return int(hashlib.sha256("\n".join(parts).encode()).hexdigest()[:15], 16)
