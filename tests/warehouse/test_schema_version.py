"""Every load records the schema version of its rows, and an older warehouse gains the column on open."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from aurumplan.warehouse import LoadInfo, open_warehouse
from aurumplan.warehouse.schema import SCHEMA_SCOPE, fences, schema_mark

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


@pytest.mark.parametrize("mark", ["none", "older"])
def test_an_older_warehouse_gains_the_column_and_keeps_its_rows(db_url: str, mark: str) -> None:
    """Made before loads had schema_version: with no schema mark (before marks) or another version's."""
    wh = open_warehouse(db_url)
    wh.stage_load(_info("OLD", None))
    wh.write_batch("OLD", [("eia", "ELEC.PRICE", "CA.RES", 0, 20.0, "cents per kilowatt-hour", None)])
    wh.commit(["OLD"], fence=("eia/ELEC.PRICE", 1))
    wh.close()
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
