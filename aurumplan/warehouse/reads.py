"""Reads the quality checks and coverage make, on a connection the caller holds (`Warehouse.connect`).

They take a connection, not the warehouse, so that one check reads all its rows in one snapshot.
Periods come back as epoch seconds converted by the database itself, so a million rows cost one
C-level conversion each and no datetime objects. SQLite stores TIMESTAMP as text whose spelling
may vary (`T` or space), so its window filter is a coarse text range by whole days: callers
narrow it exactly on the epoch values (see docs/quality.md, "How rows are read").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.db import driver_connection
from aurumplan.intervals import DAY, Interval, from_ts


def epoch_sql(conn: Connection, column: str = "period") -> str:
    """SQL turning a naive-UTC TIMESTAMP column into epoch seconds (NULL if unreadable)."""
    if conn.dialect.name == "sqlite":
        # unixepoch() (SQLite 3.38+) is about twice as fast as strftime('%s')
        return f"unixepoch({column})" if sqlite3.sqlite_version_info >= (3, 38) else \
            f"CAST(strftime('%s', {column}) AS INTEGER)"
    return f"CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)"


def _bounds(conn: Connection, window: Interval) -> tuple[Any, Any]:
    lo, hi = window
    if conn.dialect.name == "sqlite":
        lo_day = lo - lo % DAY
        hi_day = hi - hi % DAY + (DAY if hi % DAY else 0)
        return from_ts(lo_day).strftime("%Y-%m-%d"), from_ts(hi_day).strftime("%Y-%m-%d")
    return from_ts(lo).replace(tzinfo=None), from_ts(hi).replace(tzinfo=None)


def observation_rows(conn: Connection, source: str, dataset: str, window: Interval, *,
                     load_ids: Sequence[str] = (), with_attributes: bool = False,
                     with_load_ids: bool = False) -> Iterator[Sequence[Any]]:
    """(series_id, epoch or None, value, unit[, attributes][, load_id]) rows of a dataset, coarsely in window.

    Without load_ids: the active version, ordered by series and period; with them: exactly those
    loads' rows (staged or not), unordered (they come load by load).
    """
    ids = tuple(load_ids)
    cols = f"series_id, {epoch_sql(conn)} AS ts, value, unit"
    if with_attributes:
        cols += ", attributes"
    if with_load_ids:
        cols += ", load_id"
    m = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"SELECT {cols} FROM {'observations' if ids else 'observations_current'} "
           f"WHERE source = {m} AND dataset = {m} AND period >= {m} AND period < {m}")
    params: list[Any] = [source, dataset, *_bounds(conn, window)]
    if ids:
        sql += f" AND load_id IN ({','.join([m] * len(ids))})"
        params.extend(ids)
    else:
        series = window_series(conn, source, dataset)
        if series is not None:
            if not series:
                return iter(())
            sql += f" AND series_id IN ({','.join([m] * len(series))})"
            params.extend(series)
        sql += " ORDER BY series_id, period"
    return _driver_rows(conn, sql, params)


SERIES_IN_MAX = 500
"""A windowed read of the active version names the dataset's series when it has at most this many (one IN
list); a dataset with more is read as before, its whole active key range filtered by period."""


def _active_values(conn: Connection, column: str, source: str, dataset: str | None = None,
                   most: int | None = None) -> list[str]:
    """The distinct values of `column` ("dataset" or "series_id") among a source's (or one of its datasets')
    active keys, in key order, one index seek each (a loose index scan: each asks for the next value after
    the last), where a DISTINCT reads every active row. With `most`, at most most + 1 of them."""
    params: dict[str, Any] = {"source": source}
    where, limit = "source = :source", ""
    if dataset is not None:
        where += " AND dataset = :dataset"
        params["dataset"] = dataset
    if most is not None:
        limit = " AND s.n <= :most"
        params["most"] = most
    first = f"SELECT min({column}) FROM observations_active WHERE {where}"
    sql = (f"WITH RECURSIVE s(v, n) AS (SELECT ({first}), 1 UNION ALL SELECT ({first} AND {column} > s.v), "
           f"s.n + 1 FROM s WHERE s.v IS NOT NULL{limit}) SELECT v FROM s WHERE v IS NOT NULL")
    return [str(r[0]) for r in conn.execute(sa.text(sql), params)]


def window_series(conn: Connection, source: str, dataset: str) -> list[str] | None:
    """The dataset's series with an active row, for a read of a window of it; None if over SERIES_IN_MAX.

    The active key is (source, dataset, series_id, period): a period range alone can only use its first two
    columns, so a day's read went through every active row of the dataset, as many as its history holds
    (SQLite, 4.38M rows: 0.73-0.89 s for 1,200; bench/RESULTS.md). Named series make it one key range per
    series. They are found one index seek each (_active_values), not by a DISTINCT over every row.
    """
    series = _active_values(conn, "series_id", source, dataset, most=SERIES_IN_MAX)
    return None if len(series) > SERIES_IN_MAX else series


FETCH_ROWS = 5000
"""Rows per fetch from a driver cursor."""


def _driver_rows(conn: Connection, sql: str, params: list[Any]) -> Iterator[Sequence[Any]]:
    """Rows straight from the driver's cursor, in the connection's transaction: a frame reads up to
    200,000 rows per call, and SQLAlchemy's per-row fetch doubled the cost of reading them. psycopg's
    rows are fetched in batches: it builds a batch in one C call, but each row of a plain iteration
    in a Python call (~30% of reading 61,320 rows; sqlite3 iterates in C, and batches were slower).
    """
    cur = driver_connection(conn).cursor()
    try:
        cur.execute(sql, params)
        if conn.dialect.name == "sqlite":
            yield from cur
        else:
            while rows := cur.fetchmany(FETCH_ROWS):
                yield from rows
    finally:
        cur.close()


def displaced_rows(conn: Connection, source: str, dataset: str,
                   load_ids: Sequence[str]) -> list[tuple[str, int | None, Any, str | None, str]]:
    """(series_id, epoch, value, unit, prev_load_id) of the rows the given committed loads replaced."""
    stmt = sa.text(
        f"SELECT o.series_id, {epoch_sql(conn, 'o.period')}, o.value, o.unit, o.load_id "
        "FROM load_displaced d JOIN observations o ON o.load_id = d.prev_load_id AND o.source = d.source "
        "AND o.dataset = d.dataset AND o.series_id = d.series_id AND o.period = d.period "
        "WHERE d.load_id IN :ids AND d.source = :source AND d.dataset = :dataset"
    ).bindparams(sa.bindparam("ids", expanding=True))
    rows = conn.execute(stmt, {"ids": list(load_ids), "source": source, "dataset": dataset})
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def loads_columns(conn: Connection) -> set[str]:
    """The columns the `loads` table has (the warehouse may add some, e.g. schema_version)."""
    return set(conn.execute(sa.text("SELECT * FROM loads WHERE 1 = 0")).keys())


def load_dicts(conn: Connection, load_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The `loads` rows of the given ids (any status), as dicts of every column."""
    if not load_ids:
        return []
    stmt = sa.text("SELECT * FROM loads WHERE load_id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True))
    return [dict(r._mapping) for r in conn.execute(stmt, {"ids": list(load_ids)})]


def displaced_load_ids(conn: Connection, load_ids: Sequence[str]) -> list[str]:
    """The loads whose rows the given (committed) loads replaced, from `load_displaced`."""
    if not load_ids:
        return []
    stmt = sa.text("SELECT DISTINCT prev_load_id FROM load_displaced WHERE load_id IN :ids "
                   "AND prev_load_id IS NOT NULL").bindparams(sa.bindparam("ids", expanding=True))
    return sorted(str(r[0]) for r in conn.execute(stmt, {"ids": list(load_ids)}))


def bucket_counts(conn: Connection, source: str, *, monthly: bool = False, dataset: str | None = None,
                  labels: tuple[str, str] | None = None,
                  series: Sequence[str] | None = None) -> dict[str, dict[str, tuple[int, int]]]:
    """Active rows per dataset and UTC day (or month) label: {dataset: {label: (rows, rows with a value)}}.

    `labels` (first label, label after the last) limits the periods to those buckets; `series`
    to those series ids. Labels over a whole source are counted dataset by dataset, each one key range
    per series (window_series).
    """
    if labels is not None and dataset is None and series is None:
        counts: dict[str, dict[str, tuple[int, int]]] = {}
        for name in _active_values(conn, "dataset", source):
            counts.update(bucket_counts(conn, source, monthly=monthly, dataset=name, labels=labels))
        return counts
    if conn.dialect.name == "sqlite":
        bucket = f"substr(period, 1, {7 if monthly else 10})"
    else:
        bucket = f"to_char(period, '{'YYYY-MM' if monthly else 'YYYY-MM-DD'}')"
    sql = (f"SELECT dataset, {bucket} AS b, COUNT(*), COUNT(value) "
           "FROM observations_current WHERE source = :source")
    params: dict[str, Any] = {"source": source}
    if dataset is not None:
        sql += " AND dataset = :dataset"
        params["dataset"] = dataset
    if labels is not None:
        sql += " AND period >= :lo AND period < :hi"
        params.update(lo=labels[0], hi=labels[1])
        if series is None and dataset is not None:
            series = window_series(conn, source, dataset)  # one key range per series (window_series)
    stmt = sa.text(sql + (" AND series_id IN :series" if series is not None else "") + " GROUP BY dataset, b")
    if series is not None:
        stmt = stmt.bindparams(sa.bindparam("series", expanding=True))
        params["series"] = list(series)
    counts = {}
    for ds_name, b, n, nv in conn.execute(stmt, params):
        counts.setdefault(ds_name, {})[b] = (int(n), int(nv))
    return counts


def active_series(conn: Connection, source: str) -> dict[str, set[str]]:
    """dataset -> series with any active row, which are those with current rows (each active key has its
    version). Found one index seek each (_active_values): a DISTINCT read every active row of the source,
    and through the current view joined each to its version."""
    return {ds: set(_active_values(conn, "series_id", source, ds)) for ds in _active_values(conn, "dataset", source)}


def replaced_pairs(conn: Connection, source: str, dataset: str,
                   load_ids: Sequence[str]) -> list[tuple[str | None, str | None, str | None, bool, str | None,
                                                          str | None, str | None]]:
    """Per row the given committed loads replaced: (old unit, old attributes, old load's schema version,
    whether a new row exists, new unit, new attributes, new load's schema version)."""
    if not load_ids:
        return []
    stmt = sa.text(
        "SELECT o.unit, o.attributes, pl.schema_version, n.load_id IS NOT NULL, n.unit, n.attributes, "
        "nl.schema_version FROM load_displaced d "
        "JOIN observations o ON o.load_id = d.prev_load_id AND o.source = d.source AND o.dataset = d.dataset "
        "AND o.series_id = d.series_id AND o.period = d.period "
        "JOIN loads pl ON pl.load_id = d.prev_load_id JOIN loads nl ON nl.load_id = d.load_id "
        "LEFT JOIN observations n ON n.load_id = d.load_id AND n.source = d.source AND n.dataset = d.dataset "
        "AND n.series_id = d.series_id AND n.period = d.period "
        "WHERE d.load_id IN :ids AND d.source = :source AND d.dataset = :dataset"
    ).bindparams(sa.bindparam("ids", expanding=True))
    rows = conn.execute(stmt, {"ids": list(load_ids), "source": source, "dataset": dataset})
    return [(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]


def day_values(conn: Connection, source: str, dataset: str, day: Interval,
               series: Sequence[str] | None = None) -> dict[str, dict[int, float]]:
    """series -> {epoch: value} of the active version inside `day` exactly; NULL values left out.

    For `compare`: the two days it sets side by side (docs/quality.md, "Comparing patterns")."""
    lo, hi = day
    wanted = set(series) if series is not None else None
    out: dict[str, dict[int, float]] = {}
    for sid, ts, value, *_ in observation_rows(conn, source, dataset, day):
        if ts is None or value is None or not lo <= ts < hi or (wanted is not None and sid not in wanted):
            continue
        out.setdefault(sid, {})[int(ts)] = float(value)
    return out
