"""Coverage per series and period for the dashboard's heatmap (docs/operations.md#dashboard).

The span is that of every committed watermark in the state, cut into at most MAX_COLUMNS equal
columns (whole days, or weeks of 7 days when the span is long). A cell's `loaded` is the share of
its time the series has committed; `failed` says a failed node of some operation covered that series
there. Status: loaded (all of it), failed (not all loaded and a node failed there), partial, missing.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from aurumplan.catalog import Catalog
from aurumplan.intervals import DAY, IntervalSet, fmt_ts, parse_ts
from aurumplan.state import SqlStateStore

MAX_COLUMNS = 60
MAX_ROWS = 200

Key = tuple[str, str, str]  # (source, dataset, series)


def _failed_windows(store: SqlStateStore) -> dict[Key, list[tuple[int, int]]]:
    """(source, dataset, series) -> windows of extract nodes that failed, over every operation."""
    out: dict[Key, list[tuple[int, int]]] = defaultdict(list)
    for op in store.list_operations():
        failed = {c.node_id for c in store.checkpoints(op.id) if c.status == "failed"}
        if not failed or not op.plan:
            continue
        for node in json.loads(op.plan)["graph"]["nodes"]:
            if node["id"] in failed and "window" in node:
                s, e = parse_ts(node["window"][0]), parse_ts(node["window"][1])
                for sid in node.get("series", []):
                    out[(op.source, node["dataset"], sid)].append((s, e))
    return out


def coverage(store: SqlStateStore, catalog: Catalog) -> dict[str, Any]:
    """{"columns": [start of each column], "column_seconds", "rows": [{source, dataset, series, cells}]}."""
    rows_of: dict[Key, list[tuple[int, int]]] = defaultdict(list)
    for source in sorted(catalog.sources):
        for row in store.watermark_rows(source):
            rows_of[(row.source, row.dataset, row.series_id)].append((row.start, row.end))
    loaded = {k: IntervalSet(v) for k, v in rows_of.items()}
    failed = _failed_windows(store)
    keys = sorted({*loaded, *failed})[:MAX_ROWS]
    spans: list[int] = []
    for k in keys:
        span = loaded.get(k, IntervalSet()).span
        if span:
            spans.extend(span)
        spans.extend(x for w in failed.get(k, []) for x in w)
    if not spans:
        return {"columns": [], "column_seconds": 0, "rows": []}
    start = int(min(spans) // DAY * DAY)
    end = int(max(spans))
    days = max(1, math.ceil((end - start) / DAY))
    step = DAY * (1 if days <= MAX_COLUMNS else 7 * math.ceil(days / 7 / MAX_COLUMNS))
    columns = list(range(start, end, step))
    rows = []
    for k in keys:
        have = loaded.get(k, IntervalSet())
        bad = IntervalSet(failed.get(k, []))
        cells = []
        for c in columns:
            cell = IntervalSet([(c, c + step)])
            share = round(sum(e - s for s, e in (have & cell)) / step, 4)
            hit = bool(bad & cell)
            status = "loaded" if share >= 1 else "failed" if hit else "partial" if share > 0 else "missing"
            cells.append({"loaded": share, "failed": hit, "status": status})
        rows.append({"source": k[0], "dataset": k[1], "series": k[2], "cells": cells})
    return {"columns": [fmt_ts(c) for c in columns], "column_seconds": step, "rows": rows}
