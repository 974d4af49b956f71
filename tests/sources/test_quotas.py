"""Quota arithmetic and `quotas validate` reports."""

from __future__ import annotations

import json

import pytest

from aurumplan.catalog import load_catalog
from aurumplan.catalog.quotas import auto_rate, days_needed, estimate_seconds, min_duration_seconds, validate_quotas
from aurumplan.config import Config, Quota, SourceConfig


def test_min_duration_follows_the_limiter() -> None:
    q = Quota(per_second=5, per_hour=9000)
    assert min_duration_seconds(40, q, 0.8) == pytest.approx(9.75)  # 4/s evenly: the 40th at 39 x 0.25 s
    assert min_duration_seconds(0, q, 0.8) == 0.0
    # 6/min at 0.8: a burst of 4.8 requests' worth, then 4.8 per minute (not floor(4.8) = 4): (10 - 4.8) / 0.08
    assert min_duration_seconds(10, Quota(per_minute=6), 0.8) == pytest.approx(65.0)
    assert min_duration_seconds(10, Quota(per_second=5), 0.8, rate=0.5) == 18.0
    assert min_duration_seconds(10, Quota(), 0.8) == 0.0
    assert min_duration_seconds(5, Quota(per_day=500), 0.8) == 0.0  # a few requests against a day budget


def test_estimate_adds_workers_and_latency() -> None:
    q = Quota(per_minute=6)
    assert estimate_seconds(10, q, 0.8, concurrency=3) == pytest.approx(min_duration_seconds(10, q, 0.8) + 0.1,
                                                                        abs=0.2)
    assert estimate_seconds(100, Quota(), 0.8, concurrency=2, latency=0.5) == pytest.approx(25.0)


def test_days_needed_reads_the_budget_as_requests_per_day() -> None:
    assert days_needed(1000, Quota(per_day=500), 0.8) == 3  # 400 a day
    assert days_needed(400, Quota(per_day=500), 0.8) == 1
    assert days_needed(10**6, Quota(per_second=5), 0.8) == 1
    assert days_needed(0, Quota(per_day=500), 0.8) == 0


def test_auto_rate_is_headroom_times_tightest_window_without_rounding() -> None:
    assert auto_rate(Quota(per_second=5, per_hour=9000), 0.8) == 2.0
    assert auto_rate(Quota(per_second=2, per_minute=120), 0.8) == 1.6
    assert auto_rate(Quota(), 0.8) is None


def test_builtin_catalog_is_consistent() -> None:
    reports = {r.source: r for r in validate_quotas(load_catalog(), Config(), concurrency=3)}
    assert set(reports) == {"cpi", "eia", "fred", "iso", "noaa"}
    assert all(r.ok for r in reports.values())
    eia = reports["eia"].to_dict()
    assert eia["effective_rate"] == 2.0 and eia["rate_origin"] == "auto"
    assert [w["allowed"] for w in eia["windows"]] == [5, 9000]
    assert reports["cpi"].day_budget == 400
    assert reports["noaa"].to_dict()["day_budget_requests_per_day"] == 8000
    assert any("3 workers will wait on each other" in w for w in reports["fred"].warnings)
    assert not reports["iso"].warnings
    json.dumps([r.to_dict() for r in reports.values()])


def test_config_quota_replaces_the_builtin_one() -> None:
    config = Config(sources={"iso": SourceConfig(quota=Quota(per_second=20))})
    assert load_catalog(config).source("iso").quota == Quota(per_second=20)  # no per_minute: 6 left over
    assert load_catalog(Config()).source("iso").quota == Quota(per_minute=6)


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
    assert cpi.errors == ["the planned operation needs 1000 requests, more than one day's budget of 400 "
                          "requests/day (3 days)"]
    assert cpi.days_needed == 3
    assert not cpi.ok and cpi.to_dict()["ok"] is False


@pytest.mark.parametrize("rate, warned", [(2.4, True), (1.5, False)])
def test_explicit_rate_inside_quota_but_above_headroom_warns(rate: float, warned: bool) -> None:
    reports = validate_quotas(load_catalog(), None, concurrency=1, rate_limits={"eia": rate})
    eia = next(r for r in reports if r.source == "eia")
    assert eia.ok
    assert any("headroom" in w for w in eia.warnings) is warned
