"""Deterministic synthetic values: value(source, dataset, series, period) is a pure function.

An uninterrupted run and a resumed run against the fakes therefore load identical data. Tests
override single points to simulate a revision, a missing-value marker or a missing period.
Periods are int epoch seconds UTC of the period START (the warehouse's convention), whatever
label the API itself shows.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from aurumplan.intervals import parse_ts, to_ts


class Marker:
    """A special override value; rendered by each fake in its API's own way."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING = Marker("MISSING")
"""The API's missing-value marker: EIA "NA", FRED ".", BLS "-" (footnote X); NOAA drops the row."""
ABSENT = Marker("ABSENT")
"""The period is not served at all (no row)."""

Override = float | int | str | Marker | None
"""A number (a revision), a raw string shown verbatim, None (JSON null), MISSING or ABSENT."""


@dataclass(frozen=True)
class Profile:
    """Shape of a dataset's synthetic values: level, swing, cycle and decimals shown by the API."""

    level: float
    amplitude: float
    cycle: float
    noise: float
    decimals: int
    trend: float = 0.0


_YEAR = 365.25 * 86400
PROFILES: dict[tuple[str, str], Profile] = {
    ("eia", "electricity/rto/region-data"): Profile(30000, 8000, 86400, 600, 0),
    ("eia", "electricity/rto/fuel-type-data"): Profile(6000, 2000, 86400, 300, 0),
    ("eia", "electricity/retail-sales"): Profile(12, 2, _YEAR, 0.3, 2),
    ("fred", "series/observations"): Profile(100, 5, _YEAR, 0.5, 3, trend=2.5 / _YEAR),
    ("bls", "timeseries/data"): Profile(150, 3, _YEAR, 0.4, 3, trend=3.0 / _YEAR),
    ("noaa", "GHCND"): Profile(120, 140, _YEAR, 25, 0),
    ("pjm", "hrl_load_metered"): Profile(3000, 900, 86400, 80, 3),
}
SERIES_PROFILES: dict[tuple[str, str], Profile] = {
    # series whose real values live far from their dataset's shape (FRED serves every series on one route)
    ("fred", "UNRATE"): Profile(5.5, 1.2, 4 * _YEAR, 0.1, 1),
    ("fred", "DGS10"): Profile(3.0, 1.0, 3 * _YEAR, 0.05, 2),
}
DEFAULT_PROFILE = Profile(100, 10, 86400, 1, 3)
_EPOCH_2000 = 946684800


def _mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def period_ts(period: int | str | dt.date | dt.datetime) -> int:
    """Epoch seconds of a period start given as int, ISO text, date or datetime (naive = UTC)."""
    if isinstance(period, int):
        return period
    if isinstance(period, str):
        return parse_ts(period)
    return to_ts(period)


class Synth:
    """Seeded sine + noise per series, plus point overrides; safe to share between server threads."""

    def __init__(self, seed: int = 0, profiles: dict[tuple[str, str], Profile] | None = None) -> None:
        self.seed = seed
        self.profiles = {**PROFILES, **(profiles or {})}
        self._overrides: dict[tuple[str, str, str, int], Override] = {}
        self._series: dict[tuple[str, str, str], tuple[int, float, float]] = {}
        self._lock = threading.Lock()

    def profile(self, source: str, dataset: str, series: str | None = None) -> Profile:
        if series is not None and (source, series) in SERIES_PROFILES:
            return SERIES_PROFILES[(source, series)]
        return self.profiles.get((source, dataset), DEFAULT_PROFILE)

    def _params(self, source: str, dataset: str, series: str) -> tuple[int, float, float]:
        key = (source, dataset, series)
        params = self._series.get(key)
        if params is None:
            h = _mix(zlib.crc32(f"{source}|{dataset}|{series}".encode()) ^ (self.seed * 0x9E3779B1))
            scale = 0.6 + (h & 0xFFFF) / 0xFFFF * 0.8
            phase = ((h >> 16) & 0xFFFF) / 0xFFFF * 2 * math.pi
            params = (h, scale, phase)
            self._series[key] = params
        return params

    def series(self, source: str, dataset: str, series: str) -> Callable[[int], Override]:
        """A fast ts -> value function for one series (overrides included), for building big pages."""
        p = self.profile(source, dataset, series)
        h, scale, phase = self._params(source, dataset, series)
        level, trend, amp, omega, noise, dec = (scale * p.level, scale * p.trend, scale * p.amplitude,
                                                2 * math.pi / p.cycle, p.noise, p.decimals)
        overrides = self._overrides
        sin = math.sin

        def fn(ts: int) -> Override:
            if overrides:
                found = overrides.get((source, dataset, series, ts), fn)
                if found is not fn:
                    return found  # type: ignore[return-value]
            x = h ^ (ts & 0xFFFFFFFFFFFF)
            x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
            u = ((x ^ (x >> 31)) >> 11) / 9007199254740992.0 * 2.0 - 1.0
            return round(level + trend * (ts - _EPOCH_2000) + amp * sin(omega * ts + phase) + noise * u, dec)

        return fn

    def base(self, source: str, dataset: str, series: str, ts: int) -> float:
        """The generated value before overrides, rounded to the decimals the API shows."""
        p = self.profile(source, dataset, series)
        h, scale, phase = self._params(source, dataset, series)
        u = (_mix(h ^ (ts & 0xFFFFFFFFFFFF)) >> 11) / float(1 << 53) * 2.0 - 1.0
        v = scale * (p.level + p.trend * (ts - _EPOCH_2000)
                     + p.amplitude * math.sin(2 * math.pi * ts / p.cycle + phase)) + p.noise * u
        return round(v, p.decimals)

    def value(self, source: str, dataset: str, series: str, period: int | str | dt.date | dt.datetime
              ) -> Override:
        """What the API serves for that period: the override if one is set, else the generated value."""
        ts = period_ts(period)
        if self._overrides:
            found = self._overrides.get((source, dataset, series, ts), self)
            if found is not self:
                return found  # type: ignore[return-value]
        return self.base(source, dataset, series, ts)

    def override(self, source: str, dataset: str, series: str,
                 period: int | str | dt.date | dt.datetime, value: Override) -> None:
        """Serve `value` for that point from now on (a revision, MISSING, ABSENT, None or raw text)."""
        with self._lock:
            self._overrides[(source, dataset, series, period_ts(period))] = value

    def clear(self) -> None:
        """Drop every override."""
        with self._lock:
            self._overrides.clear()

    def overrides_for(self, source: str, dataset: str) -> dict[tuple[str, int], Override]:
        """(series, ts) -> override of one dataset; fakes use it to skip ABSENT rows cheaply."""
        return {(k[2], k[3]): v for k, v in list(self._overrides.items()) if k[0] == source and k[1] == dataset}

    def absent(self, source: str, dataset: str) -> set[tuple[str, int]]:
        """(series, ts) points that must not be served at all."""
        return {k for k, v in self.overrides_for(source, dataset).items() if v is ABSENT}
