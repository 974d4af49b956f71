"""Reading frames: active vs staged rows, exact windows, SQLite's varying timestamp spellings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aurumplan.catalog import Catalog
from aurumplan.quality import evaluate, load_frame
from tests.quality.conftest import H, Warehouse, hours, make_warehouse

T0 = 1_704_067_200  # 2024-01-01T00:00Z


def test_active_and_staged_versions(wh: Warehouse) -> None:
    wh.load("old", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24, 1.0) + hours("MISO", "2024-01-01", 2, 3.0))
    wh.stage("new", "ELEC.DEMAND", hours("PJM", "2024-01-01T06:00", 4, 2.0))
    with wh.connect() as conn:
        current = load_frame(conn, "eia", "ELEC.DEMAND", (T0 + 5 * H, T0 + 8 * H))
        staged = load_frame(conn, "eia", "ELEC.DEMAND", (T0, T0 + 24 * H), load_ids="new", with_attributes=True)
    assert current.series["PJM"].periods == [T0 + 5 * H, T0 + 6 * H, T0 + 7 * H]
    assert current.series["PJM"].values == [1.0, 1.0, 1.0]
    assert set(current.series) == {"PJM"}
    assert staged.series["PJM"].periods == [T0 + (6 + i) * H for i in range(4)]
    assert staged.series["PJM"].values == [2.0] * 4 and staged.series["PJM"].attributes == [None] * 4
    assert staged.load_ids == ("new",) and staged.rows == 4


def test_staged_loads_read_together_come_out_in_period_order(wh: Warehouse) -> None:
    """Several staged loads are read in one pass (no sort in the database); whatever order they come
    in (here the later periods sit in the load whose id sorts first), each series is in time order
    with its values beside their periods."""
    wh.stage("a-late", "ELEC.DEMAND", [("PJM", T0 + (10 + i) * H, 10.0 + i) for i in range(3)]
             + [("MISO", T0 + (10 + i) * H, 20.0 + i) for i in range(2)])
    wh.stage("b-early", "ELEC.DEMAND", [("MISO", T0 + i * H, 0.5 + i) for i in range(2)]
             + [("PJM", T0 + i * H, 1.0 + i) for i in range(3)])
    with wh.connect() as conn:
        frame = load_frame(conn, "eia", "ELEC.DEMAND", (T0, T0 + 24 * H), load_ids=["a-late", "b-early"],
                           with_load_ids=True)
    pjm, miso = frame.series["PJM"], frame.series["MISO"]
    assert pjm.periods == [T0, T0 + H, T0 + 2 * H, T0 + 10 * H, T0 + 11 * H, T0 + 12 * H]
    assert pjm.values == [1.0, 2.0, 3.0, 10.0, 11.0, 12.0]
    assert pjm.load_ids == ["b-early"] * 3 + ["a-late"] * 3
    assert miso.periods == [T0, T0 + H, T0 + 10 * H, T0 + 11 * H] and miso.values == [0.5, 1.5, 20.0, 21.0]


@pytest.fixture
def sqlite_wh(tmp_path: Path) -> Iterator[Warehouse]:
    w = make_warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    yield w
    w.engine.dispose()


def test_sqlite_spellings_are_one_instant(sqlite_wh: Warehouse, catalog: Catalog) -> None:
    """`T` or space, with or without fractions: the window is exact and equal instants collide."""
    rows = [("PJM", "2024-01-01T04:00:00", 1.0), ("PJM", "2024-01-01 05:00:00.000000", 1.0),
            ("PJM", "2024-01-01T05:00:00", 1.0), ("PJM", "2024-01-01T06:00:00", 1.0)]
    sqlite_wh.stage("a", "ELEC.DEMAND", rows)
    with sqlite_wh.connect() as conn:
        f = load_frame(conn, "eia", "ELEC.DEMAND", (T0 + 5 * H, T0 + 6 * H), load_ids="a")
        q = evaluate(conn, catalog, "eia", "ELEC.DEMAND", (T0 + 5 * H, T0 + 6 * H), checks=["consistency"],
                     load_id="a", series=["PJM"])
    assert f.series["PJM"].periods == [T0 + 5 * H, T0 + 5 * H]
    assert [(x.kind, x.count) for x in q.results["consistency"].findings] == [("duplicate", 1)]
