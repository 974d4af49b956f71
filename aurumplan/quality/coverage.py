"""Coverage: loaded records per dataset and UTC day (or month), against what the catalog expects.

expected = the dataset's expected periods starting in the bucket (grain, zone, calendar) times
its expected series (`expected_series`: the catalog's plus any loaded, or those --series names,
the same definition `check` judges by); share = records / expected
(None where nothing is expected). Without a window, a dataset's buckets run from its first to
its last loaded bucket; with one, every dataset of the source is shown over the window, widened
to whole buckets.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy.engine import Connection

from aurumplan.catalog import Catalog
from aurumplan.intervals import Interval, from_ts, to_ts
from aurumplan.quality.expected import ExpectedSeries, expected_periods, expected_series
from aurumplan.warehouse.reads import active_series, bucket_counts

RAMP = " .:-=+*#%@"
NOTHING_EXPECTED = "~"


@dataclass(frozen=True)
class CoverageRow:
    dataset: str
    bucket: str  # YYYY-MM-DD or YYYY-MM (UTC)
    start: int
    records: int
    with_value: int
    expected: int
    share: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _label(ts: int, monthly: bool) -> str:
    return from_ts(ts).strftime("%Y-%m" if monthly else "%Y-%m-%d")


def _start(label: str) -> int:
    return to_ts(dt.date.fromisoformat(label if len(label) == 10 else label + "-01"))


def _next(label: str, monthly: bool) -> str:
    d = dt.date.fromisoformat(label if len(label) == 10 else label + "-01")
    if monthly:
        return f"{d.year + d.month // 12:04d}-{d.month % 12 + 1:02d}"
    return (d + dt.timedelta(days=1)).isoformat()


def coverage(conn: Connection, catalog: Catalog, source: str, monthly: bool = False,
             dataset: str | None = None, window: Interval | None = None, *,
             series: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
             expected: dict[str, ExpectedSeries] | None = None) -> list[CoverageRow]:
    """Rows per dataset and bucket, ordered by dataset then bucket (see module doc).

    Records and expected periods are those of `expected_series`, narrowed by `series` (`--series`),
    or per dataset when it maps datasets to the series an operation loaded (others are left out);
    each dataset's is put in `expected` when given, so callers can state it.
    """
    per_op = series if isinstance(series, Mapping) else None
    src = catalog.source(source)
    if dataset is not None:
        catalog.dataset(source, dataset)
    wfirst = wlast = ""
    if window is not None:
        wfirst, wlast = _label(window[0], monthly), _label(window[1] - 1, monthly)
    labels = None if window is None else (wfirst, _next(wlast, monthly))
    if per_op is None:
        counts = bucket_counts(conn, source, monthly=monthly, dataset=dataset, labels=labels,
                               series=None if series is None else list(cast(Sequence[str], series)))
    else:  # each dataset counts only its own operation's series
        counts = {}
        for name in sorted(per_op) if dataset is None else [dataset] if dataset in per_op else []:
            counts.update(bucket_counts(conn, source, monthly=monthly, dataset=name, labels=labels,
                                        series=list(per_op[name])))
    loaded = active_series(conn, source)
    names = [dataset] if dataset is not None else sorted(set(counts) | (set(src.datasets) if window else set()))
    if per_op is not None:
        names = [n for n in names if n in per_op]
    out: list[CoverageRow] = []
    for name in names:
        buckets = counts.get(name, {})
        if window is not None:
            first, last = wfirst, wlast
        elif buckets:
            first, last = min(buckets), max(buckets)
        else:
            continue
        span = (_start(first), _start(_next(last, monthly)))
        ds = src.datasets.get(name)
        exp: Counter[str] = Counter()
        n_series = 0
        if ds is not None:
            want = (expected_series(ds, (), narrow=per_op[name], by="operation") if per_op is not None
                    else expected_series(ds, loaded.get(name, ()), narrow=cast(Sequence[str] | None, series)))
            if expected is not None:
                expected[name] = want
            n_series = len(want.series)
            exp = Counter(_label(p, monthly) for p in expected_periods(ds, span))
        label = first
        while label <= last:
            n, nv = buckets.get(label, (0, 0))
            e = exp.get(label, 0) * n_series
            out.append(CoverageRow(name, label, _start(label), n, nv, e, n / e if e else None))
            label = _next(label, monthly)
    return out


def _char(share: float | None) -> str:
    if share is None:
        return NOTHING_EXPECTED
    if share <= 0:
        return RAMP[0]
    if share >= 1:
        return RAMP[-1]
    return RAMP[1 + int(share * (len(RAMP) - 2))]


def heat_strip(rows: Iterable[CoverageRow], width: int = 100) -> str:
    """One text strip per dataset, one character per bucket, wrapped at width, with a legend."""
    by_ds: dict[str, list[CoverageRow]] = {}
    for r in rows:
        by_ds.setdefault(r.dataset, []).append(r)
    if not by_ds:
        return "no data"
    name_w = max(len(n) for n in by_ds)
    lines: list[str] = []
    for name, items in by_ds.items():
        exp = sum(r.expected for r in items)
        total = sum(r.records for r in items)
        share = f"{total / exp:.1%}" if exp else "n/a"
        lines.append(f"{name:<{name_w}}  {total:,} of {exp:,} expected records ({share})")
        for i in range(0, len(items), width):
            chunk = items[i:i + width]
            strip = "".join(_char(r.share) for r in chunk)
            lines.append(f"{'':<{name_w}}  {chunk[0].bucket} |{strip}| {chunk[-1].bucket}")
    step = 100 / (len(RAMP) - 2)
    levels = ", ".join(f"'{RAMP[i + 1]}' <{(i + 1) * step:g}%" for i in range(len(RAMP) - 2))
    lines.append(f"legend: ' ' none, {levels}, '{RAMP[-1]}' complete, "
                 f"'{NOTHING_EXPECTED}' nothing expected")
    return "\n".join(lines)
