"""Units compare after normalisation, and a migration that changes the unit is not a revision outlier."""

from __future__ import annotations

from aurumplan.catalog import Catalog
from aurumplan.quality import evaluate
from aurumplan.quality.model import CheckResult
from aurumplan.quality.units import same_unit, unit_key
from tests.quality.conftest import H, Warehouse, hours

T0 = 1_704_067_200  # 2024-01-01T00:00Z
DAY = (T0, T0 + 24 * H)


def _check(wh: Warehouse, catalog: Catalog, name: str, **kw: object) -> CheckResult:
    with wh.connect() as conn:
        q = evaluate(conn, catalog, "eia", "ELEC.DEMAND", DAY, checks=[name], series=["PJM"],
                     **kw)  # type: ignore[arg-type]
    return q.results[name]


def test_spellings_that_differ_in_case_hyphens_or_spacing_are_one_unit() -> None:
    assert same_unit("cents per kilowatthour", "cents per kilowatt-hour")
    assert same_unit("Cents  per Kilowatt-Hour", "cents per kilowatthour")
    assert unit_key("million_kilowatt hours") == unit_key("million kilowatthours")
    assert not same_unit("cents per kilowatthour", "dollars per kilowatthour")
    assert not same_unit("MWh", "megawatthours")
    assert same_unit(None, None) and not same_unit(None, "megawatthours")


def test_schema_check_accepts_another_spelling_of_the_catalog_unit(wh: Warehouse, catalog: Catalog) -> None:
    rows = [(s, t, v, "Megawatt-Hours" if i % 2 else "megawatthours")
            for i, (s, t, v) in enumerate(hours("PJM", "2024-01-01", 24))]
    rows[0] = ("PJM", T0, 1.0, "gigawatthours")
    wh.load("a", "ELEC.DEMAND", rows)
    r = _check(wh, catalog, "schema")
    assert [(f.kind, f.count) for f in r.findings] == [("unit", 1)]
    c = _check(wh, catalog, "consistency")
    assert [(f.kind, f.count) for f in c.findings] == [("unit_change", 1)]


def test_rows_a_migration_wrote_are_not_judged_by_the_catalog_unit(wh: Warehouse, catalog: Catalog) -> None:
    v2 = '{"schema_version": "v2"}'
    rows = [(s, t, v / 1000, "gigawatthours", v2) for s, t, v in hours("PJM", "2024-01-01", 24)]
    wh.stage("new", "ELEC.DEMAND", rows)
    migrated = _check(wh, catalog, "schema", load_id="new", params={"expected_version": "v2"})
    assert (migrated.score, migrated.findings) == (1.0, [])
    as_v1 = _check(wh, catalog, "schema", load_id="new")
    assert as_v1.stats["problems"] == {"unit": 24, "schema_version": 24}


def test_a_unit_change_is_not_a_revision_but_a_real_revision_still_is(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("old", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24, 1000.0))
    new = [(s, t, v, "gigawatthours") for s, t, v in hours("PJM", "2024-01-01", 24, 1.0)]
    new[3] = ("PJM", T0 + 3 * H, 1000.0, "megawatthours")   # same unit as before: compared
    new[4] = ("PJM", T0 + 4 * H, 3000.0, "Megawatt-hours")  # same unit, spelt otherwise: a 200% revision
    wh.stage("new", "ELEC.DEMAND", new)
    r = _check(wh, catalog, "consistency", load_id="new")
    revisions = [(f.kind, f.periods) for f in r.findings if f.kind == "revision"]
    assert revisions == [("revision", ((T0 + 4 * H, T0 + 5 * H),))]
    assert (r.stats["revisions_compared"], r.stats["revisions_other_unit"]) == (2, 22)
