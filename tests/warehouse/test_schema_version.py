"""Every load records the schema version of its rows, and an older warehouse gains the column on open."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from aurumplan.warehouse import LoadInfo, open_warehouse
from aurumplan.warehouse.schema import GC_SCOPE, SCHEMA_SCOPE, fences, schema_mark

H = 3600


def _info(load_id: str, version: str | None) -> LoadInfo:
    return LoadInfo(load_id, "OP1", "eia", "ELEC.PRICE", 0, 24 * H, ("CA.RES",), node_id="n",
                    schema_version=version)


def test_a_load_keeps_the_schema_version_it_was_staged_with(db_url: str) -> None:
    wh = open_warehouse(db_url)
    wh.stage_load(_info("L1", "v2"))
    wh.write_batch("L1", [("eia", "ELEC.PRICE", "CA.RES", 0, 0.2, "dollars per kilowatthour", None)])
    wh.commit(["L1"], fence=("eia/ELEC.PRICE", 1))
    load = wh.load("L1")
    assert load is not None and load.schema_version == "v2"
    wh.stage_load(_info("L2", None))
    assert (wh.load("L2") or load).schema_version is None
    wh.close()


def _commit_old(db_url: str) -> None:
    """A warehouse holding one committed load, OLD, without a schema version."""
    wh = open_warehouse(db_url)
    wh.stage_load(_info("OLD", None))
    wh.write_batch("OLD", [("eia", "ELEC.PRICE", "CA.RES", 0, 20.0, "cents per kilowatt-hour", None)])
    wh.commit(["OLD"], fence=("eia/ELEC.PRICE", 1))
    wh.close()


@pytest.mark.parametrize("mark", ["none", "older"])
def test_an_older_warehouse_gains_the_column_and_keeps_its_rows(db_url: str, mark: str) -> None:
    """Made before loads had schema_version: with no schema mark (before marks) or another version's."""
    _commit_old(db_url)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # a warehouse made before loads had schema_version
        conn.exec_driver_sql("ALTER TABLE loads DROP COLUMN schema_version")
        marked = fences.c.scope == SCHEMA_SCOPE
        conn.execute(fences.delete().where(marked) if mark == "none" else
                     fences.update().where(marked).values(token=schema_mark() + 1))
    engine.dispose()
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert "schema_version" not in {c["name"] for c in sa.inspect(conn).get_columns("loads")}
    engine.dispose()

    wh = open_warehouse(db_url)
    old = wh.load("OLD")
    assert old is not None and old.status == "committed" and old.schema_version is None
    wh.stage_load(_info("NEW", "v2"))
    new = wh.load("NEW")
    assert new is not None and new.schema_version == "v2"
    wh.close()


def test_an_older_warehouse_gains_a_missing_table_and_keeps_its_rows_and_gc_count(db_url: str) -> None:
    """Made before quarantines existed, with `gc` runs counted: the open creates only what is missing (the
    tables there keep their rows) and leaves the count as it was (a new warehouse starts it at 0)."""
    _commit_old(db_url)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # before quarantines, after two counted gc runs
        conn.exec_driver_sql("DROP TABLE quarantined")
        conn.exec_driver_sql("DROP TABLE quarantines")
        conn.execute(fences.update().where(fences.c.scope == GC_SCOPE).values(token=2))
        conn.execute(fences.delete().where(fences.c.scope == SCHEMA_SCOPE))
    engine.dispose()

    wh = open_warehouse(db_url)
    old = wh.load("OLD")
    assert old is not None and old.status == "committed"
    assert wh.quarantine("Q1", "eia", [("ELEC.PRICE", "CA.RES", 0, 3600)], mode="strict") == 1
    with wh.connect() as conn:
        assert conn.execute(sa.select(fences.c.token).where(fences.c.scope == GC_SCOPE)).scalar_one() == 2
        assert conn.execute(sa.select(fences.c.token).where(fences.c.scope == SCHEMA_SCOPE)).scalar_one() \
            == schema_mark()
    wh.close()


def test_a_warehouse_at_this_version_s_mark_opens_without_catalog_queries(db_url: str) -> None:
    """Its tables are not inspected again on every open (one query reads the mark)."""
    open_warehouse(db_url).close()
    seen: list[str] = []

    def spy(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", spy)
    try:
        open_warehouse(db_url).close()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", spy)
    queries = [q for q in seen if not q.startswith("BEGIN")]  # SQLite's own BEGIN (db.py)
    assert len(queries) == 1 and "fences" in queries[0]


def _view_sql(conn: sa.Connection) -> str:
    if conn.dialect.name == "sqlite":
        return str(conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'observations_current'").scalar())
    return str(conn.exec_driver_sql("SELECT pg_get_viewdef('observations_current'::regclass)").scalar())


def test_an_older_warehouse_s_current_view_is_replaced_in_place_with_the_same_rows(db_url: str) -> None:
    """Its key columns were the stored version's, so a window on the view's period filtered after the join;
    the view is redefined on open, and a PostgreSQL view built on it survives."""
    wh = open_warehouse(db_url)
    wh.stage_load(_info("OLD", None))
    wh.write_batch("OLD", [("eia", "ELEC.PRICE", "CA.RES", h * H, 20.0 + h, "cents per kilowatt-hour", None)
                           for h in range(24)])
    wh.commit(["OLD"], fence=("eia/ELEC.PRICE", 1))
    wh.close()
    old_view = ("SELECT o.source, o.dataset, o.series_id, o.period, o.value, o.unit, o.attributes, o.load_id "
                "FROM observations_active a JOIN observations o ON o.load_id = a.load_id AND o.source = a.source "
                "AND o.dataset = a.dataset AND o.series_id = a.series_id AND o.period = a.period")
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP VIEW observations_current")
        conn.exec_driver_sql(f"CREATE VIEW observations_current AS {old_view}")
        conn.exec_driver_sql("CREATE VIEW user_prices AS SELECT series_id, value FROM observations_current")
        conn.execute(fences.update().where(fences.c.scope == SCHEMA_SCOPE).values(token=schema_mark() + 1))
        before = conn.exec_driver_sql("SELECT * FROM observations_current ORDER BY period").all()
        assert "observations_active.period" not in _view_sql(conn).replace("a.period", "")
    engine.dispose()

    open_warehouse(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert "observations_active.period" in _view_sql(conn)
        assert conn.exec_driver_sql("SELECT * FROM observations_current ORDER BY period").all() == before
        assert len(before) == 24
        assert conn.exec_driver_sql("SELECT count(*) FROM user_prices").scalar() == 24
    engine.dispose()


def test_an_older_warehouse_gains_the_commit_order_index_and_numbers_on(db_url: str) -> None:
    """Made before loads had an index on commit_seq: the open creates it (and only the indexes declared for
    this database), and commits go on numbering their loads after the highest, in commit order."""
    _commit_old(db_url)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_loads_commit_seq")
        conn.execute(fences.update().where(fences.c.scope == SCHEMA_SCOPE).values(token=schema_mark() + 1))
    engine.dispose()

    wh = open_warehouse(db_url)
    for lid, hour in (("A", 1), ("B", 2), ("C", 1)):
        wh.stage_load(LoadInfo(lid, "OP2", "eia", "ELEC.PRICE", hour * H, (hour + 1) * H, ("CA.RES",), node_id=lid))
        wh.write_batch(lid, [("eia", "ELEC.PRICE", "CA.RES", hour * H, 21.0, "cents per kilowatt-hour", None)])
    wh.commit(["B", "A"])
    wh.commit(["C"])  # replaces A's row
    seqs = {lid: getattr(wh.load(lid), "commit_seq", None) for lid in ("OLD", "A", "B", "C")}
    wh.close()
    assert seqs == {"OLD": 1, "B": 2, "A": 3, "C": 4}
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "ix_loads_commit_seq" in {i["name"] for i in inspector.get_indexes("loads")}
        active = {i["name"] for i in inspector.get_indexes("observations_active")}
        assert active == (set() if conn.dialect.name == "sqlite" else {"ix_observations_active_load"})
    engine.dispose()
