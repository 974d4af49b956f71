"""The seam through which planning asks a source which observations were revised (Reprocess `incremental`).

A source that publishes revision information (the catalog's `revision_fields`; FRED: `realtime_start`,
its ALFRED real-time periods) has a driver with `revised_since`: at plan time it asks the API which
periods of each series got a new value on or after `since`, and on which revision dates. Planning knows
drivers only through this protocol (like `compile/requests.py`), so `compile/` never imports `sources/`.
See docs/replay.md, "Incremental".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.compile.requests import planner_for
from aurumplan.intervals import Grain, IntervalSet

SHOWN_DATES = 6
"""Revision dates a reason lists in full; longer lists show the first and last few and the count."""


@dataclass(frozen=True)
class Revised:
    """What the source says changed in one series since `since`."""

    signal: str  # what chose the periods, as a reason names it, e.g. "FRED vintage dates"
    periods: Mapping[int, tuple[str, ...]]  # period start -> the revision dates that published a new value


class RevisionReader(Protocol):
    """What a driver provides when its source publishes revision information."""

    revision_fields: tuple[str, ...]  # the `incremental.field` names it reads (catalog `revision_fields`)

    def revised_since(self, source: SourceDef, dataset: DatasetDef, spans: Mapping[str, tuple[int, int]],
                      since: dt.date, recordings: Path | None) -> dict[str, Revised]:
        """Per series, what changed inside its span [start, end) on or after `since`."""


def revision_reader(driver: str) -> RevisionReader | None:
    """The driver's revision reader, or None when its API publishes no revision information."""
    planner = planner_for(driver)
    return planner if callable(getattr(planner, "revised_since", None)) else None  # type: ignore[return-value]


def _dates_text(dates: tuple[str, ...]) -> str:
    if len(dates) <= SHOWN_DATES:
        return ", ".join(dates)
    return f"{', '.join(dates[:3])}, ..., {', '.join(dates[-2:])}: {len(dates)} dates"


def selections(revised: Revised, since: str, grain: Grain) -> list[tuple[IntervalSet, str]]:
    """The revised periods grouped by the revision dates that chose them, each group with its reason:
    `revised since 2024-11-01 (FRED vintage dates 2024-11-13, 2024-12-11)`."""
    groups: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for start, dates in sorted(revised.periods.items()):
        groups.setdefault(tuple(sorted(set(dates))), []).append((start, grain.add(start, 1)))
    return [(IntervalSet(ivs), f"revised since {since} ({revised.signal} {_dates_text(dates)})")
            for dates, ivs in sorted(groups.items(), key=lambda kv: kv[1][0])]
