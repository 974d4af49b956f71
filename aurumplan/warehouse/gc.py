"""Deleting superseded versions that no rollback can need (`aurumplan gc`, docs/replay.md).

The caller names the operations whose versions may go (ended, and outside the retention); every
other operation is protected. A stored version may be deleted when all of these hold:

- its load belongs to an eligible operation and is not staged (staged rows are a run in progress);
- it is not active;
- no committed load of a protected operation replaced it (rolling that load back restores it).

Everything is decided and deleted in one transaction under the warehouse lock, the lock commits
and rollbacks take: a commit that displaces rows meanwhile is either before (its load protects
them) or after (they were active, so kept). load_displaced records of committed loads are kept,
so a rollback of an operation that lost its replaced versions is refused with the way back
(`archive restore`), never half done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.warehouse.base import WarehouseBase
from aurumplan.warehouse.commits import bump_gc_generation
from aurumplan.warehouse.schema import load_displaced, loads, observations, observations_active

_o, _a, _d = observations, observations_active, load_displaced
_KEY = ("source", "dataset", "series_id", "period")


@dataclass
class Collected:
    """What a gc run deleted (or, dry, would delete)."""

    rows: int = 0
    bytes: int = 0
    links: int = 0
    by_dataset: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    """(source, dataset) -> [rows, bytes]."""
    operations: set[str] = field(default_factory=set)
    """Operations whose versions were deleted."""
    unrollbackable: set[str] = field(default_factory=set)
    """Operations with committed loads that replaced deleted versions: they can no longer roll back."""


def _same(x: sa.Table, y: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(*(x.c[k] == y.c[k] for k in _KEY))


def _size(conn: Connection) -> sa.ColumnElement[Any]:
    """Stored bytes of an observations row: the row's size (PostgreSQL), its columns' bytes (SQLite)."""
    if conn.dialect.name == "postgresql":
        return sa.func.pg_column_size(sa.literal_column("observations.*"))
    def blob(c: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(sa.func.length(sa.cast(c, sa.LargeBinary)), 0)
    return (blob(_o.c.load_id) + blob(_o.c.source) + blob(_o.c.dataset) + blob(_o.c.series_id)
            + blob(_o.c.unit) + blob(_o.c.attributes) + 16)


class GcMixin(WarehouseBase):
    """collect_garbage() of Warehouse."""

    def collect_garbage(self, eligible: Iterable[str], dry_run: bool = False) -> Collected:
        """Delete (dry_run: count) the superseded versions of `eligible` operations no rollback can need."""
        ops = set(eligible)
        out = Collected()
        with self._read() if dry_run else self._write() as conn:
            candidates = [r for r in conn.execute(
                sa.select(loads.c.load_id, loads.c.operation_id, loads.c.source, loads.c.dataset)
                .where(loads.c.status.in_(("committed", "rolled_back", "discarded")))
                .order_by(loads.c.load_id)).mappings() if r["operation_id"] in ops]
            for load in candidates:
                self._collect_load(conn, load, ops, dry_run, out)
            if out.rows and not dry_run:
                bump_gc_generation(conn)  # a rollback checked before this run checks again (commits.py)
            dead = (sa.select(_d.c.load_id).select_from(_d.join(loads, loads.c.load_id == _d.c.load_id))
                    .where(loads.c.status.in_(("rolled_back", "discarded"))).distinct())
            for lid, op in conn.execute(sa.select(loads.c.load_id, loads.c.operation_id)
                                        .where(loads.c.load_id.in_(dead))).all():
                if op in ops:  # a rolled-back load never rolls back again: its records serve no one
                    cut = _d.c.load_id == lid
                    out.links += int(conn.execute(sa.select(sa.func.count()).where(cut)).scalar_one())
                    if not dry_run:
                        conn.execute(_d.delete().where(cut))
        return out

    @staticmethod
    def _collect_load(conn: Connection, load: Any, ops: set[str], dry_run: bool, out: Collected) -> None:
        lid = load["load_id"]
        replacers = conn.execute(
            sa.select(loads.c.load_id, loads.c.operation_id, loads.c.status)
            .where(loads.c.load_id.in_(sa.select(_d.c.load_id).where(_d.c.prev_load_id == lid).distinct()))).all()
        protecting = [r.load_id for r in replacers if r.status == "committed" and r.operation_id not in ops]
        where = [_o.c.load_id == lid,
                 ~sa.exists().where(_a.c.load_id == lid, _same(_a, _o))]
        if protecting:
            where.append(~sa.exists().where(_d.c.prev_load_id == lid, _d.c.load_id.in_(protecting), _same(_d, _o)))
        n, size = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(_size(conn)), 0))
                               .select_from(_o).where(*where)).one()
        if not n:
            return
        if not dry_run:
            conn.execute(_o.delete().where(*where))
        out.rows += int(n)
        out.bytes += int(size)
        slot = out.by_dataset.setdefault((load["source"], load["dataset"]), [0, 0])
        slot[0] += int(n)
        slot[1] += int(size)
        out.operations.add(load["operation_id"])
        out.unrollbackable.update(r.operation_id for r in replacers
                                  if r.status == "committed" and r.operation_id in ops)
