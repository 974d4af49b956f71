"""Versioned records: commits switch the current version atomically, rollbacks restore it exactly."""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aurumplan.errors import FencedError, OperationError, WarehouseError
from aurumplan.warehouse import LoadInfo, Warehouse, archives, open_warehouse
from aurumplan.warehouse.commits import Verified
from aurumplan.warehouse.schema import GC_SCOPE, fences, observations

H = 3600
SERIES = ("PJM", "MISO", "ERCO")


def _info(load_id: str, op: str = "OP1", hours: int = 24, series: tuple[str, ...] = SERIES) -> LoadInfo:
    return LoadInfo(load_id, op, "eia", "ELEC.DEMAND", 0, hours * H, series, node_id=f"{load_id}-node")


def _rows(hours: range, bump: float = 0.0, series: tuple[str, ...] = SERIES) -> list:
    return [("eia", "ELEC.DEMAND", s, h * H, 1000.0 + h + bump, "MWh", {"respondent": s})
            for s in series for h in hours]


def _load(wh: Warehouse, load_id: str, rows: list, op: str = "OP1") -> None:
    wh.stage_load(_info(load_id, op))
    wh.write_batch(load_id, rows)


def _scalar(url: str, sql: str) -> object:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql)).scalar()
    engine.dispose()
    return value


def _one_row_per_key(url: str) -> None:
    dupes = _scalar(url, "SELECT count(*) FROM (SELECT source, dataset, series_id, period FROM "
                         "observations_current GROUP BY source, dataset, series_id, period HAVING count(*) > 1) d")
    assert dupes == 0
    assert _scalar(url, "SELECT count(*) FROM observations_current") == \
        _scalar(url, "SELECT count(*) FROM observations_active")


def test_committed_rows_become_current_and_stats_match(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    assert wh.count_current() == 0
    assert wh.commit(["L1"], fence=("eia/ELEC.DEMAND", 1)) == ["L1"]
    assert wh.count_current() == 72 == wh.count_current("eia", "ELEC.DEMAND", window=(0, 24 * H))
    assert wh.count_current(window=(0, 2 * H)) == 6
    load = wh.load("L1")
    assert load is not None and (load.status, load.records, load.commit_seq) == ("committed", 72, 1)
    assert (load.period_start, load.period_end, load.series) == (0, 24 * H, SERIES)
    assert wh.load_stats("L1") == (72, load.checksum)
    first = next(wh.read_rows("eia", "ELEC.DEMAND"))
    assert (first.series_id, first.period, first.value, first.attributes) == ("ERCO", 0, 1000.0,
                                                                              {"respondent": "ERCO"})
    assert wh.coverage("eia")[("ELEC.DEMAND", "PJM")] == [h * H for h in range(24)]
    assert [x.load_id for x in wh.loads_for_operation("OP1")] == ["L1"]
    _one_row_per_key(db_url)
    wh.close()


def test_replay_switches_versions_atomically_and_keeps_both(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    _load(wh, "L2", _rows(range(6, 12), bump=0.5), op="REPLAY")
    wh.commit(["L2"])
    current = {(r.series_id, r.period // H): (r.value, r.load_id) for r in wh.read_rows("eia", "ELEC.DEMAND")}
    assert current[("PJM", 5)] == (1005.0, "L1") and current[("PJM", 6)] == (1006.5, "L2")
    assert len(current) == 72
    assert _scalar(db_url, "SELECT count(*) FROM observations") == 72 + 18
    assert [r.value for r in wh.read_rows("eia", "ELEC.DEMAND", window=(6 * H, 7 * H), load_id="L1")] == [1006.0] * 3
    _one_row_per_key(db_url)
    wh.close()


def test_rollback_restores_the_exact_previous_checksum(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    before = wh.current_checksum()
    _load(wh, "L2", _rows(range(0, 30), bump=1.0), op="REPLAY")
    wh.commit(["L2"])
    assert wh.current_checksum() != before and wh.count_current() == 90
    assert wh.rollback(["L2"]) == ["L2"]
    assert wh.current_checksum() == before and wh.count_current() == 72
    assert wh.load("L2").status == "rolled_back"
    assert wh.rollback(["L2"]) == []
    with pytest.raises(OperationError):
        wh.commit(["L2"])
    _one_row_per_key(db_url)
    wh.close()


def test_rollback_is_refused_while_a_later_load_replaced_it(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    _load(wh, "L2", _rows(range(3), bump=2.0), op="REPLAY_X")
    wh.commit(["L2"])
    checksum = wh.current_checksum()
    with pytest.raises(OperationError, match="later load L2 of operation REPLAY_X"):
        wh.rollback(["L1"])
    assert wh.current_checksum() == checksum and wh.load("L1").status == "committed"
    assert wh.rollback(["L1", "L2"]) == ["L2", "L1"]
    assert wh.count_current() == 0
    wh.close()


def test_rollback_proceeds_once_the_later_load_that_replaced_it_is_rolled_back(db_url: str) -> None:
    """The later load's record of what it replaced stays (load_displaced), but it no longer refuses."""
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    after_l1 = wh.current_checksum()
    _load(wh, "L2", _rows(range(3), bump=2.0), op="REPLAY_X")
    wh.commit(["L2"])
    assert wh.rollback(["L2"]) == ["L2"]
    assert wh.current_checksum() == after_l1
    assert wh.rollback(["L1"]) == ["L1"]
    assert wh.count_current() == 0
    wh.close()


def test_replace_range_drops_periods_the_new_load_lacks_and_rollback_brings_them_back(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    before = wh.current_checksum()
    wh.stage_load(LoadInfo("L2", "OP2", "eia", "ELEC.DEMAND", 0, 12 * H, ("PJM",)))
    wh.write_batch("L2", _rows(range(6), bump=3.0, series=("PJM",)))
    wh.commit(["L2"], replace_range=True)
    pjm = wh.coverage("eia", "ELEC.DEMAND")[("ELEC.DEMAND", "PJM")]
    assert pjm == [h * H for h in [*range(6), *range(12, 24)]]
    assert wh.count_current() == 72 - 6
    wh.rollback(["L2"])
    assert wh.current_checksum() == before
    wh.close()


@pytest.mark.parametrize("beyond", [(), (20,), (12, 23)])
def test_replace_range_also_replaces_rows_a_load_wrote_beyond_its_declared_range(db_url: str,
                                                                                 beyond: tuple[int, ...]) -> None:
    """L2 declares PJM hours 0..11 and writes hours 0..5 plus `beyond` (a source answering more than asked):
    those replace L1's versions too, one active row per key, and the rollback brings all of L1's back."""
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    before = wh.current_checksum()
    wh.stage_load(LoadInfo("L2", "OP2", "eia", "ELEC.DEMAND", 0, 12 * H, ("PJM",)))
    wh.write_batch("L2", _rows(range(6), bump=3.0, series=("PJM",)) + [
        ("eia", "ELEC.DEMAND", "PJM", h * H, 7.0, "MWh", None) for h in beyond])
    wh.commit(["L2"], replace_range=True)
    pjm = wh.coverage("eia", "ELEC.DEMAND")[("ELEC.DEMAND", "PJM")]
    assert pjm == [h * H for h in sorted({*range(6), *range(12, 24), *beyond})]
    assert wh.count_current() == 72 - 6
    assert _scalar(db_url, "SELECT count(*) FROM observations_current WHERE load_id = 'L2'") == 6 + len(beyond)
    _one_row_per_key(db_url)
    assert wh.rollback(["L2"]) == ["L2"] and wh.current_checksum() == before
    wh.close()


def test_rollback_is_refused_where_a_later_load_wrote_periods_it_removed(db_url: str) -> None:
    """L2 removes PJM hours 6..11; L3 writes hour 8 where nothing was active: rolling L2 back would put
    L1's hour 8 beside L3's, so it is refused naming L3, and nothing changes."""
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    wh.stage_load(LoadInfo("L2", "OP2", "eia", "ELEC.DEMAND", 0, 12 * H, ("PJM",)))
    wh.write_batch("L2", _rows(range(6), bump=3.0, series=("PJM",)))
    wh.commit(["L2"], replace_range=True)
    wh.stage_load(LoadInfo("L3", "OP3", "eia", "ELEC.DEMAND", 8 * H, 9 * H, ("PJM",)))
    wh.write_batch("L3", _rows(range(8, 9), bump=5.0, series=("PJM",)))
    wh.commit(["L3"])
    before = wh.current_checksum()
    with pytest.raises(OperationError, match="later load L3 of operation OP3 wrote periods it removed; roll back OP3"):
        wh.rollback(["L2"])
    assert wh.current_checksum() == before and wh.load("L2").status == "committed"
    assert wh.rollback(["L3"]) == ["L3"] and wh.rollback(["L2"]) == ["L2"]
    wh.close()


def test_an_older_fencing_token_cannot_commit_after_a_newer_one(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _load(wh, "NEW", _rows(range(2)), op="OP_NEW")
    _load(wh, "OLD", _rows(range(2), bump=9.0), op="OP_OLD")
    wh.commit(["NEW"], fence=("eia/ELEC.DEMAND", 5))
    checksum = wh.current_checksum()
    with pytest.raises(FencedError, match="older than 5"):
        wh.commit(["OLD"], fence=("eia/ELEC.DEMAND", 4))
    assert wh.load("OLD").status == "staged" and wh.current_checksum() == checksum
    wh.commit(["OLD"], fence=("eia/ELEC.DEMAND", 5))  # the same holder may commit again
    wh.commit([], fence=("eia/ELEC.GEN", 1))  # scopes are independent
    assert wh.load("OLD").fence_token == 5
    wh.close()


def test_commit_is_idempotent(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(5)))
    assert wh.commit(["L1"]) == ["L1"]
    checksum, seq = wh.current_checksum(), wh.load("L1").commit_seq
    assert wh.commit(["L1"]) == []
    assert wh.current_checksum() == checksum and wh.load("L1").commit_seq == seq
    assert _scalar(db_url, "SELECT count(*) FROM load_displaced") == 0
    wh.close()


def test_discard_leaves_nothing_and_a_resumed_load_has_the_same_checksum(db_url: str) -> None:
    wh = open_warehouse(db_url)
    rows = _rows(range(24))
    _load(wh, "GONE", rows[:10])
    wh.discard_staged("GONE")
    assert wh.load("GONE").status == "discarded" and wh.count_current() == 0
    assert _scalar(db_url, "SELECT count(*) FROM observations") == 0
    with pytest.raises(OperationError, match="discarded"):
        wh.commit(["GONE"])
    _load(wh, "RESUMED", rows[:30])
    wh.discard_staged("RESUMED", restage=True)
    wh.write_batch("RESUMED", rows[40:])
    wh.write_batch("RESUMED", list(reversed(rows[:40])))
    _load(wh, "STRAIGHT", rows, op="OP2")
    assert wh.load("RESUMED").checksum == wh.load("STRAIGHT").checksum == wh.load_stats("RESUMED")[1]
    with pytest.raises(OperationError, match="twice"):
        wh.write_batch("STRAIGHT", rows[:1])
    assert wh.load("STRAIGHT").records == 72
    wh.commit(["STRAIGHT"])
    with pytest.raises(OperationError, match="roll it back"):
        wh.discard_staged("STRAIGHT")
    wh.close()


def test_loads_of_one_commit_on_a_new_dataset_replace_each_other_where_they_overlap(db_url: str) -> None:
    """A commit skips the active-span probe for loads written where nothing was active (SQLite); a load
    overlapping an earlier load of the same commit still records what it replaced, so rollback restores it."""
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.stage_load(LoadInfo("L2", "OP2", "eia", "ELEC.DEMAND", 0, 48 * H, ("PJM",), node_id="L2-node"))
    wh.write_batch("L2", _rows(range(12, 30), bump=1.0, series=("PJM",)))
    wh.stage_load(LoadInfo("L3", "OP3", "eia", "ELEC.DEMAND", 0, 24 * H, ("NYIS",), node_id="L3-node"))
    wh.write_batch("L3", _rows(range(24), series=("NYIS",)))
    assert wh.commit(["L1", "L2", "L3"]) == ["L1", "L2", "L3"]
    assert wh.count_current() == 72 + 6 + 24
    _one_row_per_key(db_url)
    assert _scalar(db_url, "SELECT count(*) FROM load_displaced WHERE load_id = 'L2'") == 12
    assert _scalar(db_url, "SELECT count(*) FROM load_displaced WHERE load_id IN ('L1', 'L3')") == 0
    assert wh.rollback(["L2"]) == ["L2"]
    assert wh.count_current() == 72 + 24
    assert _scalar(db_url, "SELECT count(*) FROM observations_active WHERE load_id = 'L1'") == 72
    _one_row_per_key(db_url)
    wh.close()


def test_a_first_commit_switches_every_row_of_its_loads_or_none(db_url: str) -> None:
    """Loads that replace nothing become active series by series across the loads: a row of a series its
    load did not declare is active too, and two loads writing one key fail the commit, which changes nothing."""
    wh = open_warehouse(db_url)
    wh.stage_load(_info("L1", series=("PJM", "MISO")))
    wh.write_batch("L1", _rows(range(24), series=("PJM", "MISO")) + _rows(range(3), series=("ERCO",)))
    wh.stage_load(LoadInfo("L2", "OP1", "eia", "ELEC.DEMAND", 24 * H, 48 * H, ("PJM", "MISO"), node_id="L2-node"))
    wh.write_batch("L2", _rows(range(24, 48), series=("MISO", "PJM")))
    assert wh.commit(["L2", "L1"]) == ["L2", "L1"]
    assert wh.count_current() == 48 * 2 + 3
    assert _scalar(db_url, "SELECT count(*) FROM observations_active WHERE load_id = 'L1'") == 24 * 2 + 3
    assert _scalar(db_url, "SELECT count(*) FROM observations_active WHERE load_id = 'L2'") == 48
    _one_row_per_key(db_url)
    assert wh.rollback(["L2", "L1"]) == ["L1", "L2"] and wh.count_current() == 0  # newest commit first

    wh.stage_load(LoadInfo("A", "OP2", "eia", "ELEC.GEN", 0, 24 * H, ("PJM",), node_id="A-node"))
    wh.write_batch("A", [("eia", "ELEC.GEN", "PJM", 30 * H, 1.0, "MWh", None)])  # outside its declared span
    wh.stage_load(LoadInfo("B", "OP2", "eia", "ELEC.GEN", 24 * H, 48 * H, ("PJM",), node_id="B-node"))
    wh.write_batch("B", [("eia", "ELEC.GEN", "PJM", h * H, 2.0, "MWh", None) for h in range(24, 48)])
    with pytest.raises(WarehouseError, match=r"UNIQUE constraint|duplicate key"):
        wh.commit(["A", "B"])
    assert wh.load("A").status == wh.load("B").status == "staged" and wh.count_current() == 0
    wh.close()


def test_a_rollback_checked_before_a_gc_checks_again_and_is_refused(db_url: str) -> None:
    """rollback(verified) skips the gc check only while no gc deleted anything since it was made."""
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    _load(wh, "L2", _rows(range(24), bump=1.0), op="OP2")
    wh.commit(["L2"])
    missing, verified = wh.unrestorable(["L2"])
    assert missing == [] and verified.loads == {"L2"} and verified.generation == 0  # counted from creation
    assert wh.collect_garbage(["OP1", "OP2"], dry_run=True).rows == 72
    assert wh.unrestorable(["L2"])[1].generation == verified.generation  # a dry run deletes nothing
    assert wh.collect_garbage(["OP1", "OP2"]).rows == 72
    assert wh.collect_garbage(["OP1", "OP2"]).rows == 0
    missing, now = wh.unrestorable(["L2"])
    assert missing == ["L2"] and now.generation == 1
    with pytest.raises(OperationError, match="removed versions it replaced"):
        wh.rollback(["L2"], verified)
    assert wh.load("L2").status == "committed"
    wh.close()


def test_only_a_warehouse_counted_from_its_creation_skips_the_gc_check(db_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A new warehouse counts `gc` runs from 0: at 0 no rollback checks for versions gc removed. One
    created before the count (no count row) may have lost versions to an uncounted gc: always checked."""
    checks: list[str] = []
    real = archives.missing_versions

    def spy(conn: Any, lid: str) -> bool:
        checks.append(lid)
        return real(conn, lid)

    monkeypatch.setattr(archives, "missing_versions", spy)
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    _load(wh, "L2", _rows(range(24), bump=1.0), op="OP2")
    wh.commit(["L2"])
    assert wh.unrestorable(["L2"]) == ([], Verified(frozenset({"L2"}), 0)) and checks == []
    with wh._write() as conn:  # as before the count, then a gc that deleted L1's versions uncounted
        conn.execute(fences.delete().where(fences.c.scope == GC_SCOPE))
        conn.execute(observations.delete().where(observations.c.load_id == "L1"))
    missing, verified = wh.unrestorable(["L2"])
    assert missing == ["L2"] and verified.generation is None and checks == ["L2"]
    with pytest.raises(OperationError, match="removed versions it replaced"):
        wh.rollback(["L2"], Verified(frozenset({"L2"}), None))
    assert wh.load("L2").status == "committed"
    wh.close()


def test_one_current_row_per_key_after_any_sequence(db_url: str) -> None:
    wh = open_warehouse(db_url)
    rng = random.Random(3)
    committed: list[str] = []
    for i in range(25):
        action = rng.random()
        if action < 0.6 or not committed:
            lid = f"L{i}"
            start = rng.randrange(0, 20)
            wh.stage_load(_info(lid, f"OP{i}", hours=40))
            wh.write_batch(lid, _rows(range(start, start + rng.randint(1, 12)), bump=i))
            wh.commit([lid], replace_range=rng.random() < 0.3)
            committed.append(lid)
        else:
            try:
                wh.rollback([committed[-1]])
                committed.pop()
            except OperationError:
                pass
        _one_row_per_key(db_url)
    wh.close()


def test_write_batch_throughput(db_url: str) -> None:
    wh = open_warehouse(db_url)
    series = tuple(f"S{i}" for i in range(20))
    wh.stage_load(LoadInfo("BIG", "OP", "eia", "ELEC.DEMAND", 0, 10_000 * H, series))
    rows = [("eia", "ELEC.DEMAND", s, h * H, float(h), "MWh", None) for s in series for h in range(10_000)]
    started = time.perf_counter()
    for i in range(0, len(rows), 1000):
        wh.write_batch("BIG", rows[i:i + 1000])
    rate = len(rows) / (time.perf_counter() - started)
    print(f"write_batch: {rate:,.0f} records/s ({db_url.split(':')[0]})")
    assert wh.load("BIG").records == 200_000
    assert rate > 10_000
    wh.close()


def test_unreachable_warehouse_error_hides_the_password() -> None:
    with pytest.raises(WarehouseError) as err:
        open_warehouse("postgresql+psycopg://postgres:hunter2pw@127.0.0.1:1/test?connect_timeout=2")
    assert "hunter2pw" not in str(err.value) and "***" in str(err.value)


@pytest.mark.postgres
def test_warehouses_in_other_schemas_do_not_wait_for_each_other() -> None:
    """The commit lock is per warehouse (schema), not per database: found when one long commit in a
    test schema stalled every other schema's commits for 15 minutes."""
    from tests.state.dburl import pg_schema_url

    first, second = pg_schema_url(), pg_schema_url()
    url_a, url_b = next(first), next(second)
    try:
        a, b = open_warehouse(url_a), open_warehouse(url_b)
        _load(b, "L1", _rows(range(24)))
        with a._write():  # a's commit lock held, as during a long commit of a
            started = time.monotonic()
            assert b.commit(["L1"], fence=("eia/ELEC.DEMAND", 1)) == ["L1"]
            assert time.monotonic() - started < 5
        a.close()
        b.close()
    finally:
        for gen in (first, second):
            next(gen, None)


_VALUES = st.one_of(st.none(), st.just(float("nan")), st.integers(-10**9, 10**9),
                    st.floats(allow_nan=False, allow_infinity=False))
_RECORDS = st.dictionaries(
    st.tuples(st.sampled_from(["PJM", "MISO", "ERCO", "B.1", "é"]), st.integers(0, 47)),
    st.tuples(_VALUES, st.sampled_from([None, "", "MWh", "megawatthours"]),
              st.sampled_from([None, "", "x", {"marker": "null"}, {"respondent": "PJM", "n": 1}])),
    min_size=1, max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=_RECORDS, cut=st.integers(1, 60), data=st.randoms(use_true_random=False))
@example(records={("PJM", 0): (None, None, None), ("PJM", 1): (-0.0, None, None)}, cut=1,
         data=random.Random(0))  # SQLite stores -0.0 as 0.0 (found by this test)
def test_a_staged_load_s_running_checksum_is_that_of_its_stored_rows(db_url: str, records: dict, cut: int,
                                                                      data: random.Random) -> None:
    """The checksum kept while a load is written batch by batch (rows.row_values, the hot path) equals the
    one recomputed from what is stored (load_stats): rows in any order, NaN, integers, no unit, attributes."""
    wh = open_warehouse(db_url)
    lid = f"H{uuid.uuid4().hex}"
    wh.stage_load(LoadInfo(lid, "OPH", "eia", "ELEC.DEMAND", 0, 48 * H, ("PJM", "MISO", "ERCO", "B.1", "é")))
    rows = [(sid, h * H, v, unit, attrs) for (sid, h), (v, unit, attrs) in records.items()]
    data.shuffle(rows)
    for i in range(0, len(rows), cut):
        wh.write_records(lid, "eia", "ELEC.DEMAND", rows[i:i + cut])
    load = wh.load(lid)
    assert load is not None and (load.records, load.checksum) == wh.load_stats(lid)
    assert load.records == len(rows)
    wh.close()


def _stored(db_url: str, load_id: str, records: list[Any]) -> list[tuple[Any, ...]]:
    """Write the records into a new load (its running checksum checked against its stored rows), then read
    back each row's (value, unit, attributes) in period order, as the database holds them."""
    wh = open_warehouse(db_url)
    wh.stage_load(_info(load_id, hours=len(records)))
    wh.write_records(load_id, "eia", "ELEC.DEMAND", records)
    load = wh.load(load_id)
    assert load is not None and (load.records, load.checksum) == wh.load_stats(load_id)
    wh.close()
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        o = observations
        got = conn.execute(sa.select(o.c.value, o.c.unit, o.c.attributes).where(o.c.load_id == load_id)
                           .order_by(o.c.period)).all()
    engine.dispose()
    return [tuple(r) for r in got]


def test_an_empty_unit_or_attributes_is_stored_as_null_as_it_is_hashed(db_url: str) -> None:
    """'' and None hash alike (rows.row_values), so both are stored as NULL, on either database: SQLite gets ''
    bound and the INSERT turns it into NULL, PostgreSQL gets None."""
    got = _stored(db_url, "E1", [("PJM", 0, 1.0, "", ""), ("PJM", H, 2.0, None, None), ("PJM", 2 * H, 3.0, "MWh", "x"),
                                 ("PJM", 3 * H, None, "", {})])
    assert got == [(1.0, None, None), (2.0, None, None), (3.0, "MWh", "x"), (None, None, "{}")]


def test_rows_that_share_a_unit_and_attributes_or_not_are_stored_as_written(db_url: str) -> None:
    """SQLite binds a unit and attributes shared by every row of an INSERT once (writes._sqlite_insert): a
    batch of several INSERTs, some sharing and some not, stores each row's own values."""
    units = ["MWh"] * 1000 + ["MWh" if h % 2 else "GWh" for h in range(1000)] + [""] * 500
    attrs: list[Any] = [None] * 1000 + [None] * 999 + [{"n": 1}] + [{"marker": "NA"}] * 500
    got = _stored(db_url, "S1", [("PJM", h * H, float(h), units[h], attrs[h]) for h in range(2500)])
    assert got == [(float(h), units[h] or None, None if attrs[h] is None else
                    json.dumps(attrs[h], sort_keys=True, separators=(",", ":"))) for h in range(2500)]


def test_only_an_in_memory_warehouse_cannot_be_read_while_another_thread_writes(db_url: str) -> None:
    """A controlled rollback scores the version it replaces while it switches, except where every thread
    shares one connection (apply/quality_gate.scoring_current)."""
    with open_warehouse(db_url) as wh, open_warehouse("sqlite://") as memory:
        assert wh.concurrent and not memory.concurrent


@pytest.mark.parametrize("case", ["disjoint", "chained", "clash"])
def test_loads_rolled_back_together_restore_what_each_replaced_or_change_nothing(db_url: str, case: str) -> None:
    """A Replay's loads are rolled back in one call. Disjoint loads (PostgreSQL: two statements for all)
    and loads of which one replaced the other (load by load, newest first) restore exactly what was
    current before; where a later operation wrote a period one of them removed, nothing changes and the
    message names that operation."""
    wh = open_warehouse(db_url)
    _load(wh, "L1", _rows(range(24)))
    wh.commit(["L1"])
    before = wh.current_checksum()
    # chained: R1 replaces hours 18..23 and adds 24..29, which R2 replaces (adding 30..35)
    first, second = (range(18, 30), range(24, 36)) if case == "chained" else (range(12), range(12, 24))
    for lid, hours in (("R1", first), ("R2", second)):
        wh.stage_load(LoadInfo(lid, "REPLAY", "eia", "ELEC.DEMAND", hours[0] * H, (hours[-1] + 1) * H,
                               ("PJM",) if case == "clash" else SERIES, node_id=f"{lid}-node"))
        rows = _rows(hours[:3], bump=4.0, series=("PJM",)) if case == "clash" else _rows(hours, bump=4.0)
        wh.write_batch(lid, rows)
        wh.commit([lid], replace_range=True)
    if case == "clash":  # R2 removed PJM hours 15..23; OP3 writes hour 20 where nothing is active
        wh.stage_load(LoadInfo("L3", "OP3", "eia", "ELEC.DEMAND", 20 * H, 21 * H, ("PJM",)))
        wh.write_batch("L3", _rows(range(20, 21), bump=5.0, series=("PJM",)))
        wh.commit(["L3"])
        current = wh.current_checksum()
        with pytest.raises(OperationError, match="later load L3 of operation OP3 wrote periods it removed"):
            wh.rollback(["R1", "R2"])
        assert wh.current_checksum() == current
        assert {wh.load("R1").status, wh.load("R2").status} == {"committed"}
        assert wh.rollback(["L3"]) == ["L3"]
    assert wh.rollback(["R1", "R2"]) == ["R2", "R1"]
    assert wh.current_checksum() == before and wh.count_current() == 72
    assert {wh.load("R1").status, wh.load("R2").status} == {"rolled_back"}
    _one_row_per_key(db_url)
    wh.close()
