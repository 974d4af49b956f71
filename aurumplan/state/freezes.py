"""Freezes, emergency stops and the emergency log: what `stop` and `freeze` leave in the state.

They live in the state store, not in aurumplan.yaml, so every process on every host sees them;
docs/emergency.md describes the commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from aurumplan.state import reads
from aurumplan.state.models import Freeze as Freeze
from aurumplan.state.schema import emergency_log as elog
from aurumplan.state.schema import freezes as fz
from aurumplan.state.schema import stops as st
from aurumplan.state.sqlbase import SqlBase, dumps, loads, text_query


@dataclass(frozen=True)
class Stop:
    id: int
    source: str | None  # None: every source
    reason: str
    by: str
    at: float
    cancel: bool
    include_critical: bool

    def covers(self, source: str, priority: str | None) -> bool:
        """Whether this stop binds an operation on `source` with that priority."""
        return (self.source is None or self.source == source) and (priority != "high" or self.include_critical)


@dataclass(frozen=True)
class EmergencyEntry:
    id: int
    kind: str
    source: str | None
    at: float
    detail: dict[str, Any]


class FreezesMixin(SqlBase):
    """Freezes per source, stop requests, and the emergency log."""

    def freeze(self, source: str, reason: str, by: str, now: float | None = None) -> tuple[Freeze, bool]:
        """Freeze source; (the freeze in force, whether this call made it). A second freeze keeps the first."""
        with self._write() as conn:
            row = conn.execute(sa.select(fz).where(fz.c.source == source)).first()
            if row is not None:
                return Freeze(row.source, row.reason, row.by, row.at), False
            f = Freeze(source, reason, by, self._now(now))
            conn.execute(fz.insert().values(source=source, reason=reason, by=by, at=f.at))
            self._touch(conn)
        return f, True

    def unfreeze(self, source: str) -> Freeze | None:
        """Lift the freeze of source; the freeze lifted, or None if there was none."""
        with self._write() as conn:
            row = conn.execute(sa.select(fz).where(fz.c.source == source)).first()
            if row is None:
                return None
            conn.execute(fz.delete().where(fz.c.source == source))
            self._touch(conn)
        return Freeze(row.source, row.reason, row.by, row.at)

    def freezes(self, source: str | None = None) -> list[Freeze]:
        with self._read() as conn:
            return reads.freezes(text_query(conn), source)

    def add_stop(self, source: str | None, reason: str, by: str, *, cancel: bool, include_critical: bool,
                 now: float | None = None) -> Stop:
        at = self._now(now)
        with self._write() as conn:
            key = conn.execute(st.insert().values(source=source, reason=reason, by=by, at=at, cancel=cancel,
                                                  include_critical=include_critical)).inserted_primary_key
        sid = key[0] if key is not None else 0
        return Stop(int(sid), source, reason, by, at, cancel, include_critical)

    def stops_since(self, since: float) -> list[Stop]:
        """Stop requests made at or after `since`, oldest first."""
        q = sa.select(st).where(st.c.at >= since).order_by(st.c.at, st.c.id)
        with self._read() as conn:
            return [Stop(r.id, r.source, r.reason, r.by, r.at, bool(r.cancel), bool(r.include_critical))
                    for r in conn.execute(q)]

    def holds(self, source: str, stops_since: float) -> tuple[Freeze | None, list[Stop]]:
        """The freeze of source and the stops since a time, in one read (a running apply polls this)."""
        with self._read() as conn:
            row = conn.execute(sa.select(fz).where(fz.c.source == source)).first()
            rows = conn.execute(sa.select(st).where(st.c.at >= stops_since).order_by(st.c.at, st.c.id)).all()
        freeze = Freeze(row.source, row.reason, row.by, row.at) if row is not None else None
        return freeze, [Stop(r.id, r.source, r.reason, r.by, r.at, bool(r.cancel), bool(r.include_critical))
                        for r in rows]

    def log_emergency(self, kind: str, source: str | None, detail: Mapping[str, Any],
                      now: float | None = None) -> EmergencyEntry:
        at = self._now(now)
        with self._write() as conn:
            key = conn.execute(elog.insert().values(kind=kind, source=source, at=at,
                                                    detail=dumps(detail))).inserted_primary_key
        eid = key[0] if key is not None else 0
        return EmergencyEntry(int(eid), kind, source, at, dict(detail))

    def emergency_log(self, source: str | None = None) -> list[EmergencyEntry]:
        q = sa.select(elog).order_by(elog.c.id)
        if source is not None:
            q = q.where(elog.c.source == source)
        with self._read() as conn:
            return [EmergencyEntry(r.id, r.kind, r.source, r.at, loads(r.detail)) for r in conn.execute(q)]
