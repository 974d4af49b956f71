"""What a quality check returns: findings that name series and coalesced period ranges, and a score.

Findings carry intervals, not period lists, so a ten-year gap is one item; a finding lists at most
MAX_INTERVALS of them and says how many periods it covers in total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aurumplan.intervals import Interval, IntervalSet, fmt_ts

MAX_INTERVALS = 20
CHECKS = ("completeness", "accuracy", "consistency", "schema")


@dataclass(frozen=True)
class Finding:
    """One problem of one series: which periods, what is wrong, how many periods it covers."""

    dataset: str
    series_id: str
    periods: tuple[Interval, ...]
    message: str
    kind: str = ""
    count: int = 0
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "series_id": self.series_id, "kind": self.kind,
                "count": self.count, "message": self.message,
                "periods": [[fmt_ts(s), fmt_ts(e)] for s, e in self.periods],
                "truncated": self.truncated}

    def describe(self) -> str:
        """One line for terminals: `series: message [a..b, c..d, ...]`."""
        shown = ", ".join(f"{fmt_ts(s)}..{fmt_ts(e)}" for s, e in self.periods[:3])
        more = " ..." if len(self.periods) > 3 or self.truncated else ""
        return f"{self.series_id}: {self.message} [{shown}{more}]"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check over one dataset: a score in [0, 1], findings and raw figures."""

    name: str
    score: float
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": round(self.score, 6), "stats": self.stats,
                "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class DatasetQuality:
    """The checks of one dataset and their weighted score (weights renormalised over the checks run)."""

    source: str
    dataset: str
    window: Interval
    score: float
    results: dict[str, CheckResult]
    weights: dict[str, float]
    load_ids: tuple[str, ...] = ()

    def passed(self, threshold: float) -> bool:
        return self.score >= threshold

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results.values() for f in r.findings]

    def to_dict(self, threshold: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source, "dataset": self.dataset,
            "window": [fmt_ts(self.window[0]), fmt_ts(self.window[1])],
            "load_ids": list(self.load_ids), "score": round(self.score, 6),
            "weights": self.weights, "checks": {k: r.to_dict() for k, r in self.results.items()}}
        if threshold is not None:
            out["threshold"] = threshold
            out["passed"] = self.passed(threshold)
        return out


def weighted_score(scores: Mapping[str, float], weights: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    """Weighted mean of the scores, weights renormalised over the checks that ran.

    A check without a weight counts 0; if every selected weight is 0 the plain mean is used.
    Returns the score and the weights actually applied (summing to 1).
    """
    if not scores:
        return 1.0, {}
    raw = {k: max(0.0, float(weights.get(k, 0.0))) for k in scores}
    total = sum(raw.values())
    applied = {k: w / total for k, w in raw.items()} if total > 0 else {k: 1 / len(raw) for k in raw}
    return sum(scores[k] * w for k, w in applied.items()), applied


def coalesce(periods: Iterable[int], period_end: Callable[[int], int]) -> IntervalSet:
    """Periods (starts) as a set of half-open intervals, adjacent periods merged."""
    return IntervalSet((p, period_end(p)) for p in periods)


def make_finding(dataset: str, series_id: str, periods: list[int], period_end: Callable[[int], int],
                 message: str, kind: str) -> Finding:
    """A finding over the given period starts, coalesced and capped at MAX_INTERVALS intervals."""
    ivs = coalesce(periods, period_end).intervals
    return Finding(dataset, series_id, ivs[:MAX_INTERVALS], message, kind, len(periods),
                   len(ivs) > MAX_INTERVALS)


def ratio_score(bad: int, total: int) -> float:
    """1 - bad/total clipped to [0, 1]; nothing to judge scores 1."""
    if total <= 0:
        return 1.0
    return min(1.0, max(0.0, 1.0 - bad / total))
