"""Built-in algorithms (docs/replay.md, "Algorithms"): outlier replacement, gap interpolation, unit
normalisation. Each flags what it changed in the record's attributes, so the change stays explainable."""

from __future__ import annotations

import statistics
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

Rec = dict[str, Any]


def _flag(rec: Rec, tag: str, **extra: Any) -> Rec:
    attrs = dict(rec.get("attributes") or {})
    attrs.update({"algorithm": tag, **extra})
    return {**rec, "attributes": attrs}


class OutlierReplacement:
    """A value further than `threshold` scaled MADs from its rolling median is replaced by that median."""

    name: ClassVar[str] = "outlier_replacement"
    version: ClassVar[str] = "1"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        window_size: int = Field(default=24, ge=3, description="records in the rolling window (centred); "
                                 "the gate's accuracy check uses the same")
        threshold: float = Field(default=3.5, gt=0, description="scaled MADs from the median that make an outlier; "
                                 "the gate's accuracy check uses the same")

    def run(self, records: list[Rec], params: Any) -> list[Rec]:
        p = params if isinstance(params, self.Params) else self.Params.model_validate(params or {})
        out = list(records)
        for i, med, x in _outliers(records, p.window_size, p.threshold):
            out[i] = _flag({**records[i], "value": float(med)}, f"{self.name}@{self.version}", original=x)
        return out


def _outliers(records: list[Rec], window_size: int, k: float) -> list[tuple[int, float, float]]:
    """(index, rolling median, value) of each value further than k scaled MADs from the median of its
    centred window of `window_size` records (a window with fewer than 3 values judges nothing)."""
    half = window_size // 2
    values = [r.get("value") for r in records]
    found: list[tuple[int, float, float]] = []
    for i, x in enumerate(values):
        near = [v for v in values[max(0, i - half): i + half + 1] if v is not None]
        if x is None or len(near) < 3:
            continue
        med = statistics.median(near)
        mad = statistics.median(abs(v - med) for v in near) * 1.4826
        if mad > 0 and abs(x - med) / mad > k:
            found.append((i, med, x))
    return found


class OutlierDetection:
    """CONTRACT.md's `outlier_detection`: flags outliers (rolling median/MAD, k = 3 / sensitivity, as the
    gate's accuracy check judges them) in the record's attributes and leaves every value as it is."""

    name: ClassVar[str] = "outlier_detection"
    version: ClassVar[str] = "v2"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        window_size: int = Field(default=24, ge=3, description="records in the rolling window (centred); "
                                 "the gate's accuracy check uses the same")
        sensitivity: float = Field(default=0.8, gt=0, le=1, description="higher flags more: a value is an "
                                   "outlier beyond 3 / sensitivity scaled MADs; the gate's check uses the same")

    def run(self, records: list[Rec], params: Any) -> list[Rec]:
        p = params if isinstance(params, self.Params) else self.Params.model_validate(params or {})
        out = list(records)
        for i, med, _value in _outliers(records, p.window_size, 3.0 / p.sensitivity):
            out[i] = _flag(records[i], f"{self.name}@{self.version}", outlier=True, median=float(med))
        return out


class GapInterpolation:
    """Periods missing inside the range (by the series' step) get a value linear between their neighbours."""

    name: ClassVar[str] = "gap_interpolation"
    version: ClassVar[str] = "1"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        step: int = Field(default=3600, gt=0, description="seconds between periods of the series")
        max_gap: int = Field(default=24, ge=1, description="longest run of missing periods filled")

    def run(self, records: list[Rec], params: Any) -> list[Rec]:
        p = params if isinstance(params, self.Params) else self.Params.model_validate(params or {})
        out: list[Rec] = []
        for prev, cur in zip([None, *records[:-1]], records, strict=True):
            if prev is not None and prev.get("value") is not None and cur.get("value") is not None:
                missing = (cur["period"] - prev["period"]) // p.step - 1
                if 0 < missing <= p.max_gap and (cur["period"] - prev["period"]) % p.step == 0:
                    for k in range(1, missing + 1):
                        frac = k / (missing + 1)
                        value = prev["value"] + (cur["value"] - prev["value"]) * frac
                        filled = {**prev, "period": prev["period"] + k * p.step, "value": value, "attributes": None}
                        out.append(_flag(filled, f"{self.name}@{self.version}", interpolated=True))
            out.append(cur)
        return out


class UnitNormalisation:
    """Values in `from_unit` are multiplied by `factor` and labelled `unit` (e.g. kWh -> MWh, factor 0.001)."""

    name: ClassVar[str] = "unit_normalisation"
    version: ClassVar[str] = "1"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        from_unit: str = Field(min_length=1, description="the unit converted")
        unit: str = Field(min_length=1, description="the unit stored")
        factor: float = Field(gt=0, description="multiplier from from_unit to unit")

    def run(self, records: list[Rec], params: Any) -> list[Rec]:
        p = params if isinstance(params, self.Params) else self.Params.model_validate(params or {})
        out: list[Rec] = []
        for rec in records:
            if rec.get("unit") != p.from_unit:
                out.append(rec)
                continue
            x = rec.get("value")
            new = {**rec, "unit": p.unit, "value": None if x is None else x * p.factor}
            out.append(_flag(new, f"{self.name}@{self.version}", original=x, original_unit=p.from_unit))
        return out


BUILTIN: dict[str, type[Any]] = {a.name: a for a in (OutlierReplacement, OutlierDetection, GapInterpolation,
                                                    UnitNormalisation)}
