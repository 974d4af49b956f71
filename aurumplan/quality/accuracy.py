"""Accuracy: values inside the dataset's physical range, finite, and not robust outliers.

Outliers are found with a Hampel filter: for each value, the median and the MAD (median absolute
deviation) of the centred window of `window_size` + 1 neighbouring finite values (itself
included); it is an outlier when |x - median| > k * 1.4826 * MAD. k is `threshold` if given,
else 3 / `sensitivity` (sensitivity in (0, 1], default 0.8, so k = 3.75; higher sensitivity
flags more). Where the MAD is 0 (a flat window) 1.2533 * mean absolute deviation stands in;
a value equal to a flat window's median is never an outlier.

The window is a sorted list kept with bisect, and the MAD is only computed exactly when a cheap
bound says the value may be an outlier, so n values cost O(n log w) in pure Python.
Score = 1 - (values flagged by any rule) / (non-NULL values).

A series with fewer than MIN_OUTLIER_VALUES finite values is not judged for outliers: the median
and MAD of a handful of points are themselves noise (over 3 points one ordinary value is always
"far"), so a short window of correct data would fail the gate. Such a series gets a `not_judged`
finding, "not enough data to judge outliers", which does not lower the score (docs/quality.md).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from aurumplan.catalog.models import DatasetDef
from aurumplan.quality.expected import period_end
from aurumplan.quality.frame import DatasetFrame
from aurumplan.quality.model import CheckResult, Finding, make_finding, ratio_score

MAD_SCALE = 1.4826
MEANAD_SCALE = 1.2533
MIN_OUTLIER_VALUES = 8
"""Fewest finite values of a series before the Hampel filter is trusted to call one an outlier."""


@dataclass(frozen=True)
class OutlierParams:
    window_size: int = 24
    sensitivity: float = 0.8
    threshold: float | None = None

    @property
    def k(self) -> float:
        return self.threshold if self.threshold is not None else 3.0 / self.sensitivity

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> OutlierParams:
        ws = int(params.get("window_size", 24))
        sens = float(params.get("sensitivity", 0.8))
        thr = params.get("threshold")
        if ws < 2:
            raise ValueError("window_size must be >= 2")
        if not 0 < sens <= 1:
            raise ValueError("sensitivity must be in (0, 1]")
        if thr is not None and float(thr) <= 0:
            raise ValueError("threshold must be > 0")
        return cls(ws, sens, None if thr is None else float(thr))


def hampel_outliers(values: Sequence[float], window_size: int, k: float) -> list[int]:
    """Indexes of values that are outliers against their centred window (see module doc)."""
    n = len(values)
    if n < 3:
        return []
    h = max(1, window_size // 2)
    win = sorted(values[: min(n, h + 1)])
    lo_idx, hi_idx = 0, min(n, h + 1)  # window = values[lo_idx:hi_idx]
    out: list[int] = []
    insort, bl, br = bisect.insort, bisect.bisect_left, bisect.bisect_right
    scale = k * MAD_SCALE
    for i in range(n):
        want_lo, want_hi = max(0, i - h), min(n, i + h + 1)
        while hi_idx < want_hi:
            insort(win, values[hi_idx])
            hi_idx += 1
        while lo_idx < want_lo:
            del win[bl(win, values[lo_idx])]
            lo_idx += 1
        m = len(win)
        med = win[m // 2] if m % 2 else (win[m // 2 - 1] + win[m // 2]) / 2
        dev = abs(values[i] - med)
        if dev == 0:
            continue
        r = dev / scale
        # MAD >= the lower middle deviation; fewer than half the window within r of the median
        # means MAD >= r, so the value cannot be an outlier: the common, cheap case.
        if bl(win, med + r) - br(win, med - r) < (m + 1) // 2:
            continue
        devs = sorted(abs(v - med) for v in win)
        mad = devs[m // 2] if m % 2 else (devs[m // 2 - 1] + devs[m // 2]) / 2
        spread = mad * MAD_SCALE if mad > 0 else MEANAD_SCALE * sum(devs) / m
        if spread > 0 and dev > k * spread:
            out.append(i)
    return out


def check_accuracy(ds: DatasetDef, frame: DatasetFrame, series: Sequence[str],
                   params: dict[str, Any] | None = None) -> CheckResult:
    """Range, finiteness and outlier rules over every series in `series`."""
    op = OutlierParams.from_params(params or {})
    lo, hi = ds.value_range or (None, None)
    end = partial(period_end, ds)
    findings: list[Finding] = []
    total = bad_total = below_t = above_t = nonfinite_t = outlier_t = 0
    not_judged: list[str] = []
    isfinite = math.isfinite
    for sid in series:
        s = frame.get(sid)
        below: list[int] = []
        above: list[int] = []
        nonfinite: list[int] = []
        fin_vals: list[float] = []
        fin_periods: list[int] = []
        for p, v in zip(s.periods, s.values, strict=True):
            if v is None or not isinstance(v, int | float):
                continue
            total += 1
            if not isfinite(v):
                nonfinite.append(p)
                continue
            if lo is not None and v < lo:
                below.append(p)
            elif hi is not None and v > hi:
                above.append(p)
            fin_vals.append(v)
            fin_periods.append(p)
        if len(fin_vals) >= MIN_OUTLIER_VALUES:
            outliers = [fin_periods[i] for i in hampel_outliers(fin_vals, op.window_size, op.k)]
        else:
            outliers = []
            if fin_vals:
                not_judged.append(sid)
                findings.append(make_finding(
                    ds.name, sid, fin_periods, end, f"not enough data to judge outliers ({len(fin_vals)} values, "
                                                    f"need {MIN_OUTLIER_VALUES})", "not_judged"))
        flagged = set(below) | set(above) | set(nonfinite) | set(outliers)
        bad_total += len(flagged)
        below_t += len(below)
        above_t += len(above)
        nonfinite_t += len(nonfinite)
        outlier_t += len(outliers)
        for periods, kind, msg in (
                (nonfinite, "non_finite", "non-finite values (NaN or infinity)"),
                (below, "below_range", f"values below the minimum {lo}"),
                (above, "above_range", f"values above the maximum {hi}"),
                (outliers, "outlier", f"outliers (|x - median| > {op.k:g} x 1.4826 x MAD, "
                                      f"window {op.window_size})")):
            if periods:
                findings.append(make_finding(ds.name, sid, periods, end, f"{len(periods)} {msg}", kind))
    stats = {"values": total, "flagged": bad_total, "below_range": below_t, "above_range": above_t,
             "non_finite": nonfinite_t, "outliers": outlier_t, "value_range": [lo, hi],
             "window_size": op.window_size, "k": op.k, "outliers_not_judged": not_judged}
    return CheckResult("accuracy", ratio_score(bad_total, total), findings, stats)
