"""Every load records the schema version of its rows, and an older warehouse gains the column on open."""

from __future__ import annotations

import sqlalchemy as sa

from aurumplan.warehouse import LoadInfo, open_warehouse

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


def test_an_older_warehouse_gains_the_column_and_keeps_its_rows(db_url: str) -> None:
    wh = open_warehouse(db_url)
    wh.stage_load(_info("OLD", None))
    wh.write_batch("OLD", [("eia", "ELEC.PRICE", "CA.RES", 0, 20.0, "cents per kilowatt-hour", None)])
    wh.commit(["OLD"], fence=("eia/ELEC.PRICE", 1))
    wh.close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # a warehouse made before loads had schema_version
        conn.exec_driver_sql("ALTER TABLE loads DROP COLUMN schema_version")
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
