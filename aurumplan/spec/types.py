"""The typed scalars of a spec: durations, dates/datetimes, hour selections, rate limits, zones.

Each parser accepts exactly what an operator would write in YAML (and what a YAML loader hands
over: `2024-01-01` arrives as a date, an unquoted timestamp as a datetime) and raises ValueError
with a message that says how to fix the value. The JSON schema of each type is declared here too,
so that `schemas/operation.schema.json` accepts what the parsers accept.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from aurumplan.yamlpos import did_you_mean

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_DURATION_SECONDS = 100 * 366 * 86400.0  # a century: anything longer is a typo
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"
WHEN_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"
DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
_H = r"(?:[01]?\d|2[0-3])"
HOURS_PATTERN = rf"^\s*{_H}\s*(-\s*{_H}\s*|(,\s*{_H}\s*)*)$"


def parse_duration(value: Any) -> dt.timedelta:
    """`500ms`, `10s`, `5m`, `1h`, `1d`, or a bare number of seconds, as a timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: use a number with a unit, e.g. 10s, 5m, 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"invalid duration {value!r}: must not be negative")
        seconds = float(value)
    else:
        m = _DURATION.match(value) if isinstance(value, str) else None
        if not m:
            raise ValueError(f"invalid duration {value!r}: use a number with a unit ms, s, m, h or d "
                             "(e.g. 500ms, 10s, 5m, 1h, 1d)")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2) or "s"]
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"invalid duration {value!r}: longer than a century; use a shorter one (e.g. 5m)")
    return dt.timedelta(seconds=seconds)


def format_duration(value: dt.timedelta) -> str:
    """The shortest exact `10s`/`5m`/`1h`/`1d`/`500ms` form; parse_duration reads it back."""
    ms = round(value.total_seconds() * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _to_utc(value: dt.datetime) -> dt.datetime:
    """An offset datetime as an aware UTC datetime; naive ones stay naive (= spec.timezone)."""
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value


def _parse_iso(text: str) -> dt.date | dt.datetime:
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text)


def parse_when(value: Any) -> dt.date | dt.datetime:
    """A date (`2024-01-01`) or datetime (`2024-01-01T09:00`, with optional Z/offset)."""
    if isinstance(value, dt.datetime):
        return _to_utc(value)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.match(WHEN_PATTERN, value.strip()):
        try:
            parsed = _parse_iso(value)
        except ValueError as exc:
            raise ValueError(f"invalid date {value!r}: {exc}") from None
        return _to_utc(parsed) if isinstance(parsed, dt.datetime) else parsed
    raise ValueError(f"invalid date or datetime {value!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]")


def parse_date(value: Any) -> dt.date:
    """A calendar date only; a datetime is refused because a whole local day is meant."""
    parsed = parse_when(value)
    if isinstance(parsed, dt.datetime):
        raise ValueError(f"{value!s} is a datetime: use a calendar date YYYY-MM-DD "
                         "(or timeRange for a span of hours)")
    return parsed


def parse_datetime(value: Any) -> dt.datetime:
    """A datetime; a bare date is read as its midnight."""
    parsed = parse_when(value)
    if isinstance(parsed, dt.datetime):
        return parsed
    return dt.datetime(parsed.year, parsed.month, parsed.day)


def format_when(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    return value.isoformat()


def _hour(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"invalid hour {value!r}: use whole hours 0..23")
    try:
        h = int(value)
    except ValueError:
        raise ValueError(f"invalid hour {value!r}: use whole hours 0..23") from None
    if not 0 <= h <= 23:
        raise ValueError(f"hour {h} is out of range: use hours 0..23")
    return h


def parse_hours(value: Any) -> tuple[int, ...]:
    """`"10-16"` (inclusive), `[14, 15, 16]`, `"14,15"` or `14` as a sorted tuple of distinct hours."""
    if isinstance(value, str) and "-" in value:
        lo_text, _, hi_text = value.partition("-")
        lo, hi = _hour(lo_text.strip()), _hour(hi_text.strip())
        if hi < lo:
            raise ValueError(f"hours range {value!r} runs backwards: write low-high, e.g. 10-16")
        return tuple(range(lo, hi + 1))
    if isinstance(value, str) and "," in value:
        value = [v.strip() for v in value.split(",")]
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValueError("hours is empty: name at least one hour 0..23, or leave hours out for the whole day")
    return tuple(sorted({_hour(v) for v in items}))


def parse_rate_limit(value: Any) -> Literal["auto"] | float:
    """`auto` or requests per second > 0."""
    if value == "auto":
        return "auto"
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ValueError(f"invalid rateLimit {value!r}: use auto or a number of requests per second > 0 (e.g. 2.5)")


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def check_timezone(name: str) -> str:
    """An IANA zone name (UTC, America/New_York, ...); `utc` in any case is UTC."""
    if name.upper() == "UTC":
        return "UTC"
    if name in _zones():
        try:
            ZoneInfo(name)
            return name
        except (KeyError, ValueError, OSError):
            pass
    raise ValueError(f"unknown timezone '{name}'{did_you_mean(name, _zones())}: use an IANA name "
                     "such as UTC or America/New_York")


Duration = Annotated[
    dt.timedelta,
    PlainValidator(parse_duration),
    PlainSerializer(format_duration, when_used="json"),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": DURATION_PATTERN},
                              {"type": "number", "minimum": 0}],
                    "description": "500ms, 10s, 5m, 1h, 1d, or a number of seconds"}),
]
When = Annotated[
    dt.date | dt.datetime,
    PlainValidator(parse_when),
    PlainSerializer(format_when, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": WHEN_PATTERN,
                    "description": "YYYY-MM-DD, or an ISO datetime (naive = spec.timezone)"}),
]
Date = Annotated[
    dt.date,
    PlainValidator(parse_date),
    PlainSerializer(format_when, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD"}),
]
DateTime = Annotated[
    dt.datetime,
    PlainValidator(parse_datetime),
    PlainSerializer(format_when, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": WHEN_PATTERN,
                    "description": "ISO datetime (naive = spec.timezone); a date means its midnight"}),
]
Hours = Annotated[
    tuple[int, ...],
    PlainValidator(parse_hours),
    PlainSerializer(list, when_used="json"),
    WithJsonSchema({"anyOf": [
        {"type": "string", "pattern": HOURS_PATTERN},
        {"type": "integer", "minimum": 0, "maximum": 23},
        {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0, "maximum": 23}}],
        "description": "inclusive range \"10-16\", a list [14, 15, 16] or one hour; 0..23"}),
]
RateLimit = Annotated[
    Literal["auto"] | float,
    PlainValidator(parse_rate_limit),
    WithJsonSchema({"anyOf": [{"const": "auto"}, {"type": "number", "exclusiveMinimum": 0}],
                    "description": "auto, or requests per second"}),
]
