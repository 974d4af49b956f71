"""Quota arithmetic and `quotas validate` reports."""

from __future__ import annotations

import json

import pytest

from aurumplan.catalog import load_catalog
from aurumplan.catalog.quotas import auto_rate, days_needed, min_duration_seconds, validate_quotas
from aurumplan.config import Config, Quota, SourceConfig


def test_min_duration_is_bounded_by_every_window() -> None:
    q = Quota(per_second=5, per_hour=9000)
    assert min_duration_seconds(40, q, 0.8) == 9.0  # 4 per second: the 40th goes out after 9 s
    assert min_duration_seconds(7201, q, 0.8) == 3600.0  # the hourly cap of 7200 binds
    assert min_duration_seconds(0, q, 0.8) == 0.0
    assert min_duration_seconds(10, Quota(per_minute=6), 0.8) == 120.0  # 4 per minute
    assert min_duration_seconds(10, Quota(per_second=5), 0.8, rate=0.5) == 18.0
    assert min_duration_seconds(10, Quota(), 0.8) == 0.0


def test_days_needed_uses_the_daily_cap() -> None:
    assert days_needed(1000, Quota(per_day=500), 0.8) == 3  # 400 a day
    assert days_needed(400, Quota(per_day=500), 0.8) == 1
    assert days_needed(10**6, Quota(per_second=5), 0.8) == 1
    assert days_needed(0, Quota(per_day=500), 0.8) == 0


def test_auto_rate_is_headroom_times_tightest_window() -> None:
    assert auto_rate(Quota(per_second=5, per_hour=9000), 0.8) == 2.0
    assert auto_rate(Quota(per_second=2, per_minute=120), 0.8) == 1.0
    assert auto_rate(Quota(), 0.8) is None


def test_builtin_catalog_is_consistent() -> None:
    reports = {r.source: r for r in validate_quotas(load_catalog(), Config(), concurrency=3)}
    assert set(reports) == {"cpi", "eia", "fred", "iso", "noaa"}
    assert all(r.ok for r in reports.values())
    eia = reports["eia"].to_dict()
    assert eia["effective_rate"] == 2.0 and eia["rate_origin"] == "auto"
    assert [w["cap"] for w in eia["windows"]] == [4, 7200]
    assert reports["cpi"].day_budget == 400
    assert reports["noaa"].day_budget_lasts_seconds == 2000.0  # 8000 at 4/s
    assert any("concurrency 3 exceeds the 1 requests allowed per 1s" in w for w in reports["fred"].warnings)
    assert not reports["iso"].warnings  # 4 per minute admits 3 workers at once
    json.dumps([r.to_dict() for r in reports.values()])


def test_errors_for_rate_above_quota_bad_headroom_and_too_big_operation() -> None:
    config = Config(sources={"eia": SourceConfig(headroom=0.3), "cpi": SourceConfig()})
    reports = {r.source: r for r in validate_quotas(load_catalog(config), config, concurrency=2,
                                                   planned_requests={"cpi": 1000},
                                                   rate_limits={"cpi": "auto", "eia": 6})}
    assert set(reports) == {"cpi", "eia"}
    eia = reports["eia"]
    assert any("headroom 0.3 is outside 0.5..1.0" in e for e in eia.errors)
    assert any("rateLimit 6/s" in e and "per_second" in e for e in eia.errors)
    assert eia.rate_origin == "explicit" and eia.effective_rate == 6.0
    cpi = reports["cpi"]
    assert cpi.errors == ["the planned operation needs 1000 requests, more than one day's budget of 400 (3 days)"]
    assert not cpi.ok and cpi.to_dict()["ok"] is False


@pytest.mark.parametrize("rate, warned", [(2.4, True), (1.5, False)])
def test_explicit_rate_inside_quota_but_above_headroom_warns(rate: float, warned: bool) -> None:
    reports = validate_quotas(load_catalog(), None, concurrency=1, rate_limits={"eia": rate})
    eia = next(r for r in reports if r.source == "eia")
    assert eia.ok
    assert any("headroom" in w for w in eia.warnings) is warned
