"""Period labels of each API <-> the UTC period start aurumplan stores (docs/sources.md, "Period conventions").

Kept apart from the drivers so the conventions live in one place and are tested once:
FRED/NOAA/EIA-monthly dates are period starts, BLS `M01..M12` are months, PJM's EPT filters
are local wall-clock bounds that a UTC window must be translated into.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aurumplan.intervals import HOUR, Grain, from_ts, to_ts

EPT = ZoneInfo("America/New_York")
PJM_FORMAT = "%m/%d/%Y %H:%M"


def date_label(ts: int) -> str:
    """`YYYY-MM-DD` of the UTC day ts falls in."""
    return from_ts(ts).strftime("%Y-%m-%d")


def last_period_start(grain: Grain, end: int) -> int:
    """Start of the last period of [start, end): what an inclusive-end API must be asked for."""
    return grain.floor(end - 1)


def date_start(text: str) -> int:
    """A `YYYY-MM-DD` (optionally `THH:MM:SS`, naive) date as its UTC midnight."""
    return to_ts(dt.date.fromisoformat(str(text)[:10]))


def bls_period_start(year: str | int, period: str) -> int | None:
    """BLS `year` + `M01..M12` as the month's UTC start; None for M13 (annual average) and non-months."""
    if len(period) != 3 or period[0] != "M" or not period[1:].isdigit():
        return None
    month = int(period[1:])
    if not 1 <= month <= 12:
        return None
    return to_ts(dt.date(int(year), month, 1))


def utc_naive_start(text: str) -> int:
    """PJM's naive ISO `datetime_beginning_utc` (`2023-11-05T05:00:00`) as epoch seconds."""
    return int(dt.datetime.fromisoformat(str(text)).replace(tzinfo=dt.UTC).timestamp())


def ept(ts: int) -> dt.datetime:
    """The EPT (America/New_York) wall-clock time of a UTC instant."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).astimezone(EPT)


def pjm_filter(start: int, end: int) -> str:
    """`MM/DD/YYYY HH:MMtoMM/DD/YYYY HH:MM` for the hours beginning in [start, end), end inclusive.

    The API compares naive EPT stamps, so the inclusive end is the beginning of the window's last
    hour; on a fall-back day a bound at the repeated hour also admits its twin, which the driver
    drops again by the UTC period.
    """
    return f"{ept(start).strftime(PJM_FORMAT)}to{ept(end - HOUR).strftime(PJM_FORMAT)}"


def ept_year_start(year: int) -> int:
    """UTC instant of EPT midnight on January 1st of year."""
    return int(dt.datetime(year, 1, 1, tzinfo=EPT).timestamp())


def ept_year_cuts(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) split wherever an EPT calendar year begins."""
    out: list[tuple[int, int]] = []
    cur = start
    while cur < end:
        nxt = min(end, ept_year_start(ept(cur).year + 1))
        out.append((cur, nxt))
        cur = nxt
    return out
