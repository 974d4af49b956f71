"""apply/algorithm.py on SQLite and PostgreSQL: the staged load is rewritten with consistent totals, the commit
serves the algorithm's values, and a rollback restores the previous checksum exactly."""

from __future__ import annotations

from aurumplan.apply.algorithm import run_algorithm
from aurumplan.warehouse import LoadInfo, Warehouse, open_warehouse

H = 3600
ALGO = {"name": "outlier_replacement", "version": "1", "params": {"window_size": 5, "threshold": 3.5}}


def _stage(wh: Warehouse, load_id: str, op: str, spike: bool) -> None:
    wh.stage_load(LoadInfo(load_id, op, "eia", "ELEC.DEMAND", 0, 12 * H, ("PJM", "MISO"), node_id=load_id))
    wh.write_batch(load_id, [("eia", "ELEC.DEMAND", s, h * H, 9000.0 if spike and s == "PJM" and h == 6
                              else 100.0 + h % 2, "MWh", {"respondent": s})
                             for s in ("PJM", "MISO") for h in range(12)])


def test_algorithm_rewrites_the_staged_load_and_rollback_restores_exactly(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _stage(wh, "L1", "BACKFILL", spike=False)
    wh.commit(["L1"])
    before = wh.current_checksum()
    _stage(wh, "L2", "REPLAY", spike=True)
    assert run_algorithm(wh, "L2", "eia", "ELEC.DEMAND", ALGO) == 24
    load = wh.load("L2")
    assert load is not None and (load.records, load.checksum) == wh.load_stats("L2")
    rows = {(r.series_id, r.period): r for r in wh.read_rows("eia", "ELEC.DEMAND", load_id="L2")}
    spike = rows[("PJM", 6 * H)]
    assert spike.value == 101.0  # the median of 100, 101, 9000, 101, 100
    assert spike.attributes == {"respondent": "PJM", "algorithm": "outlier_replacement@1", "original": 9000.0}
    assert sum(1 for r in rows.values() if r.attributes and "algorithm" in r.attributes) == 1
    wh.commit(["L2"])
    assert wh.current_checksum() != before
    assert wh.rollback(["L2"]) == ["L2"]
    assert wh.current_checksum() == before
    wh.close()
