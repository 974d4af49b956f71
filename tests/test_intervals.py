"""Interval arithmetic: properties that every planner and diff relies on."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from aurumplan.intervals import (
    HOUR,
    Grain,
    IntervalMap,
    IntervalSet,
    fmt_ts,
    local_day_hours,
    parse_ts,
    window_to_interval,
)

BASE = parse_ts("2020-01-01")
iv = st.tuples(st.integers(0, 500), st.integers(0, 60)).map(lambda t: (BASE + t[0] * HOUR, BASE + (t[0] + t[1]) * HOUR))
isets = st.lists(iv, max_size=12).map(IntervalSet)


def points(s: IntervalSet) -> set[int]:
    return {h for a, b in s for h in range(a, b, HOUR)}


@given(isets, isets)
def test_union_intersection_difference_match_point_sets(a: IntervalSet, b: IntervalSet) -> None:
    assert points(a | b) == points(a) | points(b)
    assert points(a & b) == points(a) & points(b)
    assert points(a - b) == points(a) - points(b)


@given(isets)
def test_normalized_sorted_disjoint_non_adjacent(a: IntervalSet) -> None:
    ivs = a.intervals
    assert all(s < e for s, e in ivs)
    assert all(ivs[i][1] < ivs[i + 1][0] for i in range(len(ivs) - 1))
    assert IntervalSet(ivs) == a
    assert a | a == a


@given(isets, isets)
def test_subtract_then_add_restores(a: IntervalSet, b: IntervalSet) -> None:
    assert (a - b) | (a & b) == a
    assert not ((a - b) & b)


@given(isets, st.sampled_from(list(Grain)))
def test_align_widens_to_whole_periods(a: IntervalSet, grain: Grain) -> None:
    aligned = a.align(grain)
    assert aligned.covers(a)
    for s, e in aligned:
        assert grain.floor(s) == s and grain.floor(e) == e


@given(isets, st.integers(1, 50))
def test_chunks_cover_exactly_and_respect_size(a: IntervalSet, n: int) -> None:
    pieces = a.chunks(Grain.HOURLY, n)
    assert IntervalSet(pieces) == a
    assert all(Grain.HOURLY.count(s, e) <= n for s, e in pieces)
    assert sum(e - s for s, e in pieces) == a.duration()


@given(st.lists(st.tuples(iv, st.sampled_from("abc")), max_size=10))
def test_interval_map_last_write_wins_and_coalesces(writes: list) -> None:
    m: IntervalMap[str] = IntervalMap()
    expect: dict[int, str] = {}
    for (s, e), v in writes:
        m = m.assign(IntervalSet([(s, e)]), v)
        for h in range(s, e, HOUR):
            expect[h] = v
    got = {h: v for s, e, v in m for h in range(s, e, HOUR)}
    assert got == expect
    items = list(m)
    assert all(not (items[i][1] == items[i + 1][0] and items[i][2] == items[i + 1][2]) for i in range(len(items) - 1))


def test_ten_year_hourly_window_is_one_interval() -> None:
    s, e = window_to_interval(dt.date(2015, 1, 1), dt.date(2024, 12, 31))
    ten = IntervalSet([(s, e)])
    assert len(ten) == 1
    assert ten.periods(Grain.HOURLY) == 87672


def test_month_and_quarter_grains() -> None:
    s = parse_ts("2024-02-15")
    assert fmt_ts(Grain.MONTHLY.floor(s)) == "2024-02-01T00:00Z"
    assert fmt_ts(Grain.QUARTERLY.floor(s)) == "2024-01-01T00:00Z"
    assert Grain.MONTHLY.count(parse_ts("2024-01-01"), parse_ts("2025-01-01")) == 12
    assert Grain.QUARTERLY.count(parse_ts("2024-01-01"), parse_ts("2025-01-01")) == 4
    assert fmt_ts(Grain.QUARTERLY.add(parse_ts("2024-10-01"), 1)) == "2025-01-01T00:00Z"


def test_date_end_inclusive_datetime_end_exclusive() -> None:
    s, e = window_to_interval(dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert e - s == 24 * HOUR
    s, e = window_to_interval(dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 1, 1, 17))
    assert e - s == 8 * HOUR


def test_dst_days_have_23_and_25_hours() -> None:
    assert local_day_hours(dt.date(2024, 3, 10), "America/New_York") == 23
    assert local_day_hours(dt.date(2024, 11, 3), "America/New_York") == 25
    assert local_day_hours(dt.date(2024, 11, 4), "America/New_York") == 24
    s, _ = window_to_interval(dt.date(2024, 11, 3), dt.date(2024, 11, 3), "America/New_York")
    assert fmt_ts(s) == "2024-11-03T04:00Z"


@given(isets, st.integers(0, 600), st.integers(0, 100))
def test_clip_equals_intersection(a: IntervalSet, s: int, n: int) -> None:
    lo, hi = BASE + s * HOUR, BASE + (s + n) * HOUR
    assert a.clip(lo, hi) == a & IntervalSet([(lo, hi)])


@given(st.lists(st.tuples(iv, st.sampled_from("abc")), max_size=10))
def test_interval_map_domain_is_the_covered_instants(writes: list) -> None:
    m: IntervalMap[str] = IntervalMap()
    for (s, e), v in writes:
        m = m.assign(IntervalSet([(s, e)]), v)
    dom = m.domain()
    assert points(dom) == {h for s, e, _ in m for h in range(s, e, HOUR)}
    assert IntervalSet(dom.intervals) == dom  # normalized: adjacent runs of different values joined


unaligned = st.tuples(st.integers(0, 10**6), st.integers(1, 10**6)).map(lambda t: (BASE + t[0], BASE + t[0] + t[1]))


@given(st.lists(unaligned, max_size=8).map(IntervalSet), st.sampled_from([Grain.HOURLY, Grain.DAILY]))
def test_periods_counts_period_starts_inside(a: IntervalSet, grain: Grain) -> None:
    step = grain.seconds()
    assert a.periods(grain) == sum(1 for s, e in a for t in range(grain.ceil(s), e, step))
