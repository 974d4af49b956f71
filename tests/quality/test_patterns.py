"""The figures of `compare` where a day is flat, short, zero or has gaps (docs/quality.md, "Comparing patterns")."""

from __future__ import annotations

from aurumplan.intervals import DAY
from aurumplan.quality.patterns import Limits, compare_series

H = 3600


def _day(start: int, values: list[float | None]) -> dict[int, float]:
    return {start + i * H: v for i, v in enumerate(values) if v is not None}


def test_only_positions_present_on_both_days_count() -> None:
    ref = _day(0, [1.0, 2.0, 3.0, 4.0, 100.0])
    new = _day(DAY, [1.0, 2.0, 3.0, 4.0, None])  # the 04:00 value is missing on the compared day
    r = compare_series("S", ref, new, 0, DAY, Limits())
    assert (r.verdict, r.points, r.correlation, r.mean_diff, r.peak_diff) == ("ok", 4, 1.0, 0, 0)
    assert r.peak_at_reference == r.peak_at_against == "03:00"


def test_a_flat_day_has_no_correlation_and_is_judged_on_mean_and_peak() -> None:
    r = compare_series("S", _day(0, [5.0] * 24), _day(DAY, [5.0] * 24), 0, DAY, Limits())
    assert (r.verdict, r.correlation) == ("ok", None)
    r = compare_series("S", _day(0, [5.0] * 24), _day(DAY, [7.0] * 24), 0, DAY, Limits())
    assert r.verdict == "differs" and r.mean_diff == 0.4 and r.peak_diff == 0.4 and r.correlation is None


def test_a_zero_reference_differs_unless_the_day_is_zero_too() -> None:
    zeros = _day(0, [0.0, 0.0, 0.0])
    assert compare_series("S", zeros, _day(DAY, [0.0, 0.0, 0.0]), 0, DAY, Limits()).verdict == "ok"
    r = compare_series("S", zeros, _day(DAY, [0.0, 1.0, 0.0]), 0, DAY, Limits())
    assert r.verdict == "differs" and r.mean_diff is None and r.peak_diff is None
    assert r.reasons == ["mean 0 -> 0.333333, limit ±20%", "peak 0 -> 1, limit ±25%"]


def test_no_common_position_or_no_values_is_missing() -> None:
    assert compare_series("S", _day(0, [1.0]), {}, 0, DAY, Limits()).reasons == ["no values on the compared date"]
    assert compare_series("S", {}, {}, 0, DAY, Limits()).reasons == ["no values on either date"]
    r = compare_series("S", _day(0, [1.0, None]), _day(DAY, [None, 1.0]), 0, DAY, Limits())
    assert r.verdict == "missing" and r.reasons == ["no period of the day has a value on both dates"]
