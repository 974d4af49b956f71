"""A small warehouse (observations, loads, load_displaced, observations_current) on SQLite and PostgreSQL.

The tables follow docs/architecture.md ("The warehouse tables"); the view here is deliberately naive
(committed rows not displaced) so that a broken commit can show duplicate keys, which the consistency
check must catch. observations_active is a view of its keys, where the reads find a dataset's series.
Databases come from tests/state/dburl.py: a SQLite file, or a fresh PostgreSQL schema per test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from aurumplan.catalog import Catalog, DatasetDef, load_catalog
from aurumplan.intervals import from_ts, parse_ts
from tests.state.dburl import db_url, pytest_collection_modifyitems, pytest_terminal_summary

__all__ = ["db_url", "pytest_collection_modifyitems", "pytest_terminal_summary"]

DDL = [
    """CREATE TABLE loads (load_id TEXT PRIMARY KEY, operation_id TEXT NOT NULL, node_id TEXT,
       source TEXT NOT NULL, dataset TEXT NOT NULL, period_start TIMESTAMP, period_end TIMESTAMP,
       series TEXT, status TEXT NOT NULL, records INTEGER, checksum TEXT)""",
    """CREATE TABLE observations (source TEXT NOT NULL, dataset TEXT NOT NULL, series_id TEXT NOT NULL,
       period TIMESTAMP NOT NULL, value FLOAT, unit TEXT, attributes TEXT, load_id TEXT NOT NULL,
       PRIMARY KEY (source, dataset, series_id, period, load_id))""",
    """CREATE TABLE load_displaced (load_id TEXT NOT NULL, source TEXT NOT NULL, dataset TEXT NOT NULL,
       series_id TEXT NOT NULL, period TIMESTAMP NOT NULL, prev_load_id TEXT NOT NULL,
       PRIMARY KEY (load_id, source, dataset, series_id, period))""",
    "CREATE INDEX ix_displaced_prev ON load_displaced (prev_load_id, source, dataset, series_id, period)",
    """CREATE VIEW observations_current AS
       SELECT o.source, o.dataset, o.series_id, o.period, o.value, o.unit, o.attributes, o.load_id
       FROM observations o JOIN loads l ON l.load_id = o.load_id
       WHERE l.status = 'committed' AND NOT EXISTS (
         SELECT 1 FROM load_displaced d WHERE d.prev_load_id = o.load_id AND d.source = o.source
         AND d.dataset = o.dataset AND d.series_id = o.series_id AND d.period = o.period)""",
    # the warehouse's reads find a dataset's series in its active keys (warehouse/reads.window_series)
    """CREATE VIEW observations_active AS
       SELECT source, dataset, series_id, period, load_id FROM observations_current""",
]

Row = tuple[Any, ...]  # (series_id, ts, value[, unit[, attributes]])


class Warehouse:
    """Writes loads the way the warehouse does (stage, then commit with displacement records)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"

    def period(self, ts: int) -> Any:
        naive = from_ts(ts).replace(tzinfo=None)
        return naive.strftime("%Y-%m-%d %H:%M:%S") if self.sqlite else naive

    def stage(self, load_id: str, dataset: str, rows: Iterable[Row], *, source: str = "eia",
              unit: str = "megawatthours", operation: str = "op-1", status: str = "staged") -> None:
        rows = list(rows)
        recs = [{"source": source, "dataset": dataset, "series_id": r[0],
                 "period": r[1] if isinstance(r[1], str) else self.period(r[1]), "value": r[2],
                 "unit": r[3] if len(r) > 3 else unit, "attributes": r[4] if len(r) > 4 else None,
                 "load_id": load_id} for r in rows]
        ints = [r[1] for r in rows if isinstance(r[1], int)] or [0]
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO loads (load_id, operation_id, source, dataset, period_start, period_end, series, "
                "status, records, checksum) VALUES (:l, :o, :s, :d, :ps, :pe, :series, :st, :n, 'x')"),
                {"l": load_id, "o": operation, "s": source, "d": dataset, "ps": self.period(min(ints)),
                 "pe": self.period(max(ints) + 3600), "series": json.dumps(sorted({r[0] for r in rows})),
                 "st": status, "n": len(rows)})
            if recs:
                conn.execute(sa.text(
                    "INSERT INTO observations (source, dataset, series_id, period, value, unit, attributes, "
                    "load_id) VALUES (:source, :dataset, :series_id, :period, :value, :unit, :attributes, "
                    ":load_id)"), recs)

    def commit(self, load_id: str, *, displace: bool = True) -> None:
        """Make load_id active; record the active rows it replaces (unless displace is False)."""
        with self.engine.begin() as conn:
            if displace:
                conn.execute(sa.text(
                    "INSERT INTO load_displaced (load_id, source, dataset, series_id, period, prev_load_id) "
                    "SELECT n.load_id, c.source, c.dataset, c.series_id, c.period, c.load_id "
                    "FROM observations n JOIN observations_current c ON c.source = n.source "
                    "AND c.dataset = n.dataset AND c.series_id = n.series_id AND c.period = n.period "
                    "WHERE n.load_id = :l"), {"l": load_id})
            conn.execute(sa.text("UPDATE loads SET status = 'committed' WHERE load_id = :l"), {"l": load_id})

    def load(self, load_id: str, dataset: str, rows: Iterable[Row], **kw: Any) -> None:
        self.stage(load_id, dataset, rows, **kw)
        self.commit(load_id)

    def connect(self) -> Connection:
        return self.engine.connect()


def make_warehouse(db_url: str) -> Warehouse:
    """The tables and view of DDL in the (empty) database at db_url."""
    url = sa.make_url(db_url)
    if url.get_backend_name() == "sqlite":
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for stmt in DDL:
            conn.execute(sa.text(stmt))
    return Warehouse(engine)


@pytest.fixture
def wh(db_url: str) -> Iterator[Warehouse]:
    w = make_warehouse(db_url)
    try:
        yield w
    finally:
        w.engine.dispose()


H = 3600


def hours(series_id: str, start: str, n: int, value: float = 100.0) -> list[Row]:
    """n hourly rows of one series from start (ISO, UTC), all with the same value."""
    t0 = parse_ts(start)
    return [(series_id, t0 + i * H, value) for i in range(n)]


def with_dataset(catalog: Catalog, source: str, ds: DatasetDef) -> Catalog:
    """A copy of catalog where source also has (or replaces) dataset ds."""
    src = catalog.source(source)
    new = src.model_copy(update={"datasets": {**src.datasets, ds.name: ds}})
    return Catalog({**catalog.sources, source: new})


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()
