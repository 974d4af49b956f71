"""Windowed reads of the current version: exactly the window's rows, at a cost that follows the window.

The active key is (source, dataset, series_id, period); a read of a window names the dataset's series
(warehouse/reads.window_series), so it walks one key range per series instead of every active row the
dataset's history holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurumplan.db import driver_connection
from aurumplan.warehouse import LoadInfo, Warehouse, open_warehouse, reads

H = 3600
DS = "ELEC.DEMAND"
# ids whose order differs between byte order and a linguistic collation (PostgreSQL's may be either)
SPANS = {"B": [(0, 240)], "a": [(48, 120)], "a.b": [(200, 240)], "Z9": [(0, 24), (100, 130)], "b-2": [(239, 240)]}


def _stage(wh: Warehouse, load_id: str, source: str, dataset: str, spans: dict[str, list[tuple[int, int]]],
           bump: float = 0.0) -> None:
    lo, hi = min(p[0] for ps in spans.values() for p in ps), max(p[1] for ps in spans.values() for p in ps)
    wh.stage_load(LoadInfo(load_id, "OP1", source, dataset, lo * H, hi * H, tuple(spans), node_id=f"{load_id}-n"))
    wh.write_batch(load_id, [(source, dataset, sid, h * H, h + bump, "MWh", None)
                             for sid, parts in spans.items() for lo, hi in parts for h in range(lo, hi)])


@pytest.fixture
def warehouse(db_url: str) -> Iterator[Warehouse]:
    """The dataset under test, with a second version of part of one series, beside another dataset and
    another source holding the same series ids (which no read of the dataset may return)."""
    wh = open_warehouse(db_url)
    _stage(wh, "L1", "eia", DS, SPANS)
    _stage(wh, "L2", "eia", "OTHER", SPANS)
    _stage(wh, "L3", "fred", DS, SPANS)
    wh.commit(["L1", "L2", "L3"])
    _stage(wh, "L4", "eia", DS, {"B": [(10, 20)]}, bump=0.5)
    wh.commit(["L4"])
    yield wh
    wh.close()


def _all_current(wh: Warehouse) -> list[tuple[str, int, float]]:
    """Every current row of the dataset, in the database's own order of series ids, then period."""
    with wh.connect() as conn:
        order = [r[0] for r in conn.execute(sa.text(
            f"SELECT DISTINCT series_id FROM observations_active WHERE dataset = '{DS}' ORDER BY series_id"))]
    rank = {sid: i for i, sid in enumerate(order)}
    rows = [(r.series_id, r.period, r.value) for r in wh.read_rows("eia", DS)]
    return sorted(rows, key=lambda r: (rank[r[0]], r[1]))


def _check_window(wh: Warehouse, everything: list[tuple[str, int, float]], lo: int, hi: int) -> None:
    want = [r for r in everything if lo <= r[1] < hi]
    with wh.connect() as conn:
        got = [(sid, ts, value) for sid, ts, value, _unit in reads.observation_rows(conn, "eia", DS, (lo, hi))
               if lo <= ts < hi]  # SQLite's filter is by whole days: callers narrow it (reads.py)
        days = (dt.datetime.fromtimestamp(lo - lo % 86400, dt.UTC).strftime("%Y-%m-%d"),
                dt.datetime.fromtimestamp(hi - hi % 86400 + 86400, dt.UTC).strftime("%Y-%m-%d"))
        buckets = reads.bucket_counts(conn, "eia", dataset=DS, labels=days)
        whole_source = reads.bucket_counts(conn, "eia", labels=days)
    assert got == want  # the same rows, in the same order (series, then period)
    assert wh.count_current("eia", DS, window=(lo, hi)) == len(want)
    assert [(r.series_id, r.period, r.value) for r in wh.read_rows("eia", DS, (lo, hi))] == want
    coverage: dict[tuple[str, str], list[int]] = {}
    for sid, ts, _ in want:
        coverage.setdefault((DS, sid), []).append(ts)
    assert wh.coverage("eia", DS, window=(lo, hi)) == coverage
    in_days = [r for r in everything if days[0] <= _day(r[1]) < days[1]]
    assert sum(n for n, _ in buckets.get(DS, {}).values()) == len(in_days)
    # the whole source: this dataset's buckets, and the other dataset's, which holds the same keys
    assert whole_source.get(DS) == buckets.get(DS) and set(whole_source) <= {DS, "OTHER"}
    assert sum(n for n, _ in whole_source.get("OTHER", {}).values()) == len(in_days)


def _day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


@pytest.mark.parametrize("named", [True, False], ids=["series named", "too many series to name"])
def test_a_window_of_the_current_version_reads_exactly_its_rows(warehouse: Warehouse, named: bool,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Any window, narrow or wider than the data, with series inside, outside and across its edges;
    the same with the series named (one key range each) and without (a dataset with too many)."""
    if not named:
        monkeypatch.setattr(reads, "SERIES_IN_MAX", 2)
    with warehouse.connect() as conn:
        assert (reads.window_series(conn, "eia", DS) is None) is not named
    everything = _all_current(warehouse)
    assert len(everything) == sum(hi - lo for parts in SPANS.values() for lo, hi in parts)
    assert (("B", 15 * H, 15.5) in everything) and (("B", 15 * H, 15.0) not in everything)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(lo=st.integers(-48, 260), length=st.integers(1, 300), half=st.booleans())
    def check(lo: int, length: int, half: bool) -> None:
        start = lo * H + (H // 2 if half else 0)
        _check_window(warehouse, everything, start, start + length * H)

    check()


def test_a_dataset_with_nothing_current_reads_nothing(db_url: str) -> None:
    wh = open_warehouse(db_url)
    _stage(wh, "L1", "eia", "OTHER", SPANS)
    wh.commit(["L1"])
    with wh.connect() as conn:
        assert reads.window_series(conn, "eia", DS) == []
        assert list(reads.observation_rows(conn, "eia", DS, (0, 240 * H))) == []
    assert wh.count_current("eia", DS, window=(0, 240 * H)) == 0
    wh.close()


def _instructions(wh: Warehouse, lo: int, hi: int) -> int:
    """SQLite virtual-machine instructions (in hundreds) that a read of [lo, hi) takes."""
    with wh.connect() as conn:
        raw = driver_connection(conn)
        ticks = [0]

        def tick() -> int:
            ticks[0] += 1
            return 0

        raw.set_progress_handler(tick, 100)
        try:
            rows = [r for r in reads.observation_rows(conn, "eia", DS, (lo, hi)) if lo <= r[1] < hi]
        finally:
            raw.set_progress_handler(None, 0)
    assert len(rows) == 3 * 24
    return ticks[0]


def test_reading_a_day_costs_the_same_however_long_the_history(tmp_path: Path) -> None:
    """A day of three hourly series, read from 30 days of history and from 360: without the series named,
    the read walked every active row of the dataset, 12 times as many instructions for the same day."""
    costs = []
    for days in (30, 360):
        wh = open_warehouse(f"sqlite:///{tmp_path}/wh{days}.db")
        series = {sid: [(0, days * 24)] for sid in ("ERCO", "MISO", "PJM")}
        wh.stage_load(LoadInfo("L1", "OP1", "eia", DS, 0, days * 24 * H, tuple(series), node_id="n"))
        wh.write_batch("L1", [("eia", DS, sid, h * H, float(h), "MWh", None)
                              for sid, parts in series.items() for lo, hi in parts for h in range(lo, hi)])
        wh.commit(["L1"])
        costs.append(_instructions(wh, 20 * 86400, 21 * 86400))
        wh.close()
    assert costs[1] <= 1.5 * costs[0], costs


def test_a_source_s_series_are_those_with_current_rows(warehouse: Warehouse) -> None:
    """Per dataset, found by index seeks; a dataset whose rows are all rolled back has none left."""
    _stage(warehouse, "L5", "eia", "ELEC.PRICE", {"PJM": [(0, 2)]})
    warehouse.commit(["L5"])
    with warehouse.connect() as conn:
        assert reads.active_series(conn, "eia") == {DS: set(SPANS), "OTHER": set(SPANS), "ELEC.PRICE": {"PJM"}}
        assert reads.active_series(conn, "fred") == {DS: set(SPANS)}
        assert reads.active_series(conn, "noaa") == {}
        distinct = {tuple(r) for r in conn.execute(sa.text(
            "SELECT DISTINCT dataset, series_id FROM observations_current WHERE source = 'eia'"))}
        assert {(ds, sid) for ds, ids in reads.active_series(conn, "eia").items() for sid in ids} == distinct
    warehouse.rollback(["L5"])
    with warehouse.connect() as conn:
        assert "ELEC.PRICE" not in reads.active_series(conn, "eia")


def test_a_source_s_current_span_and_series_come_from_index_seeks(warehouse: Warehouse) -> None:
    """What an unwindowed `scan` reads first: the first and past-the-last period of the source's current
    data, over every dataset and series, and each dataset's series, sorted."""
    assert warehouse.current_span("eia") == (0, 239 * H + 1) == warehouse.current_span("fred")
    assert warehouse.current_span("noaa") is None
    assert warehouse.loaded_series("eia") == {DS: sorted(SPANS), "OTHER": sorted(SPANS)}
    _stage(warehouse, "L5", "eia", "ELEC.PRICE", {"PJM": [(300, 302)]})
    warehouse.commit(["L5"])
    assert warehouse.current_span("eia") == (0, 301 * H + 1)
    assert warehouse.loaded_series("eia")["ELEC.PRICE"] == ["PJM"]


def test_a_read_longer_than_one_fetch_returns_every_row_once(db_url: str) -> None:
    """Rows come from the driver's cursor in batches of reads.FETCH_ROWS on PostgreSQL: a read of more
    than two batches returns each row once, in order (a load's rows, and the active version)."""
    wh = open_warehouse(db_url)
    hours = 2 * reads.FETCH_ROWS + 1
    _stage(wh, "BIG", "eia", DS, {"PJM": [(0, hours)]})
    wh.commit(["BIG"])
    with wh.connect() as conn:
        staged = [r[1] for r in reads.observation_rows(conn, "eia", DS, (0, hours * H), load_ids=("BIG",))]
        active = [r[1] for r in reads.observation_rows(conn, "eia", DS, (0, hours * H))]
    assert sorted(staged) == active == [h * H for h in range(hours)]
    wh.close()
