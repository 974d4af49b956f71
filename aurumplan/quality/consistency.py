"""Consistency: unique keys, one unit per series, catalog relations, plausible revisions.

- duplicates: more than one row for a (series, period) key in what is judged (the active view,
  or the staged loads together); every extra row is flagged.
- unit: a series whose rows carry more than one unit (spellings compare normalised, quality/units.py);
  rows not in the most common unit are flagged.
- relations (`sum_of`): per period, the part series `<prefix>.<x>` of the parts dataset sum to the
  total dataset's series `<prefix>` within the relative tolerance |sum - total| <= tol * |total|.
  Periods where the total or any part lacks a value are counted as `incomplete`, not judged.
- revisions: against the version it replaces, a value whose relative change
  |new - old| / max(|old|, revision_floor) exceeds `revision_band` (default 0.5) is flagged. Only
  like is compared with like: a row whose unit differs from the replaced row's (a schema migration
  from cents to dollars) is counted in `revisions_other_unit`, not judged as a revision.
Score = 1 - (distinct flagged keys) / (rows judged); a relation violation counts one key per
group and period.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeGuard

from aurumplan.catalog.models import DatasetDef, Relation
from aurumplan.quality.expected import period_end
from aurumplan.quality.frame import DatasetFrame, SeriesFrame
from aurumplan.quality.model import CheckResult, Finding, make_finding, ratio_score
from aurumplan.quality.units import unit_key


@dataclass(frozen=True)
class RelationInput:
    """A relation with the frames of both sides (one of them is the dataset being judged)."""

    relation: Relation
    parts_def: DatasetDef
    parts: DatasetFrame
    totals: DatasetFrame


def _num(v: Any) -> TypeGuard[float]:
    """A finite number (NULL, NaN and infinities are not compared)."""
    return isinstance(v, int | float) and math.isfinite(v)


def group_of(series_id: str) -> str:
    """The total series a part series belongs to: everything before its last dot."""
    return series_id.rsplit(".", 1)[0]


def check_relation(ri: RelationInput, judged: str) -> tuple[list[Finding], set[tuple[str, int]], dict[str, int]]:
    """Findings of one sum_of relation, the (group, period) keys violated, and figures."""
    rel, pdef = ri.relation, ri.parts_def
    members: dict[str, list[str]] = {}
    for sid in pdef.series or list(ri.parts.series):
        members.setdefault(group_of(sid), []).append(sid)
    end = partial(period_end, pdef)
    findings: list[Finding] = []
    keys: set[tuple[str, int]] = set()
    compared = incomplete = 0
    for total_sid in sorted(set(members) & set(ri.totals.series)):
        parts = [ri.parts.get(s).value_map() for s in members[total_sid]]
        bad: list[int] = []
        for p, t in ri.totals.get(total_sid).value_map().items():
            if not _num(t):
                continue
            vals = [v for v in (m.get(p) for m in parts) if _num(v)]
            if len(vals) < len(parts):
                incomplete += 1
                continue
            compared += 1
            if abs(sum(vals) - t) > rel.tolerance * max(abs(t), 1e-9):
                bad.append(p)
        if bad:
            keys.update((total_sid, p) for p in bad)
            findings.append(make_finding(
                judged, total_sid, sorted(bad), end,
                f"{len(bad)} periods where {rel.parts} {total_sid}.* do not sum to {rel.total} {total_sid} "
                f"within {rel.tolerance:.0%}", "relation"))
    return findings, keys, {"compared": compared, "incomplete": incomplete, "violations": len(keys)}


def _other_units(before: SeriesFrame, keys: list[str | None]) -> dict[int, str | None] | None:
    """Period -> unit key of the replaced version, or None when both versions use one and the same unit."""
    old_keys = set(map(unit_key, before.units))
    if not old_keys or (len(old_keys) == 1 and set(keys) <= old_keys):
        return None
    return dict(zip(before.periods, map(unit_key, before.units), strict=True))


def check_consistency(ds: DatasetDef, frame: DatasetFrame, series: Sequence[str], *,
                      relations: Sequence[RelationInput] = (), previous: DatasetFrame | None = None,
                      params: dict[str, Any] | None = None) -> CheckResult:
    """Duplicates, units, relations and revisions (see module doc)."""
    params = params or {}
    band = float(params.get("revision_band", 0.5))
    floor = float(params.get("revision_floor", 1e-9))
    end = partial(period_end, ds)
    findings: list[Finding] = []
    flagged: set[tuple[str, int]] = set()
    dup_rows = unit_rows = revised = out_of_band = compared = unlike = 0
    rows = 0
    for sid in series:
        s = frame.get(sid)
        rows += len(s)
        p = s.periods
        dups = [p[i] for i in range(1, len(p)) if p[i] == p[i - 1]]
        if dups:
            dup_rows += len(dups)
            flagged.update((sid, x) for x in dups)
            findings.append(make_finding(ds.name, sid, sorted(set(dups)), end,
                                         f"{len(dups)} duplicate rows for the same period", "duplicate"))
        ukeys = list(map(unit_key, s.units))
        units = Counter(ukeys)
        if len(units) > 1:
            main = units.most_common(1)[0][0]
            odd = [x for x, u in zip(p, ukeys, strict=True) if u != main]
            unit_rows += len(odd)
            flagged.update((sid, x) for x in odd)
            seen = " -> ".join(repr(u) for u in dict.fromkeys(s.units))
            shown = next(u for u, k in zip(s.units, ukeys, strict=True) if k == main)
            findings.append(make_finding(ds.name, sid, odd, end,
                                         f"unit changes within the series ({seen}); {len(odd)} rows not "
                                         f"in {shown!r}", "unit_change"))
        if previous is not None:
            before = previous.get(sid)
            old = before.value_map()
            other_unit = _other_units(before, ukeys)
            bad: list[int] = []
            for x, v, k in zip(p, s.values, ukeys, strict=True):
                o = old.get(x)
                if not (_num(o) and _num(v)):
                    continue
                if other_unit is not None and other_unit.get(x, k) != k:
                    unlike += 1  # another unit (a migration changed it): not comparable as a revision
                    continue
                compared += 1
                if v != o:
                    revised += 1
                    if abs(v - o) / max(abs(o), floor) > band:
                        bad.append(x)
            if bad:
                out_of_band += len(bad)
                flagged.update((sid, x) for x in bad)
                findings.append(make_finding(ds.name, sid, bad, end,
                                             f"{len(bad)} revisions change the value by more than "
                                             f"{band:.0%} of the version they replace", "revision"))
    rel_stats: list[dict[str, Any]] = []
    for ri in relations:
        f, keys, st = check_relation(ri, ds.name)
        findings.extend(f)
        flagged.update(("relation:" + k[0], k[1]) for k in keys)
        rel_stats.append({"total": ri.relation.total, "parts": ri.relation.parts,
                          "tolerance": ri.relation.tolerance, **st})
    stats = {"rows": rows, "duplicate_rows": dup_rows, "unit_change_rows": unit_rows,
             "revisions_compared": compared, "revised": revised, "revisions_out_of_band": out_of_band,
             "revisions_other_unit": unlike,
             "revision_band": band, "relations": rel_stats, "flagged": len(flagged)}
    return CheckResult("consistency", ratio_score(len(flagged), rows), findings, stats)
