"""The state tables. SCHEMA_VERSION changes whenever they change in a way older code cannot read."""

from __future__ import annotations

import sqlalchemy as sa

from aurumplan.state.reads import SCHEMA_VERSION as SCHEMA_VERSION

metadata = sa.MetaData()
_Time = sa.Float(53)  # epoch seconds UTC, float for sub-second precision

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

watermarks = sa.Table(
    "watermarks", metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("dataset", sa.String(128), primary_key=True),
    sa.Column("series_id", sa.String(256), primary_key=True),
    sa.Column("start", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("end", sa.BigInteger, nullable=False),
    sa.Column("load_id", sa.String(128), nullable=False),
    sa.Column("operation_id", sa.String(128), nullable=False),
    sa.Column("records", sa.BigInteger, nullable=False),
    sa.Column("checksum", sa.String(128)),
    sa.Column("schema_version", sa.String(64)),
    sa.Column("committed_at", _Time, nullable=False),
)

operations = sa.Table(
    "operations", metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("owner", sa.String(128)),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("spec", sa.Text),
    sa.Column("spec_sha256", sa.String(64)),
    sa.Column("plan", sa.Text),
    sa.Column("created_at", _Time, nullable=False),
    sa.Column("updated_at", _Time, nullable=False),
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("parent_id", sa.String(128)),
    sa.Index("ix_operations_created", "created_at"),
)

checkpoints = sa.Table(
    "checkpoints", metadata,
    sa.Column("operation_id", sa.String(128), primary_key=True),
    sa.Column("node_id", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("load_id", sa.String(128)),
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("records", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("started_at", _Time),
    sa.Column("finished_at", _Time),
    sa.Column("checksum", sa.String(128)),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("external_id", sa.String(255)),
    sa.Column("detail", sa.Text, nullable=False),
)

leases = sa.Table(
    "leases", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operation_id", sa.String(128), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("dataset", sa.String(128), nullable=False),
    sa.Column("series_id", sa.String(256), nullable=False),
    sa.Column("start", sa.BigInteger, nullable=False),
    sa.Column("end", sa.BigInteger, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", _Time, nullable=False),
    sa.Column("heartbeat_at", _Time, nullable=False),
    sa.Column("ttl_seconds", _Time, nullable=False),
    sa.Column("released", sa.Boolean, nullable=False),
    sa.Index("ix_leases_live", "released", "source", "dataset", "series_id"),
    sa.Index("ix_leases_op", "operation_id"),
)

lease_waiters = sa.Table(
    "lease_waiters", metadata,
    sa.Column("ticket", sa.String(64), primary_key=True),
    sa.Column("operation_id", sa.String(128), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),  # 0 low, 1 normal, 2 high
    sa.Column("ranges", sa.Text, nullable=False),  # JSON [[dataset, series_id, start, end], ...]
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("since", _Time, nullable=False),
    sa.Column("heartbeat_at", _Time, nullable=False),
    sa.Column("ttl_seconds", _Time, nullable=False),
    sa.Index("ix_lease_waiters_source", "source"),
)
"""Applies waiting (`apply --wait`) for ranges another operation leases; served by priority, then arrival
(state/waiters.py). Added after schema version 1: opening an older state creates it (sqlbase._open)."""

quota_waiters = sa.Table(
    "quota_waiters", metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(255), primary_key=True),  # the operation (one limiter per operation)
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("since", _Time, nullable=False),
    sa.Column("heartbeat_at", _Time, nullable=False),
)
"""Operations waiting for a slot of a source's shared quota, so a lower priority yields (state/waiters.py)."""

quality_results = sa.Table(
    "quality_results", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operation_id", sa.String(128), nullable=False),
    sa.Column("dataset", sa.String(128), nullable=False),
    sa.Column("node_id", sa.String(255)),
    sa.Column("score", sa.Float(53), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at", _Time, nullable=False),
    sa.Index("ix_quality_op", "operation_id"),
)

operation_events = sa.Table(
    "operation_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operation_id", sa.String(128), nullable=False),
    sa.Column("at", _Time, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_operation_events_op", "operation_id"),
)

request_log = sa.Table(
    "request_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("at", sa.Float(53), nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Index("ix_request_log_source_at", "source", "at"),
)

freezes = sa.Table(
    "freezes", metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.String(255), nullable=False),
    sa.Column("at", _Time, nullable=False),
)
"""Sources frozen with `aurumplan freeze` (docs/emergency.md); a row per frozen source."""

stops = sa.Table(
    "stops", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64)),  # NULL: every source (`stop --all`)
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.String(255), nullable=False),
    sa.Column("at", _Time, nullable=False),
    sa.Column("cancel", sa.Boolean, nullable=False),
    sa.Column("include_critical", sa.Boolean, nullable=False),
    sa.Index("ix_stops_at", "at"),
)
"""Emergency stops (`aurumplan stop`): applies starting shortly after one stop too (docs/emergency.md)."""

emergency_log = sa.Table(
    "emergency_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source", sa.String(64)),
    sa.Column("at", _Time, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)
"""Every stop, freeze, unfreeze, quarantine, release and recovery, with who asked."""
