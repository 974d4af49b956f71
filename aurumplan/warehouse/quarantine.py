"""Quarantine: hiding damaged versions from observations_current without deleting anything.

strict: the damaged keys leave observations_active (the period shows no value); flag: the active
row points to a copy of the version whose `attributes` carry {"quarantine": ID}. Every key is
recorded in `quarantined` with the version it hid, so `release` restores exactly that version
wherever nothing newer became current meanwhile. docs/emergency.md.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.errors import OperationError
from aurumplan.warehouse.base import WarehouseBase
from aurumplan.warehouse.reads import active_series
from aurumplan.warehouse.rows import epoch, naive_utc
from aurumplan.warehouse.schema import load_displaced, loads, metadata, observations, observations_active

_Ts = sa.DateTime(timezone=False)

quarantines = sa.Table(
    "quarantines", metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("report_id", sa.String(128)),
    sa.Column("reason", sa.Text),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("released_at", _Ts),
)

quarantined = sa.Table(
    "quarantined", metadata,
    sa.Column("quarantine_id", sa.String(128), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("dataset", sa.String(128), primary_key=True),
    sa.Column("series_id", sa.String(256), primary_key=True),
    sa.Column("period", _Ts, primary_key=True),
    sa.Column("load_id", sa.String(128), nullable=False),
    sqlite_with_rowid=False,
)

_o, _a, _q = observations, observations_active, quarantined
Range = tuple[str, str, int, int]
"""(dataset, series_id, start, end): half-open epoch seconds."""


def flag_load_id(quarantine_id: str, dataset: str) -> str:
    """The load holding a flag quarantine's marked copies of one dataset."""
    return f"{quarantine_id}-{dataset}"


def _in(t: sa.Table, source: str, r: Range) -> sa.ColumnElement[bool]:
    ds, sid, s, e = r
    return sa.and_(t.c.source == source, t.c.dataset == ds, t.c.series_id == sid,
                   t.c.period >= naive_utc(s), t.c.period < naive_utc(e))


def _same_key(x: sa.Table, y: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(*(x.c[k] == y.c[k] for k in ("source", "dataset", "series_id", "period")))


def _count(conn: Connection, q: sa.Select[Any]) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class QuarantineMixin(WarehouseBase):
    """Read what is current per range, quarantine it, release it."""

    def loaded_series(self, source: str) -> dict[str, list[str]]:
        """dataset -> series with any active row (index seeks: reads.active_series)."""
        with self._read() as conn:
            found = active_series(conn, source)
        return {k: sorted(v) for k, v in sorted(found.items())}

    def current_span(self, source: str) -> tuple[int, int] | None:
        """The first and past-the-last period start of the source's current data (None: nothing loaded).

        Aggregates, not the periods: an unwindowed `scan` of years of data stays in bounded memory. Each
        series' first and last period is two index seeks; one min and max over the source read every
        active row it has.
        """
        firsts, lasts = [], []
        with self._read() as conn:
            for ds, ids in active_series(conn, source).items():
                for sid in ids:
                    mine = (_a.c.source == source, _a.c.dataset == ds, _a.c.series_id == sid)
                    firsts.append(conn.execute(sa.select(sa.func.min(_a.c.period)).where(*mine)).scalar_one())
                    lasts.append(conn.execute(sa.select(sa.func.max(_a.c.period)).where(*mine)).scalar_one())
        return None if not firsts else (epoch(min(firsts)), epoch(max(lasts)) + 1)

    def current_versions(self, source: str, r: Range) -> list[tuple[int, str, str]]:
        """(period, load_id, operation_id) of the active version of each period in the range."""
        q = (sa.select(_a.c.period, _a.c.load_id, loads.c.operation_id)
             .select_from(_a.outerjoin(loads, loads.c.load_id == _a.c.load_id))
             .where(_in(_a, source, r)).order_by(_a.c.period))
        with self._read() as conn:
            return [(epoch(p), lid, op or "") for p, lid, op in conn.execute(q)]

    def displaced_by(self, load_id: str, source: str, r: Range) -> int:
        """How many periods of the range the load replaced when it was committed (0: it created them)."""
        d = load_displaced
        q = sa.select(sa.func.count()).select_from(d).where(d.c.load_id == load_id, _in(d, source, r))
        with self._read() as conn:
            return int(conn.execute(q).scalar_one())

    def quarantine(self, quarantine_id: str, source: str, ranges: Sequence[Range], *, mode: str,
                   reason: str | None = None, report_id: str | None = None) -> int:
        """Hide the active versions in the ranges (strict or flag); the number of periods hidden."""
        if mode not in ("strict", "flag"):
            raise OperationError(f"unknown quarantine mode {mode!r}: strict or flag")
        total = 0
        with self._write() as conn:
            if conn.execute(sa.select(quarantines.c.id).where(quarantines.c.id == quarantine_id)).first():
                raise OperationError(f"quarantine {quarantine_id} already exists")
            for r in ranges:
                cols = [_a.c.source, _a.c.dataset, _a.c.series_id, _a.c.period, _a.c.load_id]
                held = _a.c.load_id.like(f"{quarantine_id}-%")
                pick = sa.select(sa.literal(quarantine_id), *cols).where(_in(_a, source, r), sa.not_(held))
                n = _count(conn, pick)  # rowcount of INSERT .. SELECT is not reliable on every driver
                if not n:
                    continue
                conn.execute(_q.insert().from_select(["quarantine_id", "source", "dataset", "series_id", "period",
                                                      "load_id"], pick))
                total += n
                mine = sa.exists().where(_same_key(_q, _a), _q.c.quarantine_id == quarantine_id)
                if mode == "strict":
                    conn.execute(_a.delete().where(_in(_a, source, r), mine))
                else:
                    self._flag(conn, quarantine_id, source, r)
            conn.execute(quarantines.insert().values(id=quarantine_id, source=source, mode=mode, report_id=report_id,
                                                     reason=reason, rows=total, created_at=_now()))
        return total

    def _flag(self, conn: Connection, quarantine_id: str, source: str, r: Range) -> None:
        """Copy the range's quarantined versions with the marker and make the copies active."""
        ds = r[0]
        qload = flag_load_id(quarantine_id, ds)
        rows = conn.execute(
            sa.select(_o.c.series_id, _o.c.period, _o.c.value, _o.c.unit, _o.c.attributes)
            .select_from(_o.join(_q, sa.and_(_same_key(_o, _q), _o.c.load_id == _q.c.load_id)))
            .where(_q.c.quarantine_id == quarantine_id, _in(_q, source, r))).all()
        copies = []
        for sid, period, value, unit, attrs in rows:
            marked = dict(json.loads(attrs) if attrs else {})
            marked["quarantine"] = quarantine_id
            copies.append({"load_id": qload, "source": source, "dataset": ds, "series_id": sid, "period": period,
                           "value": value, "unit": unit, "attributes": json.dumps(marked, sort_keys=True)})
        for i in range(0, len(copies), 1000):
            conn.execute(_o.insert(), copies[i:i + 1000])
        if not conn.execute(sa.select(loads.c.load_id).where(loads.c.load_id == qload)).first():
            conn.execute(loads.insert().values(
                load_id=qload, operation_id=quarantine_id, node_id=None, source=source, dataset=ds,
                period_start=naive_utc(r[2]), period_end=naive_utc(r[3]), series=json.dumps([r[1]]),
                status="committed", records=0, checksum="", created_at=_now(), committed_at=_now()))
        mine = sa.exists().where(_same_key(_q, _a), _q.c.quarantine_id == quarantine_id)
        conn.execute(_a.update().where(_in(_a, source, r), mine).values(load_id=qload))
        conn.execute(loads.update().where(loads.c.load_id == qload).values(records=loads.c.records + len(copies)))

    def release(self, quarantine_id: str) -> dict[str, int | str]:
        """Undo a quarantine: each key gets its hidden version back unless a newer one became current."""
        with self._write() as conn:
            row = conn.execute(sa.select(quarantines).where(quarantines.c.id == quarantine_id)).first()
            if row is None:
                raise OperationError(f"no quarantine {quarantine_id}")
            if row.released_at is not None:
                raise OperationError(f"quarantine {quarantine_id} was already released")
            mine = _q.c.quarantine_id == quarantine_id
            if row.mode == "strict":
                free = sa.not_(sa.exists().where(_same_key(_a, _q)))
                pick = sa.select(_q.c.source, _q.c.dataset, _q.c.series_id, _q.c.period, _q.c.load_id).where(mine, free)
                restored = _count(conn, pick)
                conn.execute(_a.insert().from_select(["source", "dataset", "series_id", "period", "load_id"], pick))
            else:
                flagged = _a.c.load_id.like(f"{quarantine_id}-%")
                restored = _count(conn, sa.select(_a.c.period).where(flagged))
                hidden = sa.select(_q.c.load_id).where(mine, _same_key(_q, _a)).scalar_subquery()
                conn.execute(_a.update().where(flagged).values(load_id=hidden))
            conn.execute(quarantines.update().where(quarantines.c.id == quarantine_id).values(released_at=_now()))
        return {"quarantine_id": quarantine_id, "mode": row.mode, "rows": int(row.rows), "restored": int(restored),
                "kept_newer": int(row.rows) - int(restored)}

    def hidden_periods(self, source: str, dataset: str, start: int, end: int) -> Iterator[tuple[str, str, int]]:
        """(series, quarantine id, period) of each period an unreleased quarantine hides from current data now.

        A period stays hidden until a newer version becomes current (a recovery) or the quarantine is
        released; a flag quarantine's period counts as hidden while its marked copy is current. `gaps`
        counts these as missing (docs/emergency.md). Ordered by series and period, streamed.
        """
        flag_copy = _q.c.quarantine_id + "-" + _q.c.dataset
        newer = sa.exists().where(_same_key(_a, _q), _a.c.load_id != flag_copy)
        q = (sa.select(_q.c.series_id, _q.c.quarantine_id, _q.c.period)
             .join(quarantines, quarantines.c.id == _q.c.quarantine_id)
             .where(quarantines.c.released_at.is_(None), _q.c.source == source, _q.c.dataset == dataset,
                    _q.c.period >= naive_utc(start), _q.c.period < naive_utc(end), sa.not_(newer))
             .order_by(_q.c.series_id, _q.c.period, _q.c.quarantine_id))
        with self._read() as conn:
            for sid, qid, period in conn.execute(q):
                yield sid, qid, epoch(period)

    def quarantines(self, source: str | None = None) -> list[dict[str, object]]:
        q = sa.select(quarantines).order_by(quarantines.c.created_at)
        if source is not None:
            q = q.where(quarantines.c.source == source)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


def ranges_of(items: Iterable[tuple[str, str, Iterable[tuple[int, int]]]]) -> list[Range]:
    """(dataset, series, intervals) triples as a flat list of ranges."""
    return [(ds, sid, s, e) for ds, sid, ivs in items for s, e in ivs]
