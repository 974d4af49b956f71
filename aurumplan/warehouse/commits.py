"""Commit and rollback: switching which version of each record is active, atomically.

A commit records every active row it replaces in load_displaced, so a rollback restores
exactly the previous versions. Both run in one transaction under the warehouse lock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from aurumplan.errors import FencedError, OperationError
from aurumplan.warehouse.base import WarehouseBase
from aurumplan.warehouse.rows import naive_utc
from aurumplan.warehouse.schema import GC_SCOPE, fences, load_displaced, loads, observations, observations_active

_o, _a, _d = observations, observations_active, load_displaced
_KEY = ("source", "dataset", "series_id", "period")


_ACTIVE_PROBE = sa.text(
    "SELECT 1 FROM (SELECT series_id, MIN(period) AS lo, MAX(period) AS hi FROM observations "
    "WHERE load_id = :lid GROUP BY series_id) AS spans WHERE EXISTS (SELECT 1 FROM observations_active AS a "
    "WHERE a.source = :source AND a.dataset = :dataset AND a.series_id = spans.series_id "
    "AND a.period >= spans.lo AND a.period <= spans.hi) LIMIT 1")


class _Withdrawn(Exception):
    """A commit whose `ready` said no: raised inside its transaction, so that it rolls back."""


class Verified(NamedTuple):
    """Loads whose replaced versions were all found stored, and the `gc` count they were found at."""

    loads: frozenset[str]
    generation: int | None


Exclusions = Mapping[str, Iterable[tuple[int, int]]]
"""series id -> half-open epoch-second intervals a commit leaves alone."""


def _outside(t: sa.Table, exclude: Exclusions | None) -> list[sa.ColumnElement[bool]]:
    """Conditions keeping rows of `t` out of the excluded (series, interval)s (none: no condition)."""
    if not exclude:
        return []
    inside = [(t.c.series_id == sid) & (t.c.period >= naive_utc(s)) & (t.c.period < naive_utc(e))
              for sid, ivs in sorted(exclude.items()) for s, e in ivs]
    return [sa.not_(sa.or_(*inside))] if inside else []


def _same_key(x: sa.Table, y: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(*(x.c[k] == y.c[k] for k in _KEY))


def gc_generation(conn: Connection) -> int | None:
    """How many `gc` runs deleted versions so far; None when that was not counted from the warehouse's
    creation on (one created before the count: some `gc` may have deleted versions uncounted)."""
    token = conn.execute(sa.select(fences.c.token).where(fences.c.scope == GC_SCOPE)).scalar()
    return None if token is None else int(token)


def bump_gc_generation(conn: Connection) -> None:
    """Count one more `gc` run that deleted versions (in its transaction, under the warehouse lock)."""
    if not conn.execute(fences.update().where(fences.c.scope == GC_SCOPE).values(token=fences.c.token + 1)).rowcount:
        conn.execute(fences.insert().values(scope=GC_SCOPE, token=1))


def missing_versions(conn: Connection, load_id: str) -> bool:
    """Whether a version the load replaced is gone (`aurumplan gc`): rolling it back would restore nothing."""
    gone = sa.select(sa.literal(1)).where(
        _d.c.load_id == load_id,
        ~sa.exists().where(_o.c.load_id == _d.c.prev_load_id, _same_key(_o, _d))).limit(1)
    return conn.execute(gone).first() is not None


ANALYZE_TARGET = 10
"""The statistics target of the ANALYZE a PostgreSQL commit or rollback runs (CommitsMixin._analyze)."""


def index_lookups(conn: Connection) -> None:
    """Index lookups for the per-load statements of a commit or rollback (PostgreSQL).

    Each statement touches one load's rows and, through the key index, the rows at the same keys
    in the other tables. With statistics from before the transaction (often: an empty
    observations_active) the planner hashed or merged the whole active table for every load,
    quadratic in the rows a commit writes (~20 s for 1M rows); with fresh ones it did the same
    for a rollback's per-load checks (13 loads of 61,320 rows: 0.6 s -> 5.8 s). Index lookups are
    always right here.
    """
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")


class _FirstLoads:
    """Datasets with no active row when a commit began: a load there whose declared series and span
    overlap none of the loads this commit made current before it replaces nothing, so its commit skips
    looking for what it replaces (SQLite: the active-span probe, ~3 ms per 5,000-row load; PostgreSQL: the
    join into load_displaced, ~16 ms). A row outside what its load declares would make the active insert
    fail on its key (the transaction rolls back), never switch silently."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._empty: dict[tuple[str, str], bool] = {}
        self._done: dict[tuple[str, str], list[tuple[set[str], Any, Any]]] = {}

    def need_probe(self, load: Mapping[Any, Any]) -> bool:
        scope = (load["source"], load["dataset"])
        if scope not in self._empty:
            self._empty[scope] = self._conn.execute(
                sa.select(sa.literal(1)).where(_a.c.source == scope[0], _a.c.dataset == scope[1]).limit(1)
            ).first() is None
        series, start, end = set(json.loads(load["series"])), load["period_start"], load["period_end"]
        earlier = self._done.setdefault(scope, [])
        overlaps = any(series & s and a < end and start < b for s, a, b in earlier)
        earlier.append((series, start, end))
        return overlaps or not self._empty[scope]


def _switch_by_series(conn: Connection, todo: list[sa.RowMapping]) -> bool:
    """Make the loads' rows active series by series across the loads, when they replace nothing.

    That is a commit where `_FirstLoads` found nothing to probe for any load, with no range replaced
    and no periods excluded: every row only goes into the active table, in any order. Series by
    series, each series' rows go in period order into one part of the active key; load by load
    they went into as many parts as the load has series (306,768 rows in 62 loads of 7 series:
    0.58-0.72 s -> 0.38-0.46 s on SQLite, bench/RESULTS.md). Rows outside the loads' declared series
    (or of another source or dataset) follow in one more statement when a count finds them; a row at
    a key already active fails the insert, and the transaction, as in the load-by-load switch.
    Returns whether it switched them (False, for loads of several datasets: the caller switches load by load).
    """
    scopes = {(row["source"], row["dataset"]) for row in todo}
    if len(scopes) != 1:
        return False
    (source, dataset), ids = scopes.pop(), [row["load_id"] for row in todo]
    series = sorted({sid for row in todo for sid in json.loads(row["series"])})
    rows = sa.select(*(_o.c[k] for k in _KEY), _o.c.load_id).where(_o.c.load_id.in_(ids))
    inserted = 0
    for sid in series:  # preserve_rowcount: else psycopg's rowcount of an INSERT .. SELECT is -1
        inserted += conn.execute(_a.insert().from_select([*_KEY, "load_id"], rows.where(
            _o.c.source == source, _o.c.dataset == dataset, _o.c.series_id == sid))
            .execution_options(preserve_rowcount=True)).rowcount
    stored = conn.execute(sa.select(sa.func.count()).select_from(_o).where(_o.c.load_id.in_(ids))).scalar_one()
    if stored != inserted:
        conn.execute(_a.insert().from_select([*_KEY, "load_id"], rows.where(
            ~sa.and_(_o.c.source == source, _o.c.dataset == dataset, _o.c.series_id.in_(series)))))
    return True


def _refuse_replaced(conn: Connection, ids: list[str]) -> bool:
    """Refuse to roll back loads whose records a committed load outside them replaced since; returns whether
    one of them replaced rows of another (then the order matters: newest first, load by load).

    One query answers both, through the `prev_load_id` index: the pairs of a load and the load of these it
    replaced rows of, usually none. A second query for the chain went through all the loads' own rows
    (PostgreSQL, 61,320 rows: 20-35 ms; bench/RESULTS.md)."""
    if not ids:
        return False
    mine = set(ids)
    pairs = conn.execute(sa.select(_d.c.load_id, _d.c.prev_load_id).where(_d.c.prev_load_id.in_(ids))
                         .group_by(_d.c.load_id, _d.c.prev_load_id)).all()
    outside = {lid for lid, _ in pairs if lid not in mine}
    if outside:
        ops = dict(conn.execute(sa.select(loads.c.load_id, loads.c.operation_id).where(
            loads.c.load_id.in_(sorted(outside)), loads.c.status == "committed")).all())
        if ops:
            prev, lid = min((prev, lid) for lid, prev in pairs if lid in ops)
            raise OperationError(f"cannot roll back load {prev}: later load {lid} of operation {ops[lid]} "
                                 f"replaced its records; roll back {ops[lid]} first")
    return any(lid in mine for lid, _ in pairs)


def _refuse_gone(conn: Connection, ids: list[str]) -> None:
    """Refuse to roll back loads whose replaced versions `aurumplan gc` removed: nothing would restore them."""
    for lid in ids:
        if missing_versions(conn, lid):
            raise OperationError(
                f"cannot roll back load {lid}: `aurumplan gc` removed versions it replaced; put them back with "
                "`aurumplan archive restore FILE` (the files `aurumplan report` lists), then roll back")


TOGETHER_MAX = 500
"""At most this many loads are rolled back together (one IN list each statement)."""


def _rollback_together(conn: Connection, ids: list[str]) -> bool:
    """PostgreSQL: the loads' active rows deleted and the versions they replaced restored in two statements,
    in a savepoint, instead of four statements a load (13 loads: ~80 ms less, more beside a controlled
    rollback's scoring thread; bench/RESULTS.md). Only when none of them replaced rows of another (then
    the order matters: the caller knows, from _refuse_replaced); a key already active fails the insert and
    rolls the savepoint back. Returns whether it rolled them back: if not, load by load does it, or names
    what stops it."""
    if not 1 < len(ids) <= TOGETHER_MAX:
        return False
    try:
        with conn.begin_nested():
            conn.execute(_a.delete().where(_a.c.load_id.in_(ids)))
            conn.execute(_a.insert().from_select([*_KEY, "load_id"], sa.select(
                *(_d.c[k] for k in _KEY), _d.c.prev_load_id).where(_d.c.load_id.in_(ids))))
    except sa.exc.IntegrityError:
        return False
    return True


class CommitsMixin(WarehouseBase):
    """commit() and rollback() of Warehouse."""

    def _advance_fence(self, conn: Connection, fence: tuple[str, int] | None) -> None:
        if fence is None:
            return
        scope, token = fence
        if self._sqlite:
            ins: sqlite.Insert | postgresql.Insert = sqlite.insert(fences)
        else:
            from sqlalchemy.dialects import postgresql  # the PostgreSQL dialect only for a PostgreSQL warehouse

            ins = postgresql.insert(fences)
        conn.execute(ins.values(scope=scope, token=token).on_conflict_do_nothing(index_elements=["scope"]))
        moved = conn.execute(fences.update().where(fences.c.scope == scope, fences.c.token <= token)
                             .values(token=token)).rowcount
        if not moved:
            held = conn.execute(sa.select(fences.c.token).where(fences.c.scope == scope)).scalar()
            raise FencedError(f"fenced: token {token} for {scope} is older than {held}, "
                              "another operation has committed there since; nothing was committed")

    def commit(self, load_ids: Iterable[str], fence: tuple[str, int] | None = None,
               replace_range: bool = False, exclude: Mapping[str, Exclusions] | None = None,
               ready: Callable[[], bool] | None = None) -> list[str]:
        """Make the loads' rows current; returns the ids that this call committed (not already).

        `exclude` (load id -> series -> intervals) keeps periods out of a load's commit: those a
        newer operation committed after the load was staged (docs/architecture.md, the commit invariant).
        `ready`, called once the switch is written and before it is committed, holds the transaction
        open until it returns: False rolls it back and commits nothing (apply/speculation.py).
        """
        try:
            return self._commit_all(load_ids, fence, replace_range, exclude, ready)
        except _Withdrawn:
            return []

    def _commit_all(self, load_ids: Iterable[str], fence: tuple[str, int] | None, replace_range: bool,
                    exclude: Mapping[str, Exclusions] | None, ready: Callable[[], bool] | None) -> list[str]:
        ids = list(dict.fromkeys(load_ids))
        done: list[str] = []
        if not self._sqlite:
            self._analyze()
        with self._write() as conn:
            index_lookups(conn)
            self._advance_fence(conn, fence)
            rows = {r["load_id"]: r for r in conn.execute(
                sa.select(loads).where(loads.c.load_id.in_(ids))).mappings()}
            todo: list[sa.RowMapping] = []
            for lid in ids:
                row = rows.get(lid)
                if row is None:
                    raise OperationError(f"no load {lid} in the warehouse")
                if row["status"] == "committed":
                    continue
                if row["status"] != "staged":
                    raise OperationError(f"load {lid} is {row['status']} and cannot be committed")
                todo.append(row)
            first = _FirstLoads(conn)
            probes = [first.need_probe(row) for row in todo]
            plain = not replace_range and not any(probes) and not any((exclude or {}).get(r["load_id"]) for r in todo)
            if not (plain and _switch_by_series(conn, todo)):
                for staged, probe in zip(todo, probes, strict=True):
                    self._commit_one(conn, staged, replace_range, (exclude or {}).get(staged["load_id"]), probe)
            # numbered after the highest so far, once per commit (the lock serialises commits)
            seq = conn.execute(sa.select(sa.func.coalesce(sa.func.max(loads.c.commit_seq), 0))).scalar_one() \
                if todo else 0
            for staged in todo:
                lid = staged["load_id"]
                seq += 1
                values: dict[str, Any] = {"status": "committed", "commit_seq": seq,
                                          "committed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
                if fence is not None:
                    values.update(fence_scope=fence[0], fence_token=fence[1])
                conn.execute(loads.update().where(loads.c.load_id == lid).values(**values))
                done.append(lid)
            if ready is not None and not ready():
                raise _Withdrawn
        if done and not self._sqlite:
            self._analyze("observations_active, load_displaced")
        return done

    def _analyze(self, tables: str = "observations, observations_active") -> None:
        """Fresh PostgreSQL statistics on the rows just staged or switched, in their own transaction.

        Autovacuum has not seen a load staged seconds ago: with statistics saying its observations do
        not exist, a Replay's commit scanned the active range once per staged row (61,320 rows: 45 s
        against 1.5 s on SQLite, bench/RESULTS.md). After a commit or rollback the active table is
        refreshed likewise: reading the current version with statistics from before the switch
        probed the active table once per stored version (a 61,320-row read: 356 ms, 85 ms after).
        Outside the commit's transaction, so its lock (SHARE UPDATE EXCLUSIVE) is not held while the
        commit waits for others. It samples ANALYZE_TARGET x 300 rows: what these statements need is the
        tables' sizes and the rows per load, and the default sample (100 x 300) took ~50 ms per table
        at 61,320 rows against ~10 ms. Autovacuum's own ANALYZE later keeps the database's target.
        """
        with self._engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL default_statistics_target = {ANALYZE_TARGET}")
            conn.exec_driver_sql(f"ANALYZE {tables}")

    @staticmethod
    def _anything_active(conn: Connection, load: Any) -> bool:
        """Whether any active row shares a series and period span with the load's rows.

        A Backfill writes where nothing is active; this probe (one index range per series, in
        one statement) lets its commit skip matching every row against the active versions.
        """
        hit = conn.execute(_ACTIVE_PROBE, {"lid": load["load_id"], "source": load["source"],
                                           "dataset": load["dataset"]}).first()
        return hit is not None

    @classmethod
    def _commit_one(cls, conn: Connection, load: Any, replace_range: bool, exclude: Exclusions | None,
                    probe: bool = True) -> None:
        lid = load["load_id"]
        scope = (_a.c.source == load["source"]) & (_a.c.dataset == load["dataset"])
        cols = ["load_id", *_KEY, "prev_load_id"]
        kept_o, kept_a = _outside(_o, exclude), _outside(_a, exclude)
        outside: list[sa.ColumnElement[bool]] = []
        pg = conn.dialect.name != "sqlite"
        if replace_range:
            # Every active version in the load's declared range goes: those it rewrites and those it
            # lacks, one index range with no join (PostgreSQL: two joins per load cost ~45 ms each).
            series, start, end = json.loads(load["series"]), load["period_start"], load["period_end"]
            in_range = [scope, _a.c.series_id.in_(series), _a.c.period >= start, _a.c.period < end,
                        _a.c.load_id != lid, *kept_a]
            if pg:
                cls._displace(conn, lid, _a.delete().where(*in_range))
            else:
                held = sa.select(sa.literal(lid), *(_a.c[k] for k in _KEY), _a.c.load_id).where(*in_range)
                conn.execute(_d.insert().from_select(cols, held))
            outside = [~sa.and_(_o.c.series_id.in_(series), _o.c.period >= start, _o.c.period < end)]
        # What the load rewrites (outside its declared range, after the above). Without `probe`
        # (_FirstLoads) nothing was active where the load writes. The span probe is for SQLite:
        # PostgreSQL plans its correlated subquery from statistics taken before the load (an empty
        # table: a scan per load), so there the join runs whenever something may be active.
        rewritten = [_same_key(_o, _a), _o.c.load_id == lid, _a.c.load_id != lid, *kept_o, *outside]
        if probe and pg:
            cls._displace(conn, lid, _a.delete().where(*rewritten))
        elif probe and cls._anything_active(conn, load):
            same = sa.select(sa.literal(lid), *(_a.c[k] for k in _KEY), _a.c.load_id).where(*rewritten)
            conn.execute(_d.insert().from_select(cols, same))
        if not pg:
            displaced = sa.select(*(_d.c[k] for k in _KEY)).where(_d.c.load_id == lid)
            conn.execute(_a.delete().where(sa.tuple_(*(_a.c[k] for k in _KEY)).in_(displaced)))
        conn.execute(_a.insert().from_select(
            [*_KEY, "load_id"],
            sa.select(*(_o.c[k] for k in _KEY), _o.c.load_id).where(_o.c.load_id == lid, *kept_o)))

    @staticmethod
    def _displace(conn: Connection, lid: str, delete: sa.Delete) -> None:
        """PostgreSQL: delete the active rows a load replaces and record them in load_displaced, in one
        statement (a DELETE ... RETURNING feeding the INSERT). Recorded first and deleted by key after,
        each row was looked up in the active table twice (a Replay of 61,320 rows: the DELETE ~0.2 s)."""
        gone = delete.returning(*(_a.c[k] for k in _KEY), _a.c.load_id).cte("gone")
        conn.execute(_d.insert().from_select(["load_id", *_KEY, "prev_load_id"],
                                             sa.select(sa.literal(lid), *(gone.c[k] for k in _KEY), gone.c.load_id)))

    def rollback(self, load_ids: Iterable[str], verified: Verified | None = None) -> list[str]:
        """Restore the versions the loads replaced, newest commit first; returns those rolled back.

        `verified` (unrestorable's answer when it found nothing missing) spares its loads the check that
        `gc` left their replaced versions, as long as no `gc` deleted anything since (PostgreSQL: ~25 ms
        per 5,000-row load).
        """
        ids = list(dict.fromkeys(load_ids))
        done: list[str] = []
        with self._write() as conn:
            index_lookups(conn)
            generation = gc_generation(conn)
            checked = verified.loads if verified is not None and generation is not None \
                and verified.generation == generation else frozenset()
            rows = list(conn.execute(sa.select(loads).where(loads.c.load_id.in_(ids))).mappings())
            missing = set(ids) - {r["load_id"] for r in rows}
            if missing:
                raise OperationError(f"no load {sorted(missing)[0]} in the warehouse")
            for row in sorted(rows, key=lambda r: -(r["commit_seq"] or 0)):
                lid, status = row["load_id"], row["status"]
                if status in ("rolled_back", "discarded"):
                    continue
                if status != "committed":
                    raise OperationError(f"load {lid} is {status}, not committed: discard it instead")
                done.append(lid)
            chained = _refuse_replaced(conn, done)
            _refuse_gone(conn, [lid for lid in done if lid not in checked])
            if self._sqlite or chained or not _rollback_together(conn, done):
                for lid in done:
                    self._rollback_one(conn, lid)
            if done:
                conn.execute(loads.update().where(loads.c.load_id.in_(done)).values(status="rolled_back"))
        if done and not self._sqlite:  # a rollback leaves load_displaced as it was: only the active rows changed
            self._analyze("observations_active")
        return done

    @staticmethod
    def _rollback_one(conn: Connection, lid: str) -> None:
        mine = _a.c.load_id == lid
        if conn.dialect.name == "sqlite":  # no load_id index there (schema.py): go by the load's keys
            mine = mine & sa.tuple_(*(_a.c[k] for k in _KEY)).in_(
                sa.select(*(_o.c[k] for k in _KEY)).where(_o.c.load_id == lid))
        conn.execute(_a.delete().where(mine))
        # The versions it replaced become active again. A key already active means a later load wrote
        # a period this one removed, and only then is the culprit looked up (a join per load that
        # PostgreSQL planned as a scan of the active table). SQLite's insert skips such keys and the
        # counts differ. PostgreSQL's plain insert fails on one, in a savepoint: ON CONFLICT made every
        # row a speculative insertion (61,320 rows: 0.57 -> 0.37 s, bench/RESULTS.md).
        displaced = sa.select(*(_d.c[k] for k in _KEY), _d.c.prev_load_id).where(_d.c.load_id == lid)
        if conn.dialect.name == "sqlite":
            restore = sqlite.insert(_a).from_select([*_KEY, "load_id"], displaced).on_conflict_do_nothing()
            restored = conn.execute(restore.execution_options(preserve_rowcount=True)).rowcount
            wanted = conn.execute(sa.select(sa.func.count()).select_from(_d).where(_d.c.load_id == lid)).scalar_one()
            clashed = restored != wanted
        else:
            try:
                with conn.begin_nested():
                    conn.execute(_a.insert().from_select([*_KEY, "load_id"], displaced))
                clashed = False
            except sa.exc.IntegrityError:
                clashed = True
        if clashed:
            clash = conn.execute(
                sa.select(_a.c.load_id, loads.c.operation_id)
                .select_from(_d.join(_a, _same_key(_d, _a)).join(loads, loads.c.load_id == _a.c.load_id))
                .where(_d.c.load_id == lid, _a.c.load_id != _d.c.prev_load_id).limit(1)).first()
            who = f"later load {clash.load_id} of operation {clash.operation_id}" if clash else "a later load"
            first = f"roll back {clash.operation_id} first" if clash else "roll back the later operation first"
            raise OperationError(f"cannot roll back load {lid}: {who} wrote periods it removed; {first}")
