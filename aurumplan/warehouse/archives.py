"""The versions a commit is about to replace, and putting removed versions back from an archive.

A Replay with `archive:` exports what its commit will displace before the switch (docs/replay.md,
"Archive and retention"). `aurumplan gc` may later delete those versions; restoring them from the
archive makes the operation roll back exactly again. Restoring never changes what is current.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.errors import OperationError
from aurumplan.warehouse.base import WarehouseBase
from aurumplan.warehouse.commits import Exclusions, Verified, _outside, gc_generation, index_lookups, missing_versions
from aurumplan.warehouse.rows import epoch, naive_utc
from aurumplan.warehouse.schema import load_displaced, loads, observations, observations_active

_o, _a, _d = observations, observations_active, load_displaced
_KEY = ("source", "dataset", "series_id", "period")


@dataclass(frozen=True)
class Version:
    """One stored version of a record, and the load that replaces (or replaced) it."""

    source: str
    dataset: str
    series_id: str
    period: int
    value: float | None
    unit: str | None
    attributes: str | None
    load_id: str
    replaced_by: str


def _key_match(x: sa.Table, y: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(*(x.c[k] == y.c[k] for k in _KEY))


class ArchivesMixin(WarehouseBase):
    """replaced_by_commit(), restore_versions() and unrestorable() of Warehouse."""

    def replaced_by_commit(self, load_ids: Sequence[str],
                           exclude: Mapping[str, Exclusions] | None = None) -> Iterator[Version]:
        """The active versions a replacing commit of these staged loads would displace, streamed in a
        fixed order (load, series, period).

        The same rows commit(replace_range=True) records in load_displaced: every active row of the
        load's series inside its period range, except the excluded periods and the load's own rows.
        The caller holds the leases of those ranges, so nothing else can change them before the switch.
        """
        with self._read() as conn:
            if not self._sqlite:
                # Planned for the whole result, not its first rows: the rows are streamed through a
                # server-side cursor, which PostgreSQL otherwise plans as if only 10% were read.
                conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
            for lid in load_ids:
                load = conn.execute(sa.select(loads).where(loads.c.load_id == lid)).mappings().first()
                if load is None:
                    raise OperationError(f"no load {lid} in the warehouse")
                if load["status"] != "staged":
                    continue
                series = json.loads(load["series"])
                in_range = [_a.c.source == load["source"], _a.c.dataset == load["dataset"], _a.c.series_id.in_(series),
                            _a.c.period >= load["period_start"], _a.c.period < load["period_end"],
                            _a.c.load_id != lid, *_outside(_a, (exclude or {}).get(lid))]
                narrow: list[sa.ColumnElement[bool]] = []
                if not self._sqlite:
                    # The loads the active rows in range come from, and their rows in range: both sides of
                    # the join are then index ranges of the load's size. Without them PostgreSQL scanned
                    # every stored version once per load (61,320 rows: 0.43-0.50 -> 0.27-0.29 s, RESULTS).
                    prevs = list(conn.execute(sa.select(_a.c.load_id).where(*in_range).distinct()).scalars())
                    if not prevs:
                        continue
                    narrow = [_o.c.load_id.in_(prevs), _o.c.source == load["source"], _o.c.dataset == load["dataset"],
                              _o.c.series_id.in_(series), _o.c.period >= load["period_start"],
                              _o.c.period < load["period_end"]]
                q = (sa.select(_o.c.source, _o.c.dataset, _o.c.series_id, _o.c.period, _o.c.value, _o.c.unit,
                               _o.c.attributes, _o.c.load_id)
                     .select_from(_a.join(_o, _key_match(_o, _a) & (_o.c.load_id == _a.c.load_id)))
                     .where(*in_range, *narrow)
                     .order_by(_a.c.series_id, _a.c.period))
                for s, d, sid, p, v, u, at, prev in conn.execution_options(yield_per=5000).execute(q):
                    yield Version(s, d, sid, epoch(p), v, u, at, prev, lid)

    def restore_versions(self, versions: Iterable[Version]) -> tuple[int, int]:
        """Put back removed versions (as archived) and their load_displaced records; returns (rows, present).

        Only versions of loads this warehouse knows, replaced by loads it knows: an archive of another
        warehouse is refused whole. Versions still stored are left as they are (`present`).
        """
        items = list(versions)
        restored = present = 0
        with self._write() as conn:
            known = self._known_loads(conn, {v.load_id for v in items} | {v.replaced_by for v in items})
            for v in items:
                for lid in (v.load_id, v.replaced_by):
                    if lid not in known:
                        raise OperationError(f"load {lid} of the archive is not in this warehouse: "
                                             "restore it into the warehouse it was taken from")
            for v in items:
                key = {"source": v.source, "dataset": v.dataset, "series_id": v.series_id,
                       "period": naive_utc(v.period)}
                if self._has_version(conn, v.load_id, key):
                    present += 1
                else:
                    conn.execute(_o.insert().values(load_id=v.load_id, value=v.value, unit=v.unit,
                                                    attributes=v.attributes, **key))
                    restored += 1
                link = sa.select(sa.literal(1)).where(_d.c.load_id == v.replaced_by,
                                                      *(_d.c[k] == key[k] for k in _KEY))
                if conn.execute(link).first() is None:
                    conn.execute(_d.insert().values(load_id=v.replaced_by, prev_load_id=v.load_id, **key))
        return restored, present

    @staticmethod
    def _known_loads(conn: Connection, ids: set[str]) -> set[str]:
        found: set[str] = set()
        batch = sorted(ids)
        for i in range(0, len(batch), 500):
            found.update(conn.execute(sa.select(loads.c.load_id).where(
                loads.c.load_id.in_(batch[i:i + 500]))).scalars())
        return found

    @staticmethod
    def _has_version(conn: Connection, load_id: str, key: Mapping[str, object]) -> bool:
        q = sa.select(sa.literal(1)).where(_o.c.load_id == load_id, *(_o.c[k] == key[k] for k in _KEY))
        return conn.execute(q).first() is not None

    def unrestorable(self, load_ids: Iterable[str]) -> tuple[list[str], Verified]:
        """Committed loads whose replaced versions are no longer stored (`gc` removed them), and the others
        as Verified (what Warehouse.rollback need not check again while no `gc` deletes anything)."""
        with self._read() as conn:
            index_lookups(conn)
            # the count first: a `gc` committing during the checks (PostgreSQL reads each statement's own
            # snapshot) then leaves a newer count, and the rollback checks again
            generation = gc_generation(conn)
            ids = list(dict.fromkeys(load_ids))
            # only `gc` deletes versions of committed loads: none did since the warehouse was created at 0
            missing = [] if generation == 0 else [lid for lid in ids if missing_versions(conn, lid)]
            return missing, Verified(frozenset(ids) - frozenset(missing), generation)

