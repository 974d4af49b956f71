"""What the catalog knows about a source and its datasets: grain, routes, limits, quotas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aurumplan.config import Quota
from aurumplan.intervals import Grain

PeriodConvention = Literal[
    "hour-ending-utc",  # EIA hourly: label 2024-01-01T01 covers 00:00-01:00 UTC
    "local-hourly",  # EIA local-hourly: label carries its UTC offset
    "period-start",  # FRED, EIA monthly/daily: the date is the first day of the period
    "bls-period",  # BLS: year + M01..M12 (Q01..Q04)
    "noaa-date",  # NOAA GHCND: naive local-standard date = the day
    "ept-hour-beginning",  # PJM: datetime_beginning_utc is the period start
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestLimits(_Model):
    """What bounds one request; the request planner cuts windows to fit all of them."""

    max_rows: int | None = Field(default=None, gt=0, description="rows one response page may hold")
    max_series: int | None = Field(default=None, gt=0, description="series one request may name")
    max_span_days: int | None = Field(default=None, gt=0, description="longest window one request may cover")
    max_years: int | None = Field(default=None, gt=0, description="calendar years one request may cover")
    no_year_crossing: bool = Field(default=False, description="a window may not cross a calendar year")

    def merged(self, other: RequestLimits | None) -> RequestLimits:
        """self with other's set fields on top."""
        if other is None:
            return self
        return self.model_copy(update=other.model_dump(exclude_unset=True))


class Relation(_Model):
    """A cross-dataset rule the consistency check verifies, e.g. fuels sum to a total."""

    kind: Literal["sum_of"] = "sum_of"
    total: str = Field(description="dataset holding the totals")
    parts: str = Field(description="dataset whose series sum to the total per group")
    group_by: str = Field(default="prefix", description="how part series map to a total series")
    tolerance: float = Field(default=0.02, ge=0, description="allowed relative difference")


class Derivation(_Model):
    """A dataset computed from another one already in the warehouse, not fetched."""

    source_dataset: str = Field(alias="from", description="the input dataset of the same source")
    aggregate: Literal["sum", "mean", "min", "max"] = "sum"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DatasetDef(_Model):
    """One dataset of a source, keyed by its catalog name (ELEC.DEMAND, CPIAUCSL, ...)."""

    name: str
    description: str = ""
    route: str = Field(description="the API path or feed the driver calls")
    grain: Grain
    period_convention: PeriodConvention = "period-start"
    timezone: str = Field(default="UTC", description="zone local periods are expressed in")
    selectors: dict[str, Any] = Field(default_factory=dict, description="fixed request filters (facets)")
    series: list[str] = Field(default_factory=list, description="the series ids this dataset holds")
    series_template: str = Field(default="{series}", description="how a row's fields form its series id")
    data_field: str = Field(default="value", description="the response column with the value")
    unit: str = ""
    value_range: tuple[float | None, float | None] | None = Field(
        default=None, description="physical bounds (min, max); None = unbounded")
    depends_on: list[str] = Field(default_factory=list, description="datasets this one is derived from")
    schema_version: str = "v1"
    limits: RequestLimits | None = None
    quality_weights: dict[str, float] = Field(
        default_factory=lambda: {"completeness": 0.4, "accuracy": 0.3, "consistency": 0.2, "schema": 0.1})
    relations: list[Relation] = Field(default_factory=list)
    available_from: str | None = Field(default=None, description="earliest period the source has")
    calendar: Literal["all", "weekdays"] = Field(default="all", description="which periods are expected")
    derive: Derivation | None = Field(default=None, description="computed from another dataset")
    revision_fields: list[str] | None = Field(
        default=None, description="revision signals of this dataset for `incremental.field`; None = the source's")


class SourceDef(_Model):
    """A source API: where it is, how to authenticate, how much it allows."""

    name: str
    driver: str = Field(description="the driver module that speaks this API")
    description: str = ""
    base_url: str
    api_key_env: str
    quota: Quota = Field(default_factory=Quota)
    headroom: float = Field(default=0.8, description="share of the tightest quota rateLimit: auto uses")
    limits: RequestLimits = Field(default_factory=RequestLimits)
    recordings: str | None = None
    frozen: bool = False
    avg_response_bytes_per_row: int = 200
    datasets: dict[str, DatasetDef] = Field(default_factory=dict)
    revision_fields: list[str] = Field(
        default_factory=list, description="the revision signals the API publishes, by the name `incremental.field` "
                                          "uses (FRED: realtime_start); empty = none (docs/replay.md, 'Incremental')")

    def revisions_of(self, dataset: DatasetDef) -> list[str]:
        """The revision fields an `incremental` over this dataset may name (the dataset's, else the source's)."""
        return list(self.revision_fields if dataset.revision_fields is None else dataset.revision_fields)

    def dataset_limits(self, dataset: DatasetDef) -> RequestLimits:
        return self.limits.merged(dataset.limits)
