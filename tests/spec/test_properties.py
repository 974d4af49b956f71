"""Property tests: typed values round-trip, windows become half-open intervals, junk never crashes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurumplan.errors import SpecError
from aurumplan.intervals import to_ts
from aurumplan.spec.loader import parse_spec
from aurumplan.spec.types import MAX_DURATION_SECONDS, format_duration, parse_duration, parse_hours

HEAD = "apiVersion: aurumplan/v1\nkind: {kind}\nmetadata: {{name: t, reason: why}}\nspec:\n  source: eia\n"
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31))
hours = st.integers(min_value=0, max_value=23)


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_durations_round_trip(n: int, unit: str) -> None:
    if n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit] > MAX_DURATION_SECONDS:
        with pytest.raises(ValueError, match="longer than a century"):
            parse_duration(f"{n}{unit}")
        return
    value = parse_duration(f"{n}{unit}")
    assert parse_duration(format_duration(value)) == value
    assert parse_duration(f" {n} {unit} ") == value


@given(st.integers(min_value=0, max_value=10**6))
def test_bare_number_is_seconds(n: int) -> None:
    assert parse_duration(n) == parse_duration(f"{n}s") == dt.timedelta(seconds=n)


@given(hours, hours)
def test_hours_range_equals_the_list(a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    expected = tuple(range(lo, hi + 1))
    assert parse_hours(f"{lo}-{hi}") == expected
    assert parse_hours(list(reversed(expected))) == expected
    assert parse_hours(",".join(str(h) for h in expected)) == expected


@given(st.lists(hours, min_size=1))
def test_hour_lists_become_sorted_distinct_tuples(values: list[int]) -> None:
    assert parse_hours(values) == tuple(sorted(set(values)))


@settings(max_examples=60, deadline=None)
@given(dates, st.integers(min_value=0, max_value=400), st.booleans())
def test_valid_windows_are_half_open_with_inclusive_date_end(start: dt.date, days: int, quoted: bool) -> None:
    end = start + dt.timedelta(days=days)
    q = "'" if quoted else ""
    body = f"  window: {{start: {q}{start.isoformat()}{q}, end: {q}{end.isoformat()}{q}}}\n"
    _, parsed = parse_spec(HEAD.format(kind="Backfill") + body, "t.yaml", Path("."))
    s, e = parsed.spec.window_interval()
    assert (s, e) == (to_ts(start), to_ts(end) + 86400)
    assert (e - s) == (days + 1) * 86400


@settings(max_examples=60, deadline=None)
@given(dates, st.integers(min_value=1, max_value=10**6))
def test_datetime_end_is_exclusive(start: dt.date, seconds: int) -> None:
    a = dt.datetime(start.year, start.month, start.day)
    b = a + dt.timedelta(seconds=seconds)
    body = f"  window: {{start: '{a.isoformat()}', end: '{b.isoformat()}Z'}}\n"
    _, parsed = parse_spec(HEAD.format(kind="Backfill") + body, "t.yaml", Path("."))
    assert parsed.spec.window_interval() == (to_ts(a), to_ts(b))


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=12), st.dates().map(dt.date.isoformat))
yaml_keys = st.sampled_from(["apiVersion", "kind", "metadata", "spec", "name", "reason", "source", "window",
                             "start", "end", "date", "hours", "timeRange", "failedRecords", "retries",
                             "backoff", "datasets", "series", "labels", "x"])
trees = st.recursive(yaml_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(yaml_keys, children, max_size=5)), max_leaves=20)


def _dump(value: object, indent: int = 0) -> str:
    import json

    pad = " " * indent
    if isinstance(value, dict) and value:
        return "".join(f"{pad}{k}:\n{_dump(v, indent + 2)}" for k, v in value.items())
    return f"{pad}{json.dumps(value)}\n"


spec_keys = st.sampled_from(["datasets", "series", "window", "timezone", "concurrency", "batchSize", "retries",
                             "rateLimit", "priority", "validation", "type", "schemaVersion", "algorithm",
                             "date", "hours", "timeRange", "incremental", "maxAttempts", "rollbackWhen"])
near_valid = st.builds(
    lambda kind, spec: {"apiVersion": "aurumplan/v1", "kind": kind, "metadata": {"name": "x", "reason": "y"},
                        "spec": {"source": "eia", **spec}},
    st.sampled_from(["Backfill", "Replay", "Reprocess"]), st.dictionaries(spec_keys, trees, max_size=4))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), trees.map(_dump), near_valid.map(_dump)))
def test_junk_only_ever_raises_spec_error(text: str) -> None:
    try:
        parse_spec(text, "junk.yaml", Path("."))
    except SpecError as err:
        assert err.diagnostics
        assert all(d.line >= 1 and d.col >= 1 for d in err.diagnostics)
