"""Completeness: which expected periods each series has, with a value.

Score = (expected periods present with a non-NULL value, summed over series)
        / (expected periods x series judged).
A missing period and a present period whose value is NULL are counted and reported separately;
both lower the score. Periods present but not expected (misaligned, weekend on a weekday
calendar, outside the dataset's availability) are counted in stats as `unexpected`, not scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from aurumplan.catalog.models import DatasetDef
from aurumplan.quality.expected import expected_periods, period_end
from aurumplan.quality.frame import DatasetFrame
from aurumplan.quality.model import CheckResult, Finding, make_finding


def check_completeness(ds: DatasetDef, frame: DatasetFrame, series: Sequence[str]) -> CheckResult:
    """Expected vs present periods for every series in `series`."""
    expected = expected_periods(ds, frame.window)
    exp_set = set(expected)
    end = partial(period_end, ds)
    findings: list[Finding] = []
    good = missing_total = null_total = unexpected_total = 0
    per_series: dict[str, dict[str, int]] = {}
    for sid in series:
        s = frame.get(sid)
        with_value: set[int] = set()
        nulls: set[int] = set()
        for p, v in zip(s.periods, s.values, strict=True):
            if v is None:
                nulls.add(p)
            else:
                with_value.add(p)
        nulls -= with_value
        present = with_value | nulls
        missing = [p for p in expected if p not in present]
        null_exp = sorted(p for p in nulls if p in exp_set)
        unexpected = len(present - exp_set)
        n_good = len(with_value & exp_set)
        good += n_good
        missing_total += len(missing)
        null_total += len(null_exp)
        unexpected_total += unexpected
        per_series[sid] = {"expected": len(expected), "present": len(present & exp_set),
                           "with_value": n_good, "missing": len(missing), "null": len(null_exp)}
        if missing:
            findings.append(make_finding(ds.name, sid, missing, end,
                                         f"{len(missing)} of {len(expected)} periods missing", "missing"))
        if null_exp:
            findings.append(make_finding(ds.name, sid, null_exp, end,
                                         f"{len(null_exp)} periods present with NULL value", "null"))
    total = len(expected) * len(series)
    stats = {"expected_periods": len(expected), "series": len(series), "expected": total,
             "present_with_value": good, "missing_periods": missing_total, "null_values": null_total,
             "unexpected_periods": unexpected_total, "per_series": per_series}
    return CheckResult("completeness", good / total if total else 1.0, findings, stats)
