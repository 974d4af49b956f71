"""Pattern comparison of two days (runbook 1.6.2): is a backfilled day shaped like a reference day?

Per series the values of each day are lined up by their position in the day (00:00, 01:00, ...
UTC); only positions with a value on both days count. The figures are the Pearson correlation
of the two shapes, the relative difference of the means and of the peaks (maxima). A series is
`ok` when every figure is within its limit, `differs` otherwise, `missing` when a day has no
value for it (docs/quality.md, "Comparing patterns").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from aurumplan.intervals import DAY, fmt_ts
from aurumplan.warehouse.reads import day_values

MIN_POINTS = 3
"""Fewer common positions than this give no correlation (two points always correlate ±1)."""


@dataclass(frozen=True)
class Limits:
    """When a day differs: defaults are those of `aurumplan compare` (docs/quality.md)."""

    min_correlation: float = 0.8
    max_mean_diff: float = 0.2
    max_peak_diff: float = 0.25


@dataclass(frozen=True)
class SeriesPattern:
    series_id: str
    verdict: str  # ok | differs | missing
    points: int
    correlation: float | None = None
    mean_reference: float | None = None
    mean_against: float | None = None
    mean_diff: float | None = None
    peak_reference: float | None = None
    peak_against: float | None = None
    peak_diff: float | None = None
    peak_at_reference: str | None = None
    peak_at_against: str | None = None
    reasons: list[str] = field(default_factory=list)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Correlation of two equal-length sequences; None when too short or either is flat."""
    n = len(xs)
    if n < MIN_POINTS:
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def _relative(new: float, old: float) -> float | None:
    """(new - old) / |old|; None when old is 0 (then 0 only if new is 0 too)."""
    if old == 0:
        return 0.0 if new == 0 else None
    return (new - old) / abs(old)


def _hhmm(offset: int) -> str:
    return f"{offset // 3600:02d}:{offset % 3600 // 60:02d}"


def compare_series(series_id: str, reference: Mapping[int, float], against: Mapping[int, float],
                   ref_day: int, against_day: int, limits: Limits) -> SeriesPattern:
    """One series' figures and verdict; values keyed by epoch seconds inside their day."""
    ref = {ts - ref_day: v for ts, v in reference.items()}
    new = {ts - against_day: v for ts, v in against.items()}
    if not ref or not new:
        where = "either date" if not ref and not new else "the reference date" if not ref else "the compared date"
        return SeriesPattern(series_id, "missing", 0, reasons=[f"no values on {where}"])
    common = sorted(set(ref) & set(new))
    if not common:
        return SeriesPattern(series_id, "missing", 0, reasons=["no period of the day has a value on both dates"])
    xs, ys = [ref[o] for o in common], [new[o] for o in common]
    corr = pearson(xs, ys)
    m_ref, m_new = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    p_ref, p_new = max(xs), max(ys)
    mean_diff, peak_diff = _relative(m_new, m_ref), _relative(p_new, p_ref)
    reasons = []
    if corr is not None and corr < limits.min_correlation:
        reasons.append(f"correlation {corr:.3f} < {limits.min_correlation}")
    if mean_diff is None or abs(mean_diff) > limits.max_mean_diff:
        reasons.append(f"mean {m_ref:g} -> {m_new:g}" + ("" if mean_diff is None else f" ({mean_diff:+.1%})")
                       + f", limit ±{limits.max_mean_diff:.0%}")
    if peak_diff is None or abs(peak_diff) > limits.max_peak_diff:
        reasons.append(f"peak {p_ref:g} -> {p_new:g}" + ("" if peak_diff is None else f" ({peak_diff:+.1%})")
                       + f", limit ±{limits.max_peak_diff:.0%}")
    return SeriesPattern(
        series_id, "differs" if reasons else "ok", len(common),
        correlation=None if corr is None else round(corr, 6),
        mean_reference=round(m_ref, 6), mean_against=round(m_new, 6),
        mean_diff=None if mean_diff is None else round(mean_diff, 6),
        peak_reference=p_ref, peak_against=p_new,
        peak_diff=None if peak_diff is None else round(peak_diff, 6),
        peak_at_reference=_hhmm(common[xs.index(p_ref)]), peak_at_against=_hhmm(common[ys.index(p_new)]),
        reasons=reasons)


def compare_days(conn: Connection, source: str, dataset: str, reference: int, against: int,
                 series: Sequence[str], limits: Limits) -> dict[str, Any]:
    """Every named series compared between the UTC days starting at `reference` and `against`,
    read from the active version; `series` empty = every series with a value on either day."""
    ref = day_values(conn, source, dataset, (reference, reference + DAY), series or None)
    new = day_values(conn, source, dataset, (against, against + DAY), series or None)
    return compare_from_values(source, dataset, reference, against, ref, new, series, limits)


def compare_from_values(source: str, dataset: str, reference: int, against: int,
                        ref: Mapping[str, Mapping[int, float]], new: Mapping[str, Mapping[int, float]],
                        series: Sequence[str], limits: Limits) -> dict[str, Any]:
    """The result `compare` prints, from each day's values per series."""
    names = sorted(set(series) if series else set(ref) | set(new))
    results = [compare_series(s, ref.get(s, {}), new.get(s, {}), reference, against, limits) for s in names]
    counts = {v: sum(r.verdict == v for r in results) for v in ("ok", "differs", "missing")}
    return {
        "source": source, "dataset": dataset,
        "reference": fmt_ts(reference)[:10], "against": fmt_ts(against)[:10],
        "limits": asdict(limits), "series": [asdict(r) for r in results], "counts": counts,
        "ok": bool(results) and counts["ok"] == len(results),
    }


def render_patterns(out: Mapping[str, Any]) -> str:
    """The terminal table of `compare`: one line per series, then why each differing one differs."""
    lim = out["limits"]
    lines = [f"Pattern of '{out['source']}' {out['dataset']}: {out['against']} against reference {out['reference']} "
             f"(correlation >= {lim['min_correlation']}, mean within ±{lim['max_mean_diff']:.0%}, "
             f"peak within ±{lim['max_peak_diff']:.0%})", ""]
    rows = out["series"]
    if not rows:
        return "\n".join([*lines, "No values on either date: nothing to compare."])
    w = max(6, *(len(r["series_id"]) for r in rows))
    lines.append(f"{'series':<{w}}  {'verdict':<7}  {'points':>6}  {'corr':>6}  {'mean diff':>9}  "
                 f"{'peak diff':>9}  peak at")

    def num(x: float | None, pct: bool = False) -> str:
        return "n/a" if x is None else f"{x:+.1%}" if pct else f"{x:.3f}"

    for r in rows:
        peak_at = f"{r['peak_at_reference']} -> {r['peak_at_against']}" if r["peak_at_reference"] else ""
        lines.append(f"{r['series_id']:<{w}}  {r['verdict']:<7}  {r['points']:>6}  {num(r['correlation']):>6}  "
                     f"{num(r['mean_diff'], True):>9}  {num(r['peak_diff'], True):>9}  {peak_at}".rstrip())
    lines += [f"  - {r['series_id']}: {'; '.join(r['reasons'])}" for r in rows if r["reasons"]]
    c = out["counts"]
    lines += ["", f"{c['ok']} ok, {c['differs']} differ, {c['missing']} missing."]
    return "\n".join(lines)
