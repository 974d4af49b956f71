"""Completeness: missing periods vs NULL values, local-time DST days, weekday calendars."""

from __future__ import annotations

import datetime as dt

from aurumplan.catalog import Catalog
from aurumplan.intervals import DAY, Grain, local_day_hours, parse_ts, window_to_interval
from aurumplan.quality import evaluate
from aurumplan.quality.expected import expected_periods, is_aligned, period_end
from tests.quality.conftest import H, Warehouse, hours, with_dataset

NY = "America/New_York"
DAY_2024 = (parse_ts("2024-01-01"), parse_ts("2024-01-02"))


def test_full_day_scores_one(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("l1", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24))
    with wh.connect() as conn:
        q = evaluate(conn, catalog, "eia", "ELEC.DEMAND", DAY_2024, checks=["completeness"], series=["PJM"])
    r = q.results["completeness"]
    assert (r.score, r.findings, r.stats["expected"]) == (1.0, [], 24)


def test_missing_hour_is_named_and_scored(wh: Warehouse, catalog: Catalog) -> None:
    rows = [r for r in hours("PJM", "2024-01-01", 24) if r[1] != parse_ts("2024-01-01T05:00")]
    wh.load("l1", "ELEC.DEMAND", rows)
    with wh.connect() as conn:
        q = evaluate(conn, catalog, "eia", "ELEC.DEMAND", DAY_2024, checks=["completeness"], series=["PJM"])
    r = q.results["completeness"]
    assert r.score == 23 / 24
    assert [(f.series_id, f.kind, f.periods, f.count) for f in r.findings] == [
        ("PJM", "missing", ((parse_ts("2024-01-01T05:00"), parse_ts("2024-01-01T06:00")),), 1)]
    assert r.stats["missing_periods"] == 1 and r.stats["null_values"] == 0


def test_null_values_are_counted_apart_from_missing_periods(wh: Warehouse, catalog: Catalog) -> None:
    rows = hours("PJM", "2024-01-01", 24)
    rows[3] = ("PJM", rows[3][1], None)
    rows[4] = ("PJM", rows[4][1], None)
    wh.load("l1", "ELEC.DEMAND", rows[:20])
    with wh.connect() as conn:
        r = evaluate(conn, catalog, "eia", "ELEC.DEMAND", DAY_2024, checks=["completeness"],
                     series=["PJM"]).results["completeness"]
    assert (r.stats["missing_periods"], r.stats["null_values"], r.stats["present_with_value"]) == (4, 2, 18)
    assert r.score == 18 / 24
    null = next(f for f in r.findings if f.kind == "null")
    assert null.periods == ((parse_ts("2024-01-01T03:00"), parse_ts("2024-01-01T05:00")),)
    missing = next(f for f in r.findings if f.kind == "missing")
    assert missing.periods == ((parse_ts("2024-01-01T20:00"), parse_ts("2024-01-02T00:00")),)


def test_catalog_series_absent_from_the_data_count_as_missing(wh: Warehouse, catalog: Catalog) -> None:
    wh.load("l1", "ELEC.DEMAND", hours("PJM", "2024-01-01", 24))
    with wh.connect() as conn:
        r = evaluate(conn, catalog, "eia", "ELEC.DEMAND", DAY_2024, checks=["completeness"]).results["completeness"]
    n = len(catalog.dataset("eia", "ELEC.DEMAND").series)
    assert r.score == 24 / (24 * n)
    assert {f.series_id for f in r.findings} == set(catalog.dataset("eia", "ELEC.DEMAND").series) - {"PJM"}


def test_local_hourly_dataset_expects_23_and_25_hours_on_dst_days(wh: Warehouse, catalog: Catalog) -> None:
    spring = window_to_interval(dt.date(2024, 3, 10), dt.date(2024, 3, 10), NY)
    fall = window_to_interval(dt.date(2024, 11, 3), dt.date(2024, 11, 3), NY)
    wh.load("spring", "PJM.LOAD", [("AEP", spring[0] + i * H, 1000.0) for i in range(23)], source="iso", unit="MW")
    wh.load("fall", "PJM.LOAD", [("AEP", fall[0] + i * H, 1000.0) for i in range(24)], source="iso", unit="MW")
    with wh.connect() as conn:
        rs = evaluate(conn, catalog, "iso", "PJM.LOAD", spring, checks=["completeness"], series=["AEP"])
        rf = evaluate(conn, catalog, "iso", "PJM.LOAD", fall, checks=["completeness"], series=["AEP"])
    s, f = rs.results["completeness"], rf.results["completeness"]
    assert (s.stats["expected_periods"], s.score, s.findings) == (23, 1.0, [])
    assert (f.stats["expected_periods"], f.score) == (25, 24 / 25)
    assert f.findings[0].periods == ((fall[1] - H, fall[1]),)


def _ny_daily(catalog: Catalog) -> Catalog:
    base = catalog.dataset("iso", "PJM.LOAD")
    daily = base.model_copy(update={"name": "PJM.LOAD.DAILY", "grain": Grain.DAILY, "value_range": (0, 5e6)})
    return with_dataset(catalog, "iso", daily)


def test_local_daily_periods_start_at_local_midnight_across_dst(catalog: Catalog) -> None:
    ds = _ny_daily(catalog).dataset("iso", "PJM.LOAD.DAILY")
    window = window_to_interval(dt.date(2024, 3, 9), dt.date(2024, 3, 11), NY)
    got = expected_periods(ds, window)
    assert got == [parse_ts("2024-03-09T05:00"), parse_ts("2024-03-10T05:00"), parse_ts("2024-03-11T04:00")]
    assert period_end(ds, got[1]) - got[1] == 23 * H == local_day_hours(dt.date(2024, 3, 10), NY) * H
    assert is_aligned(ds, got[2]) and not is_aligned(ds, parse_ts("2024-03-11"))


def test_local_daily_dataset_on_a_dst_day(wh: Warehouse, catalog: Catalog) -> None:
    cat = _ny_daily(catalog)
    window = window_to_interval(dt.date(2024, 3, 9), dt.date(2024, 3, 11), NY)
    good = [("AEP", p, 24_000.0) for p in expected_periods(cat.dataset("iso", "PJM.LOAD.DAILY"), window)]
    wh.load("l1", "PJM.LOAD.DAILY", [good[0], good[2]], source="iso", unit="MW")
    with wh.connect() as conn:
        r = evaluate(conn, cat, "iso", "PJM.LOAD.DAILY", window, checks=["completeness"], series=["AEP"])
    c = r.results["completeness"]
    assert c.score == 2 / 3
    assert c.findings[0].periods == ((parse_ts("2024-03-10T05:00"), parse_ts("2024-03-11T04:00")),)


def test_weekday_calendar_skips_weekends(wh: Warehouse, catalog: Catalog) -> None:
    window = (parse_ts("2024-01-01"), parse_ts("2024-01-08"))  # Monday .. Sunday
    days = [("DGS10", parse_ts("2024-01-01") + i * DAY, 4.0) for i in range(5)]
    wh.load("l1", "DGS10", days, source="fred", unit="percent")
    with wh.connect() as conn:
        r = evaluate(conn, catalog, "fred", "DGS10", window, checks=["completeness"]).results["completeness"]
    assert (r.stats["expected_periods"], r.score, r.findings) == (5, 1.0, [])


def test_monthly_and_quarterly_periods(catalog: Catalog) -> None:
    year = window_to_interval(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    gdp = expected_periods(catalog.dataset("fred", "GDP"), year)
    assert gdp == [parse_ts(d) for d in ("2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01")]
    assert len(expected_periods(catalog.dataset("eia", "ELEC.PRICE"), year)) == 12
    assert period_end(catalog.dataset("fred", "GDP"), gdp[0]) == gdp[1]
