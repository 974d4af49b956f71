"""What the compiler reads from a valid spec: defaults, typed values and the UTC intervals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from aurumplan.intervals import parse_ts
from aurumplan.spec.loader import parse_spec
from aurumplan.spec.models import BackfillSpec, Operation, ReplaySpec, ReprocessSpec

HEAD = "apiVersion: aurumplan/v1\nkind: {kind}\nmetadata: {{name: t, reason: why}}\nspec:\n  source: eia\n"


def op(kind: str, body: str) -> Operation:
    _, parsed = parse_spec(HEAD.format(kind=kind) + body, "t.yaml", Path("."))
    return parsed


def test_defaults_match_the_contract() -> None:
    spec = op("Backfill", "  window: {start: 2024-01-01, end: 2024-01-31}\n").spec
    assert isinstance(spec, BackfillSpec)
    assert (spec.datasets, spec.series, spec.timezone, spec.concurrency, spec.batchSize) == (None, None, "UTC", 3, 1000)
    assert (spec.retries.max, spec.retries.backoff, spec.retries.maxBackoff) == (
        3, dt.timedelta(seconds=10), dt.timedelta(minutes=5))
    assert (spec.rateLimit, spec.priority) == ("auto", "normal")
    assert spec.validation.checks == ("completeness", "accuracy", "consistency", "schema")
    assert (spec.validation.threshold, spec.validation.onFailure) == (0.95, "halt")


def test_kind_picks_the_spec_model() -> None:
    replay = op("Replay", "  window: {start: 2024-01-01, end: 2024-01-02}\n").spec
    assert isinstance(replay, ReplaySpec)
    assert (replay.type, replay.archive) == ("correction", None)
    reprocess = op("Reprocess", "  date: 2024-01-15\n").spec
    assert isinstance(reprocess, ReprocessSpec)
    assert (reprocess.attempts(), reprocess.conflicts) == (4, "latest_wins")  # retries.max 3 + the first


def test_date_end_is_inclusive_and_datetime_end_exclusive() -> None:
    dates = op("Backfill", "  window: {start: 2024-01-01, end: 2024-01-31}\n").spec
    assert dates.window_interval() == (parse_ts("2024-01-01"), parse_ts("2024-02-01"))
    instants = op("Backfill", "  window: {start: '2024-01-01T06:00', end: 2024-01-02T06:00:00}\n").spec
    assert instants.window_interval() == (parse_ts("2024-01-01T06:00"), parse_ts("2024-01-02T06:00"))


def test_window_honours_timezone_and_offsets() -> None:
    local = op("Backfill", "  timezone: America/New_York\n  window: {start: 2024-01-01, end: 2024-01-01}\n").spec
    assert local.window_interval() == (parse_ts("2024-01-01T05:00Z"), parse_ts("2024-01-02T05:00Z"))
    offset = op("Backfill", "  timezone: America/New_York\n"
                            "  window: {start: '2024-01-01T00:00:00+01:00', end: '2024-01-01T02:00Z'}\n").spec
    assert offset.window.start == dt.datetime(2023, 12, 31, 23, tzinfo=dt.UTC)
    assert offset.window_interval() == (parse_ts("2023-12-31T23:00Z"), parse_ts("2024-01-01T02:00Z"))


def test_hours_on_a_utc_day() -> None:
    spec = op("Reprocess", "  date: 2024-01-15\n  hours: '10-16'\n").spec
    assert isinstance(spec, ReprocessSpec)
    assert spec.hours == (10, 11, 12, 13, 14, 15, 16)
    assert spec.selection_intervals() == [(parse_ts("2024-01-15T10:00Z"), parse_ts("2024-01-15T17:00Z"))]


def test_hours_list_splits_into_coalesced_intervals() -> None:
    spec = op("Reprocess", "  date: 2024-01-15\n  hours: [16, 3, 14, 15]\n").spec
    assert spec.selection_intervals() == [(parse_ts("2024-01-15T03:00Z"), parse_ts("2024-01-15T04:00Z")),
                                          (parse_ts("2024-01-15T14:00Z"), parse_ts("2024-01-15T17:00Z"))]


def test_fall_back_day_has_25_hours_and_the_repeated_hour_is_two() -> None:
    day = op("Reprocess", "  timezone: America/New_York\n  date: 2024-11-03\n").spec
    [(s, e)] = day.selection_intervals()
    assert (s, e) == (parse_ts("2024-11-03T04:00Z"), parse_ts("2024-11-04T05:00Z"))
    assert (e - s) // 3600 == 25
    one = op("Reprocess", "  timezone: America/New_York\n  date: 2024-11-03\n  hours: 1\n").spec
    assert one.selection_intervals() == [(parse_ts("2024-11-03T05:00Z"), parse_ts("2024-11-03T07:00Z"))]


def test_spring_forward_day_skips_the_missing_hour() -> None:
    day = op("Reprocess", "  timezone: America/New_York\n  date: 2024-03-10\n").spec
    [(s, e)] = day.selection_intervals()
    assert (e - s) // 3600 == 23
    hours = op("Reprocess", "  timezone: America/New_York\n  date: 2024-03-10\n  hours: [1, 2, 3]\n").spec
    assert hours.selection_intervals() == [(parse_ts("2024-03-10T06:00Z"), parse_ts("2024-03-10T08:00Z"))]


def test_other_selectors() -> None:
    tr = op("Reprocess", "  timeRange: {start: '2024-12-31T09:00:00', end: '2024-12-31T17:00:00'}\n").spec
    assert tr.selection_intervals() == [(parse_ts("2024-12-31T09:00Z"), parse_ts("2024-12-31T17:00Z"))]
    inc = op("Reprocess", "  incremental: {field: last_updated, since: '2024-12-31T00:00:00'}\n").spec
    assert inc.selection_intervals() is None and inc.incremental.since == dt.datetime(2024, 12, 31)
    win = op("Reprocess", "  datasets: [ELEC.PRICE]\n  window: {start: 2024-01-01, end: 2024-03-31}\n").spec
    assert win.selection_intervals() == [(parse_ts("2024-01-01"), parse_ts("2024-04-01"))]


def test_models_are_frozen_and_strict_about_keys() -> None:
    spec = op("Backfill", "  window: {start: 2024-01-01, end: 2024-01-31}\n").spec
    with pytest.raises(ValidationError):
        spec.concurrency = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        BackfillSpec.model_validate({"source": "eia", "window": {"start": "2024-01-01", "end": "2024-01-02"},
                                     "concurency": 2})


def test_operation_accepts_a_built_spec_object() -> None:
    spec = BackfillSpec(source="eia", window={"start": "2024-01-01", "end": "2024-01-02"})  # type: ignore[arg-type]
    built = Operation(apiVersion="aurumplan/v1", kind="Backfill", metadata={"name": "x"}, spec=spec)  # type: ignore[arg-type]
    assert built.spec is spec
    dumped = built.model_dump(mode="json")
    assert dumped["spec"]["retries"] == {"max": 3, "backoff": "10s", "maxBackoff": "5m"}
    assert Operation.model_validate(dumped) == built


def test_schema_version_given_as_number_is_a_string() -> None:
    spec = op("Replay", "  window: {start: 2024-01-01, end: 2024-01-02}\n  type: schema_correction\n"
                        "  schemaVersion: 2\n").spec
    assert spec.schemaVersion == "2"
