"""Consistency: duplicate keys, unit changes, fuel sums vs totals, revisions outside the band."""

from __future__ import annotations

from aurumplan.catalog import Catalog
from aurumplan.quality import evaluate
from aurumplan.quality.model import CheckResult
from tests.quality.conftest import H, Warehouse, hours

T0 = 1_704_067_200  # 2024-01-01T00:00Z
DAY = (T0, T0 + 24 * H)
FUELS = {"PJM.COL": 0.2, "PJM.NG": 0.4, "PJM.NUC": 0.3, "PJM.WND": 0.06, "PJM.SUN": 0.04}


def _consistency(wh: Warehouse, catalog: Catalog, dataset: str = "ELEC.DEMAND", **kw: object) -> CheckResult:
    with wh.connect() as conn:
        q = evaluate(conn, catalog, "eia", dataset, DAY, checks=["consistency"], **kw)  # type: ignore[arg-type]
    return q.results["consistency"]


def test_duplicate_key_across_staged_loads(wh: Warehouse, catalog: Catalog) -> None:
    wh.stage("a", "ELEC.DEMAND", hours("PJM", "2024-01-01T00:00", 14))
    wh.stage("b", "ELEC.DEMAND", hours("PJM", "2024-01-01T10:00", 14))
    one = _consistency(wh, catalog, load_id="a")
    both = _consistency(wh, catalog, load_id=["a", "b"])
    assert (one.score, one.findings) == (1.0, [])
    assert [(f.kind, f.periods, f.count) for f in both.findings] == [
        ("duplicate", ((T0 + 10 * H, T0 + 14 * H),), 4)]
    assert both.stats["duplicate_rows"] == 4
    assert both.score == 1 - 4 / 28


def test_duplicate_key_in_the_active_version(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("a", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24))
    wh.stage("b", "ELEC.DEMAND", hours("PJM", "2024-01-01T23:00", 1))
    wh.commit("b", displace=False)  # a broken commit: the old row stays active too
    r = _consistency(wh, catalog, series=["PJM"])
    assert [(f.kind, f.count) for f in r.findings] == [("duplicate", 1)]


def test_unit_change_within_a_series(wh: Warehouse, catalog: Catalog) -> None:
    rows = [(s, t, v, "megawatthours" if i < 20 else "gigawatthours")
            for i, (s, t, v) in enumerate(hours("PJM", "2024-01-01", 24))]
    wh.load("a", "ELEC.DEMAND", rows)
    r = _consistency(wh, catalog, series=["PJM"])
    (f,) = r.findings
    assert (f.kind, f.periods, f.count) == ("unit_change", ((T0 + 20 * H, T0 + 24 * H),), 4)
    assert "'megawatthours' -> 'gigawatthours'" in f.message


def _grid(wh: Warehouse, *, off_hour: int | None = None, missing_part_hour: int | None = None) -> None:
    totals = [("PJM", T0 + i * H, 100_000.0 * (1.1 if i == off_hour else 1.0)) for i in range(24)]
    parts = [(sid, T0 + i * H, 100_000.0 * share) for sid, share in FUELS.items() for i in range(24)
             if not (sid == "PJM.SUN" and i == missing_part_hour)]
    wh.load("tot", "ELEC.NETGEN", totals)
    wh.load("gen", "ELEC.GEN", parts)


def test_fuel_parts_that_sum_to_the_total_pass(wh: Warehouse, catalog: Catalog) -> None:
    _grid(wh, missing_part_hour=7)
    r = _consistency(wh, catalog, "ELEC.GEN", series=list(FUELS))
    assert r.findings == []
    assert r.stats["relations"] == [{"total": "ELEC.NETGEN", "parts": "ELEC.GEN", "tolerance": 0.05,
                                     "compared": 23, "incomplete": 1, "violations": 0}]


def test_fuel_sum_that_does_not_add_up_fails_on_both_sides(wh: Warehouse, catalog: Catalog) -> None:
    _grid(wh, off_hour=3)
    parts = _consistency(wh, catalog, "ELEC.GEN", series=list(FUELS))
    totals = _consistency(wh, catalog, "ELEC.NETGEN", series=["PJM"])
    for r in (parts, totals):
        assert [(f.kind, f.series_id, f.periods) for f in r.findings] == [
            ("relation", "PJM", ((T0 + 3 * H, T0 + 4 * H),))]
    assert totals.score == 1 - 1 / 24


def test_revision_outside_the_band_against_the_active_version(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("old", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24, 100.0))
    new = hours("PJM", "2024-01-01", 24, 120.0)
    new[5] = ("PJM", new[5][1], 151.0)
    wh.stage("new", "ELEC.DEMAND", new)
    r = _consistency(wh, catalog, load_id="new")
    assert [(f.kind, f.periods) for f in r.findings] == [("revision", ((T0 + 5 * H, T0 + 6 * H),))]
    assert (r.stats["revisions_compared"], r.stats["revised"]) == (24, 24)
    wide = _consistency(wh, catalog, load_id="new", params={"revision_band": 0.6})
    assert wide.findings == []


def test_revision_of_a_committed_load_uses_what_it_displaced(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("old", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24, 100.0))
    wh.load("mid", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24, 100.0))
    wh.load("new", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24, 10.0))
    r = _consistency(wh, catalog, load_id="new")
    assert [(f.kind, f.count) for f in r.findings] == [("revision", 24)]
    explicit = _consistency(wh, catalog, load_id="mid", previous_load_id="old")
    assert explicit.findings == [] and explicit.stats["revisions_compared"] == 24


def test_relation_between_two_staged_datasets(wh: Warehouse, catalog: Catalog) -> None:
    wh.stage("tot", "ELEC.NETGEN", [("PJM", T0 + i * H, 100_000.0 * (1.5 if i == 9 else 1.0)) for i in range(24)])
    wh.stage("gen", "ELEC.GEN", [(sid, T0 + i * H, 100_000.0 * share) for sid, share in FUELS.items()
                                 for i in range(24)])
    active_only = _consistency(wh, catalog, "ELEC.GEN", load_id="gen", series=list(FUELS))
    staged = _consistency(wh, catalog, "ELEC.GEN", load_id="gen", series=list(FUELS),
                          related_load_ids={"ELEC.NETGEN": ["tot"]})
    assert active_only.stats["relations"][0]["compared"] == 0  # nothing committed to compare with
    assert [(f.kind, f.periods) for f in staged.findings] == [("relation", ((T0 + 9 * H, T0 + 10 * H),))]
