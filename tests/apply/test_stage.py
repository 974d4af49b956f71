"""Staging a node's load: rows an earlier attempt left under it are cleared, whoever wrote them."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, cast

from aurumplan.apply import nodes as N
from aurumplan.catalog import load_catalog
from aurumplan.plan.model import DataNode
from aurumplan.state import open_state
from aurumplan.warehouse import open_warehouse
from aurumplan.warehouse.schema import observations

H = 3600


def test_staging_clears_rows_an_earlier_attempt_left_even_when_the_load_counts_none(db_url: str) -> None:
    """An engine such as SeaTunnel's Jdbc sink writes rows without counting them in `loads`: a crashed
    attempt leaves rows under a load of 0 records. Staging the node again clears them; a new load and a
    load with no rows are left as they are."""
    source = load_catalog().sources["eia"]
    wh = open_warehouse(db_url)
    store = open_state(db_url)
    run = N.NodeRun("OP1", source, store, wh, 1, "Backfill", None, lambda ds: ds.schema_version)
    node = cast(DataNode, SimpleNamespace(id="ELEC.DEMAND/extract/0", dataset="ELEC.DEMAND"))
    lid = N.stage(run, node, ["PJM"], 0, 24 * H)
    assert not wh.has_rows(lid) and N.stage(run, node, ["PJM"], 0, 24 * H) == lid
    with wh._write() as conn:  # as an engine's sink writes: rows only, `loads` untouched
        conn.execute(observations.insert(), [_row(lid, h) for h in range(3)])
    assert wh.has_rows(lid) and wh.load(lid).records == 0
    assert N.stage(run, node, ["PJM"], 0, 24 * H) == lid
    assert not wh.has_rows(lid) and wh.load(lid).status == "staged"
    store.close()
    wh.close()


def _row(lid: str, hour: int) -> dict[str, Any]:
    return {"load_id": lid, "source": "eia", "dataset": "ELEC.DEMAND", "series_id": "PJM",
            "period": dt.datetime(1970, 1, 1) + dt.timedelta(hours=hour), "value": 1.0, "unit": "MWh",
            "attributes": None}
