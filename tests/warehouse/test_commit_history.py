"""A commit costs what it commits, not what the warehouse committed before it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aurumplan.warehouse import LoadInfo, open_warehouse
from aurumplan.warehouse.schema import loads

H = 3600


@pytest.fixture
def instructions() -> Iterator[list[int]]:
    """SQLite virtual-machine instructions (in tens) run while the list's first item is not 0
    (one progress handler on every new SQLite connection)."""
    counted = [0, 0]

    def tick() -> int:
        if counted[0]:
            counted[1] += 1
        return 0

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        if hasattr(dbapi_conn, "set_progress_handler"):
            dbapi_conn.set_progress_handler(tick, 10)

    sa.event.listen(sa.pool.Pool, "connect", on_connect)
    try:
        yield counted
    finally:
        sa.event.remove(sa.pool.Pool, "connect", on_connect)


def _commit_cost(folder: Path, earlier: int, counted: list[int]) -> int:
    """Instructions of one commit of 5 one-row loads into a warehouse holding `earlier` committed loads."""
    url = f"sqlite:///{folder}/wh{earlier}.db"
    wh = open_warehouse(url)
    engine = sa.create_engine(url)
    now = dt.datetime(2024, 1, 1)
    with engine.begin() as conn:
        if earlier:
            conn.execute(loads.insert(), [
                {"load_id": f"OLD{i:06d}", "operation_id": f"OP{i // 20}", "node_id": "n", "source": "eia",
                 "dataset": "OTHER", "period_start": now, "period_end": now, "series": "[]", "status": "committed",
                 "records": 0, "checksum": "0", "created_at": now, "committed_at": now, "commit_seq": i + 1}
                for i in range(earlier)])
    engine.dispose()
    ids = [f"NEW{k}" for k in range(5)]
    for k, lid in enumerate(ids):
        wh.stage_load(LoadInfo(lid, "OPX", "eia", "ELEC.DEMAND", k * H, (k + 1) * H, ("PJM",), node_id=lid))
        wh.write_batch(lid, [("eia", "ELEC.DEMAND", "PJM", k * H, 1.0, "MWh", None)])
    counted[:] = [1, 0]
    wh.commit(ids)
    counted[0] = 0
    assert [getattr(wh.load(lid), "commit_seq", None) for lid in ids] == list(range(earlier + 1, earlier + 6))
    wh.close()
    return counted[1]


def test_a_commit_costs_the_same_after_thousands_of_earlier_loads(tmp_path: Path, instructions: list[int]) -> None:
    """Each committed load is numbered after the highest commit_seq. Read by a scan of `loads`, once per load,
    that grew with every load the warehouse ever staged (200,000 loads: a 13-load commit took ~0.4 s
    instead of ~12 ms, bench/RESULTS.md)."""
    none, many = _commit_cost(tmp_path, 0, instructions), _commit_cost(tmp_path, 20_000, instructions)
    assert many <= 1.5 * none, (none, many)
