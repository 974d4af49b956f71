"""Before/after comparison of a replay: exact counts, largest changes, scores, summary diff."""

from __future__ import annotations

from aurumplan.catalog import Catalog
from aurumplan.quality import compare_frames, compare_versions, render_comparison_markdown
from aurumplan.quality.frame import build_frame
from tests.quality.conftest import H, Warehouse, hours

T0 = 1_704_067_200  # 2024-01-01T00:00Z
TWO_DAYS = (T0, T0 + 48 * H)


def _replacement() -> list[tuple[str, int, float]]:
    new = hours("PJM", "2024-01-01", 26, 100.0)
    new[1] = ("PJM", new[1][1], 110.0)
    new[2] = ("PJM", new[2][1], 90.0)
    new[3] = ("PJM", new[3][1], 300.0)
    return new


def test_committed_replay_against_what_it_displaced(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("old", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24, 100.0) + hours("MISO", "2024-01-01", 24, 50.0))
    wh.load("new", "ELEC.DEMAND", _replacement())
    with wh.connect() as conn:
        c = compare_versions(conn, catalog, "eia", "ELEC.DEMAND", TWO_DAYS, ["new"])
    assert (c.changed, c.added, c.removed, c.unchanged) == (3, 2, 0, 21)
    assert c.before_load_ids == ("old",) and c.after_load_ids == ("new",)
    assert [(x.period, x.diff) for x in c.largest] == [(T0 + 3 * H, 200.0), (T0 + H, 10.0), (T0 + 2 * H, -10.0)]
    assert set(c.per_series) == {"PJM"}
    assert "root['PJM']['rows'] changed from 24 to 26" in c.diff_text
    assert set(c.scores) == {"completeness", "accuracy", "consistency", "schema", "quality"}
    md = render_comparison_markdown([c])
    assert "3 changed, 2 added, 0 removed, 21 unchanged" in md and "+200" in md


def test_staged_replay_against_the_active_version(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("old", "ELEC.DEMAND", hours("PJM", "2024-01-01", 48, 100.0) + hours("MISO", "2024-01-01", 24, 50.0))
    new = [r for r in hours("PJM", "2024-01-01", 24, 100.0) if r[1] != T0 + 10 * H]
    new[0] = ("PJM", T0, 105.0)
    wh.stage("new", "ELEC.DEMAND", new)
    with wh.connect() as conn:
        c = compare_versions(conn, catalog, "eia", "ELEC.DEMAND", TWO_DAYS, ["new"], top_n=1)
    # the staged load spans 2024-01-01T00..23; hour 10 of it is absent from the new version
    assert (c.changed, c.added, c.removed, c.unchanged) == (1, 0, 1, 22)
    assert [(x.series_id, x.before, x.after) for x in c.largest] == [("PJM", 100.0, 105.0)]


def test_explicit_previous_loads(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("v1", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24, 100.0))
    wh.load("v2", "ELEC.DEMAND", hours("PJM", "2024-01-01", 12, 100.0))
    with wh.connect() as conn:
        c = compare_versions(conn, catalog, "eia", "ELEC.DEMAND", TWO_DAYS, ["v2"], previous_load_ids=["v1"])
    assert (c.changed, c.added, c.removed, c.unchanged) == (0, 0, 12, 12)
    assert c.scores["completeness"] == (24 / 48, 12 / 48)


def test_value_to_null_counts_as_changed_and_ranks_after_numbers(catalog: Catalog) -> None:
    ds = catalog.dataset("eia", "ELEC.DEMAND")
    u = "megawatthours"
    before = build_frame("eia", "ELEC.DEMAND", TWO_DAYS, [("PJM", T0, 5.0, u), ("PJM", T0 + H, 1.0, u)])
    after = build_frame("eia", "ELEC.DEMAND", TWO_DAYS, [("PJM", T0, None, u), ("PJM", T0 + H, 2.0, u)])
    c = compare_frames(ds, before, after)
    assert (c.changed, c.unchanged) == (2, 0)
    assert [(x.period, x.diff) for x in c.largest] == [(T0 + H, 1.0), (T0, None)]
    assert c.to_dict()["largest"][1] == {"series_id": "PJM", "period": "2024-01-01T00:00Z", "before": 5.0,
                                         "after": None, "diff": None}
