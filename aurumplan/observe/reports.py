"""`cost` and `trends`: sums and statistics over operation figures (docs/operations.md#cost).

Both read OpFigures (fleet.py), so they agree with `metrics` and the dashboard. An operation
belongs to a range by when it was created.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aurumplan.config import CostConfig
from aurumplan.errors import AurumError
from aurumplan.intervals import DAY, parse_ts
from aurumplan.observe.fleet import OpFigures

GROUPS = ("kind", "source", "owner")
ENDED = frozenset(("succeeded", "failed", "halted", "cancelled", "rolled_back"))
FAILED = frozenset(("failed", "halted"))
_AGO = re.compile(r"^(\d+)([dhm])$")
_UNIT = {"d": DAY, "h": 3600, "m": 60}


def parse_range(text: str, now: float | None = None) -> tuple[float, float]:
    """`7d` / `12h` / `30m` (up to now) or `START:END` dates (END inclusive when a date) as [start, end)."""
    at = time.time() if now is None else now
    m = _AGO.match(text.strip())
    if m:
        return at - int(m.group(1)) * _UNIT[m.group(2)], at
    parts = text.split(":", 1) if text.count(":") == 1 else text.split("..", 1)
    try:
        a, b = parts
        start, end = parse_ts(a), parse_ts(b) + (DAY if len(b.strip()) == 10 else 0)
    except ValueError:
        raise AurumError(f"invalid --range '{text}': use 7d, 12h, or START:END dates, "
                         "e.g. 2024-12-01:2024-12-31") from None
    if end <= start:
        raise AurumError(f"invalid --range '{text}': END is before START")
    return float(start), float(end)


def in_range(ops: Iterable[OpFigures], start: float, end: float, source: str | None = None) -> list[OpFigures]:
    return [o for o in ops if start <= o.created_at < end and (source is None or o.source == source)]


def money(o: OpFigures, prices: CostConfig) -> float:
    """requests/1000 x the source's price + GB x per_gb + wall hours x per_hour."""
    return (o.requests / 1000 * prices.per_1000_requests.get(o.source, 0.0) + o.bytes / 1e9 * prices.per_gb
            + o.duration_seconds / 3600 * prices.per_hour)


SUMMED = ("requests", "bytes", "records", "duration_seconds", "cpu_seconds", "quota_days")
ROUNDED = {"duration_seconds": 3, "cpu_seconds": 3, "quota_days": 4, "cost": 6}


def cost(ops: list[OpFigures], group_by: str, prices: CostConfig) -> dict[str, Any]:
    """Per group: operations, API calls, bytes, records, wall and CPU seconds, quota-days and money; and
    the total."""
    if group_by not in GROUPS:
        raise AurumError(f"invalid --group-by '{group_by}': use one of {', '.join(GROUPS)}")
    rows: dict[str, dict[str, Any]] = {}
    for o in ops:
        key = getattr(o, group_by) or "(none)"
        r = rows.setdefault(key, _zero(group_by, key))
        r["operations"] += 1
        for k in SUMMED:
            r[k] += getattr(o, k)
        r["cost"] += money(o, prices)
    total = _zero(group_by, "total")
    out = []
    for _, r in sorted(rows.items()):
        for k, n in ROUNDED.items():
            r[k] = round(r[k], n)
        for k in total:
            if k != group_by:
                total[k] += r[k]
        out.append(r)
    for k, n in ROUNDED.items():
        total[k] = round(total[k], n)
    return {"group_by": group_by, "currency": prices.currency, "rows": out, "total": total}


def _zero(group_by: str, key: str) -> dict[str, Any]:
    return {group_by: key, "operations": 0, "requests": 0, "bytes": 0, "records": 0, "duration_seconds": 0.0,
            "cpu_seconds": 0.0, "quota_days": 0.0, "cost": 0.0}


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def trends(ops: list[OpFigures]) -> list[dict[str, Any]]:
    """Per kind and source: operations, avg and p95 duration and throughput of ended ones, and error rate.

    error_rate: share of ended operations that failed or halted; retry_rate: retries per request.
    """
    groups: dict[tuple[str, str], list[OpFigures]] = defaultdict(list)
    for o in ops:
        groups[(o.kind, o.source)].append(o)
    out = []
    for (kind, source), members in sorted(groups.items()):
        ended = [o for o in members if o.status in ENDED]
        durations = [o.duration_seconds for o in ended]
        seconds = sum(durations)
        requests = sum(o.requests for o in members)
        out.append({
            "kind": kind, "source": source, "operations": len(members), "ended": len(ended),
            "failed": sum(o.status in FAILED for o in ended),
            "avg_duration_seconds": round(seconds / len(ended), 3) if ended else None,
            "p95_duration_seconds": p95(durations),
            "error_rate": round(sum(o.status in FAILED for o in ended) / len(ended), 4) if ended else None,
            "retry_rate": round(sum(o.retries for o in members) / requests, 4) if requests else None,
            "records_per_second": round(sum(o.records for o in ended) / seconds, 3) if seconds else None,
            "requests_per_second": round(sum(o.requests for o in ended) / seconds, 3) if seconds else None,
        })
    return out
