"""Accuracy: range, non-finite values, Hampel outliers (fast version equals the plain definition)."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurumplan.catalog import Catalog
from aurumplan.quality import evaluate, evaluate_frame
from aurumplan.quality.accuracy import MAD_SCALE, MEANAD_SCALE, hampel_outliers
from aurumplan.quality.frame import build_frame
from tests.quality.conftest import H, Warehouse

T0 = 1_704_067_200  # 2024-01-01T00:00Z
WINDOW = (T0, T0 + 48 * H)


def demand(n: int = 48) -> list[tuple[str, int, float | None]]:
    """A plausible daily cycle with a little deterministic wiggle."""
    return [("PJM", T0 + i * H, 90_000 + 15_000 * math.sin(2 * math.pi * i / 24) + (i * 37 % 11) * 100)
            for i in range(n)]


def _accuracy(wh: Warehouse, catalog: Catalog, rows: list, **params: float):  # type: ignore[no-untyped-def]
    wh.load("l1", "ELEC.DEMAND", rows)
    with wh.connect() as conn:
        return evaluate(conn, catalog, "eia", "ELEC.DEMAND", WINDOW, checks=["accuracy"], series=["PJM"],
                        params=params).results["accuracy"]


def test_clean_daily_cycle_passes(wh: Warehouse, catalog: Catalog) -> None:
    r = _accuracy(wh, catalog, demand())
    assert (r.score, r.findings, r.stats["values"]) == (1.0, [], 48)


def test_out_of_range_values_are_flagged(wh: Warehouse, catalog: Catalog) -> None:
    rows = demand()
    rows[10] = ("PJM", rows[10][1], -5.0)
    rows[30] = ("PJM", rows[30][1], 2_000_000.0)
    r = _accuracy(wh, catalog, rows)
    kinds = {f.kind: f.periods for f in r.findings}
    assert kinds["below_range"] == ((T0 + 10 * H, T0 + 11 * H),)
    assert kinds["above_range"] == ((T0 + 30 * H, T0 + 31 * H),)
    assert r.score == 1 - 2 / 48


def test_infinite_value_is_flagged(wh: Warehouse, catalog: Catalog) -> None:
    rows = demand()
    rows[5] = ("PJM", rows[5][1], math.inf)
    r = _accuracy(wh, catalog, rows)
    assert [(f.kind, f.periods) for f in r.findings] == [("non_finite", ((T0 + 5 * H, T0 + 6 * H),))]
    assert r.score == 1 - 1 / 48


def test_nan_is_non_finite(catalog: Catalog) -> None:
    ds = catalog.dataset("eia", "ELEC.DEMAND")
    rows = [(s, t, v, "megawatthours") for s, t, v in demand()]
    rows[7] = ("PJM", rows[7][1], math.nan, "megawatthours")
    frame = build_frame("eia", "ELEC.DEMAND", WINDOW, rows)
    r = evaluate_frame(ds, frame, ["accuracy"], series=["PJM"]).results["accuracy"]
    assert [(f.kind, f.count) for f in r.findings] == [("non_finite", 1)]


def test_spike_is_an_outlier(wh: Warehouse, catalog: Catalog) -> None:
    rows = demand()
    rows[20] = ("PJM", rows[20][1], 300_000.0)  # in range, but three times its neighbours
    r = _accuracy(wh, catalog, rows)
    assert [(f.kind, f.periods) for f in r.findings] == [("outlier", ((T0 + 20 * H, T0 + 21 * H),))]
    assert r.score == 1 - 1 / 48


def test_low_sensitivity_tolerates_the_spike(wh: Warehouse, catalog: Catalog) -> None:
    rows = demand()
    rows[20] = ("PJM", rows[20][1], 300_000.0)
    r = _accuracy(wh, catalog, rows, sensitivity=0.05, window_size=12)
    assert (r.findings, r.stats["k"], r.stats["window_size"]) == ([], 60.0, 12)


def test_bad_params_are_rejected(catalog: Catalog) -> None:
    ds = catalog.dataset("eia", "ELEC.DEMAND")
    frame = build_frame("eia", "ELEC.DEMAND", WINDOW, [])
    with pytest.raises(ValueError, match="sensitivity"):
        evaluate_frame(ds, frame, ["accuracy"], params={"sensitivity": 0})


def _reference(values: list[float], window_size: int, k: float) -> list[int]:
    h = max(1, window_size // 2)
    out = []
    for i, x in enumerate(values):
        win = values[max(0, i - h): i + h + 1]
        med = statistics.median(win)
        devs = [abs(v - med) for v in win]
        mad = statistics.median(devs)
        spread = mad * MAD_SCALE if mad > 0 else MEANAD_SCALE * sum(devs) / len(devs)
        if abs(x - med) > 0 and spread > 0 and abs(x - med) > k * spread:
            out.append(i)
    return out if len(values) >= 3 else []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-50, 50).map(float) | st.sampled_from([1000.0, -1000.0]), max_size=80),
       st.integers(2, 30), st.sampled_from([2.0, 3.0, 3.75]))
def test_fast_hampel_matches_the_definition(values: list[float], window_size: int, k: float) -> None:
    assert hampel_outliers(values, window_size, k) == _reference(values, window_size, k)


def test_three_hours_of_correct_data_are_not_judged_for_outliers(wh: Warehouse, catalog: Catalog) -> None:
    """A 3-hour Reprocess used to score 66.67% (one Hampel "outlier" among 3 points) and halt."""
    rows = [("PJM", T0 + i * H, v) for i, v in enumerate((88_000.0, 91_000.0, 97_000.0))]
    r = _accuracy(wh, catalog, rows)
    assert r.score == 1.0
    assert [(f.kind, f.count) for f in r.findings] == [("not_judged", 3)]
    assert "not enough data to judge outliers (3 values, need 8)" in r.findings[0].message
    assert r.stats["outliers_not_judged"] == ["PJM"]


def test_range_rules_still_apply_to_short_windows(wh: Warehouse, catalog: Catalog) -> None:
    rows = [("PJM", T0 + i * H, v) for i, v in enumerate((88_000.0, -5.0, 97_000.0))]
    r = _accuracy(wh, catalog, rows)
    assert r.score == 1 - 1 / 3
    assert {f.kind for f in r.findings} == {"below_range", "not_judged"}
