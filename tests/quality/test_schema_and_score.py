"""Schema (shape, unit, alignment, attributes, version) and the weighted quality score."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from aurumplan.catalog import Catalog, load_catalog
from aurumplan.errors import AurumError
from aurumplan.quality import evaluate, evaluate_frame, weighted_score
from aurumplan.quality.frame import DatasetFrame, SeriesFrame, build_frame
from aurumplan.quality.schema import check_schema
from tests.quality.conftest import H, Warehouse, hours

T0 = 1_704_067_200  # 2024-01-01T00:00Z
DAY = (T0, T0 + 24 * H)


def _schema(wh: Warehouse, catalog: Catalog, **kw: object):  # type: ignore[no-untyped-def]
    with wh.connect() as conn:
        return evaluate(conn, catalog, "eia", "ELEC.DEMAND", DAY, checks=["schema"], series=["PJM"],
                        **kw).results["schema"]  # type: ignore[arg-type]


def test_well_formed_rows_pass(wh: Warehouse, catalog: Catalog) -> None:
    rows = [(s, t, v, "megawatthours", '{"respondent-name": "PJM"}' if i % 2 else None)
            for i, (s, t, v) in enumerate(hours("PJM", "2024-01-01", 24))]
    wh.load("a", "ELEC.DEMAND", rows)
    r = _schema(wh, catalog)
    assert (r.score, r.findings, r.stats["versions"]) == (1.0, [], {"v1": 24})


def test_wrong_unit_misaligned_period_and_bad_attributes(wh: Warehouse, catalog: Catalog) -> None:
    rows = [(s, t, v, "megawatthours", None) for s, t, v in hours("PJM", "2024-01-01", 24)]
    rows[1] = ("PJM", rows[1][1], 1.0, "MWh", None)
    rows[2] = ("PJM", T0 + 2 * H + 1800, 1.0, "megawatthours", None)
    rows[3] = ("PJM", rows[3][1], 1.0, "megawatthours", "{not json")
    rows[4] = ("PJM", rows[4][1], 1.0, "megawatthours", "[1, 2]")
    wh.load("a", "ELEC.DEMAND", rows)
    r = _schema(wh, catalog)
    assert sorted((f.kind, f.count) for f in r.findings) == [("attributes", 2), ("misaligned", 1), ("unit", 1)]
    assert r.score == 1 - 4 / 24


def test_schema_version_mismatch(wh: Warehouse, catalog: Catalog) -> None:
    marked = [(s, t, v, "megawatthours", '{"schema_version": "v2.1"}') for s, t, v in hours("PJM", "2024-01-01", 12)]
    plain = [(s, t, v, "megawatthours") for s, t, v in hours("PJM", "2024-01-01T12:00", 12)]
    wh.load("a", "ELEC.DEMAND", marked + plain)
    target = _schema(wh, catalog, params={"expected_version": "v2.1"})
    assert [(f.kind, f.periods) for f in target.findings] == [("schema_version", ((T0 + 12 * H, T0 + 24 * H),))]
    assert target.stats["versions"] == {"v2.1": 12, "v1": 12}
    assert target.score == 0.5
    catalog_version = _schema(wh, catalog)
    assert [(f.kind, f.count) for f in catalog_version.findings] == [("schema_version", 12)]


def test_schema_version_recorded_on_the_load(wh: Warehouse, catalog: Catalog) -> None:
    with wh.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE loads ADD COLUMN schema_version TEXT"))
    wh.stage("a", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24))
    with wh.engine.begin() as conn:
        conn.execute(sa.text("UPDATE loads SET schema_version = 'v2.1' WHERE load_id = 'a'"))
    assert _schema(wh, catalog, load_id="a", params={"expected_version": "v2.1"}).findings == []
    assert _schema(wh, catalog, load_id="a").stats["problems"] == {"schema_version": 24}


def test_value_that_is_not_a_number(catalog: Catalog) -> None:
    ds = catalog.dataset("eia", "ELEC.DEMAND")
    frame = build_frame("eia", "ELEC.DEMAND", DAY, [("PJM", T0, "12,5", "megawatthours"),
                                                    ("PJM", T0 + H, None, "megawatthours")])
    r = evaluate_frame(ds, frame, ["schema"], series=["PJM"]).results["schema"]
    assert [(f.kind, f.count) for f in r.findings] == [("value_type", 1)]


def test_weighted_score_uses_catalog_weights_renormalised(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("a", "ELEC.DEMAND", hours("PJM", "2024-01-01", 12, 90_000.0))
    with wh.connect() as conn:
        every = evaluate(conn, catalog, "eia", "ELEC.DEMAND", DAY, series=["PJM"])
        two = evaluate(conn, catalog, "eia", "ELEC.DEMAND", DAY, checks=["completeness", "accuracy"],
                       series=["PJM"])
    assert {k: r.score for k, r in every.results.items()} == {
        "completeness": 0.5, "accuracy": 1.0, "consistency": 1.0, "schema": 1.0}
    assert every.score == pytest.approx(0.4 * 0.5 + 0.3 + 0.2 + 0.1)
    assert two.score == pytest.approx((0.4 * 0.5 + 0.3) / 0.7)
    assert two.weights == pytest.approx({"completeness": 0.4 / 0.7, "accuracy": 0.3 / 0.7})
    assert every.passed(0.8) and not every.passed(0.81)


def test_weights_edge_cases() -> None:
    assert weighted_score({"a": 0.5, "b": 1.0}, {}) == (0.75, {"a": 0.5, "b": 0.5})
    assert weighted_score({"a": 0.0, "b": 1.0}, {"b": 1.0}) == (1.0, {"a": 0.0, "b": 1.0})


def test_unknown_check_is_an_error(catalog: Catalog) -> None:
    ds = catalog.dataset("eia", "ELEC.DEMAND")
    with pytest.raises(AurumError, match="timeliness"):
        evaluate_frame(ds, build_frame("eia", "ELEC.DEMAND", DAY, []), ["completeness", "timeliness"])


_ATTRS = [None, '{"schema_version": "v1"}', '{"schema_version": "v9"}', "{not json", '{"respondent": "PJM"}']
_VALUES = [1.5, 2, None, True, "12,5"]


def _mostly(clean: list[object], bad: list[object]) -> st.SearchStrategy[object]:
    """Clean values far more often than bad ones, so whole series come out clean as well as not."""
    return st.sampled_from(clean * 6 + bad)


_ROW = st.tuples(_mostly([0, 1, 2], [3, 4]), _mostly([True], [False]), _mostly([True], [False]),
                 _mostly([0, 1, 4], [2, 3]), st.booleans())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_ROW, max_size=12), min_size=1, max_size=4), st.booleans())
def test_schema_counts_every_row_like_a_row_by_row_reading(series_rows: list[list[tuple[int, bool, bool, int, bool]]],
                                                           versioned_load: bool) -> None:
    """Clean series are judged in bulk, others row by row: the figures must be those of reading each row."""
    ds = load_catalog().dataset("eia", "ELEC.DEMAND")
    load_versions = {"b": "v2"} if versioned_load else {}
    frame = DatasetFrame("eia", "ELEC.DEMAND", DAY)
    flagged, versions, problems = 0, Counter[str](), Counter[str]()
    for k, rows in enumerate(series_rows):
        s = SeriesFrame(f"S{k}", attributes=[], load_ids=[])
        for i, (v, unit_ok, aligned, a, load_b) in enumerate(rows):
            s.periods.append(T0 + i * H + (0 if aligned else 1800))
            s.values.append(_VALUES[v])
            s.units.append("megawatthours" if unit_ok else "MWh")
            s.attributes.append(_ATTRS[a])  # type: ignore[union-attr]
            s.load_ids.append("b" if load_b else "a")  # type: ignore[union-attr]
            kinds = {"value_type": v >= 3, "unit": not unit_ok, "misaligned": not aligned, "attributes": a == 3}
            version = {1: "v1", 2: "v9"}.get(a) or load_versions.get("b" if load_b else "a") or ds.schema_version
            versions[version] += 1
            kinds["schema_version"] = version != ds.schema_version
            problems.update(k for k, bad in kinds.items() if bad)
            flagged += any(kinds.values())
        frame.series[s.series_id] = s
    r = check_schema(ds, frame, sorted(frame.series), load_versions=load_versions)
    assert (r.stats["rows"], r.stats["flagged"]) == (sum(map(len, series_rows)), flagged)
    assert r.stats["versions"] == dict(versions) and r.stats["problems"] == dict(problems)
