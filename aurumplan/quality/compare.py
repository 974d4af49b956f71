"""Before and after a replay: what changed per series, the largest changes, the scores of both.

Rows are matched by (series, period). `changed` = present in both with a different value (NULL
vs a number counts as changed, NaN equals NaN); `added` = only in the new version; `removed` =
only in the replaced version; `unchanged` = same value. The readable diff is DeepDiff over
per-series summaries (rows, NULLs, sum, mean, min, max, first and last period, units), not over
raw rows, so it stays a few lines for millions of rows.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from aurumplan.catalog import Catalog, DatasetDef
from aurumplan.intervals import Interval, fmt_ts, parse_ts, to_ts
from aurumplan.quality.evaluate import evaluate_frame, normalize_checks
from aurumplan.quality.frame import DatasetFrame, SeriesFrame, build_frame, load_frame
from aurumplan.quality.model import CHECKS
from aurumplan.quality.units import same_unit
from aurumplan.warehouse.reads import displaced_rows, load_dicts, replaced_pairs


@dataclass(frozen=True)
class Change:
    series_id: str
    period: int
    before: float | None
    after: float | None

    @property
    def diff(self) -> float | None:
        if isinstance(self.before, int | float) and isinstance(self.after, int | float):
            return self.after - self.before
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"series_id": self.series_id, "period": fmt_ts(self.period), "before": self.before,
                "after": self.after, "diff": self.diff}


@dataclass(frozen=True)
class SeriesDelta:
    series_id: str
    changed: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    max_abs_change: float = 0.0


@dataclass(frozen=True)
class Comparison:
    """The replaced version against the new one, for one dataset in a window."""

    source: str
    dataset: str
    window: Interval
    before_load_ids: tuple[str, ...]
    after_load_ids: tuple[str, ...]
    changed: int
    added: int
    removed: int
    unchanged: int
    per_series: dict[str, SeriesDelta]
    largest: list[Change]
    scores: dict[str, tuple[float, float]]
    summary_before: dict[str, Any] = field(default_factory=dict)
    summary_after: dict[str, Any] = field(default_factory=dict)
    diff_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "dataset": self.dataset,
                "window": [fmt_ts(self.window[0]), fmt_ts(self.window[1])],
                "before_load_ids": list(self.before_load_ids), "after_load_ids": list(self.after_load_ids),
                "changed": self.changed, "added": self.added, "removed": self.removed,
                "unchanged": self.unchanged,
                "per_series": {k: vars(v) for k, v in self.per_series.items()},
                "largest": [c.to_dict() for c in self.largest],
                "scores": {k: {"before": round(b, 6), "after": round(a, 6)} for k, (b, a) in self.scores.items()},
                "summary_before": self.summary_before, "summary_after": self.summary_after,
                "diff": self.diff_text.splitlines()}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def series_summary(s: SeriesFrame) -> dict[str, Any]:
    """Aggregates of one series that a reader can compare at a glance."""
    nums = [v for v in s.values if isinstance(v, int | float) and math.isfinite(v)]
    return {"rows": len(s), "nulls": sum(v is None for v in s.values),
            "sum": math.fsum(nums) if nums else None, "mean": math.fsum(nums) / len(nums) if nums else None,
            "min": min(nums) if nums else None, "max": max(nums) if nums else None,
            "first": fmt_ts(s.periods[0]) if s.periods else None,
            "last": fmt_ts(s.periods[-1]) if s.periods else None,
            "units": sorted({str(u) for u in s.units})}


def compare_frames(ds: DatasetDef, before: DatasetFrame, after: DatasetFrame, *, top_n: int = 10,
                   checks: Sequence[str] = CHECKS, params: Mapping[str, Any] | None = None,
                   load_versions: Mapping[str, str] | None = None) -> Comparison:
    """Compare two versions of one dataset (see module doc); scores come from the checks on each
    (the schema check reads each row's version from `load_versions` when the frames carry load ids)."""
    names = normalize_checks(checks)
    series = sorted(set(before.series) | set(after.series))
    per: dict[str, SeriesDelta] = {}
    changes: list[Change] = []
    totals = [0, 0, 0, 0]
    for sid in series:
        old, new = before.get(sid).value_map(), after.get(sid).value_map()
        changed = unchanged = 0
        biggest = 0.0
        for p, v in new.items():
            if p not in old:
                continue
            if _same(old[p], v):
                unchanged += 1
                continue
            changed += 1
            c = Change(sid, p, old[p], v)
            changes.append(c)
            if c.diff is not None and math.isfinite(c.diff):
                biggest = max(biggest, abs(c.diff))
        added = sum(1 for p in new if p not in old)
        removed = sum(1 for p in old if p not in new)
        per[sid] = SeriesDelta(sid, changed, added, removed, unchanged, biggest)
        for i, n in enumerate((changed, added, removed, unchanged)):
            totals[i] += n

    def rank(c: Change) -> tuple[int, float, str, int]:
        d = c.diff
        return (0, -abs(d), c.series_id, c.period) if d is not None and math.isfinite(d) else \
            (1, 0.0, c.series_id, c.period)

    largest = sorted(changes, key=rank)[:top_n]
    q_before = evaluate_frame(ds, before, names, series=series, params=params, load_versions=load_versions)
    q_after = evaluate_frame(ds, after, names, series=series, params=params, previous=before,
                             load_versions=load_versions)
    scores = {k: (q_before.results[k].score, q_after.results[k].score) for k in names}
    scores["quality"] = (q_before.score, q_after.score)
    sb = {sid: series_summary(before.get(sid)) for sid in series}
    sa_ = {sid: series_summary(after.get(sid)) for sid in series}
    from deepdiff import DeepDiff  # only a version comparison's readable diff needs it

    diff = DeepDiff(sb, sa_, significant_digits=6, ignore_numeric_type_changes=True)
    changed, added, removed, unchanged = totals
    return Comparison(before.source, ds.name, after.window, before.load_ids, after.load_ids,
                      changed=changed, added=added, removed=removed, unchanged=unchanged,
                      per_series=per, largest=largest, scores=scores, summary_before=sb, summary_after=sa_,
                      diff_text=diff.pretty() if diff else "no differences in the per-series summaries")


def displaced_frame(conn: Connection, source: str, dataset: str, window: Interval,
                    load_ids: Sequence[str]) -> DatasetFrame:
    """The exact rows the given committed loads replaced (via load_displaced.prev_load_id)."""
    rows = displaced_rows(conn, source, dataset, load_ids)
    prev = sorted({str(r[4]) for r in rows})
    frame = build_frame(source, dataset, window, (r[:4] for r in rows), prev)
    owner = {(r[0], r[1]): str(r[4]) for r in rows}
    for sid, s in frame.series.items():
        s.load_ids = [owner[(sid, p)] for p in s.periods]
    return frame


def _epoch(value: Any) -> int | None:
    if isinstance(value, dt.datetime):
        return to_ts(value)
    return parse_ts(str(value)) if value else None


def _load_span(infos: Sequence[Mapping[str, Any]], window: Interval) -> Interval:
    """The window narrowed to the period range the loads declare (all of it if they declare none)."""
    starts = [x for x in (_epoch(i.get("period_start")) for i in infos) if x is not None]
    ends = [x for x in (_epoch(i.get("period_end")) for i in infos) if x is not None]
    if not starts or not ends:
        return window
    lo, hi = max(window[0], min(starts)), min(window[1], max(ends))
    return (lo, hi) if lo < hi else (window[0], window[0])


def compare_versions(conn: Connection, catalog: Catalog, source: str, dataset: str, window: Interval,
                     new_load_ids: Sequence[str], previous_load_ids: Sequence[str] | None = None, *,
                     top_n: int = 10, checks: Sequence[str] = CHECKS,
                     params: Mapping[str, Any] | None = None) -> Comparison:
    """Compare new loads with what they replace.

    The replaced version is `previous_load_ids`' rows when given; for committed loads, the rows
    they displaced (so `removed` is 0); for staged loads, the active rows of their series inside
    their declared period range. There `removed` counts active rows the new loads lack: a commit
    with replace_range removes them, a row-by-row commit leaves them active.
    """
    ds = catalog.dataset(source, dataset)
    after = load_frame(conn, source, dataset, window, load_ids=list(new_load_ids), with_load_ids=True)
    infos = load_dicts(conn, list(new_load_ids))
    if previous_load_ids:
        before = load_frame(conn, source, dataset, window, load_ids=list(previous_load_ids), with_load_ids=True)
    elif any(i.get("status") == "committed" for i in infos):
        before = displaced_frame(conn, source, dataset, window, new_load_ids)
    else:
        span = _load_span(infos, window)
        before = load_frame(conn, source, dataset, span, series=list(after.series), with_load_ids=True)
        before.window = window
    return compare_frames(ds, before, after, top_n=top_n, checks=checks, params=params,
                          load_versions=_versions(conn, before, after))


def _versions(conn: Connection, *frames: DatasetFrame) -> dict[str, str]:
    """load id -> schema version recorded on the load, for the loads whose rows the frames hold."""
    ids = sorted({lid for f in frames for s in f.series.values() for lid in set(s.load_ids or ())})
    return {str(i["load_id"]): str(i["schema_version"]) for i in load_dicts(conn, ids) if i.get("schema_version")}


def migration_effect(conn: Connection, ds: DatasetDef, source: str, load_ids: Sequence[str]) -> dict[str, Any]:
    """What a schema migration's committed loads did to the rows they replaced: how many were rewritten
    or dropped, from and to which schema versions, which units and attribute keys changed."""
    pairs = replaced_pairs(conn, source, ds.name, load_ids)
    versions: Counter[str] = Counter()
    units: Counter[str] = Counter()
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    migrated = 0
    for old_unit, old_attrs, old_v, kept, new_unit, new_attrs, new_v in pairs:
        if not kept:
            continue
        migrated += 1
        versions[f"{old_v or ds.schema_version} -> {new_v or ds.schema_version}"] += 1
        if not same_unit(old_unit, new_unit):
            units[f"{old_unit} -> {new_unit}"] += 1
        before, after = _keys(old_attrs), _keys(new_attrs)
        added.update(after - before)
        removed.update(before - after)
    return {"dataset": ds.name, "rows": len(pairs), "migrated": migrated, "dropped": len(pairs) - migrated,
            "versions": dict(versions), "units": dict(units), "attributes_added": dict(sorted(added.items())),
            "attributes_removed": dict(sorted(removed.items()))}


def _keys(text: str | None) -> set[str]:
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        return set()
    return set(parsed) if isinstance(parsed, dict) else set()
