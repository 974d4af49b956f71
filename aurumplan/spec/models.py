"""Operation specs (CONTRACT §2): the single source of truth for what a spec may say.

Attribute names are the YAML keys exactly (camelCase), so a diagnostic, the JSON schema, the
reference page and the compiler all speak the same names. The models are pure: no file is read
here; spec-relative paths are only checked for shape (the loader checks where they lead).

Times: a YAML date or `YYYY-MM-DD` string is a date; a datetime with `Z` or an offset is kept as an
aware UTC datetime; a naive datetime is wall time in `spec.timezone`. A date `end` is inclusive
(the whole day), a datetime `end` exclusive. Durations are `datetime.timedelta`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aurumplan.intervals import local_to_ts, window_to_interval
from aurumplan.spec.types import (
    Date,
    DateTime,
    Duration,
    Hours,
    RateLimit,
    When,
    check_timezone,
    format_duration,
)

KINDS = ("Backfill", "Replay", "Reprocess")
CHECKS = ("completeness", "accuracy", "consistency", "schema")
NAME_PATTERN = r"^[a-z0-9-]{1,63}$"
SELECTORS = ("window", "date", "timeRange", "failedRecords", "incremental")


class SpecRelativePath:
    """Annotation marker: a path relative to the spec file (the loader checks where it leads)."""


SpecPath = Annotated[str, Field(min_length=1), SpecRelativePath()]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def is_absolute(value: str) -> bool:
    """Absolute on any platform (`/x`, `\\x`, `C:/x`): a spec path must be relative everywhere."""
    return value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":")


def _relative(value: str | None) -> str | None:
    if value is not None and is_absolute(value):
        raise ValueError(f"'{value}' is absolute: use a path relative to the spec file, inside its folder")
    return value


MIN_YEAR, MAX_YEAR = 1700, 2200
"""Window years accepted (date arithmetic near years 1 and 9999 overflows; no source goes beyond)."""


def _as_datetime(value: dt.date) -> dt.datetime:
    """For ordering checks only: a date as its midnight, an aware datetime as naive UTC."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    return dt.datetime(value.year, value.month, value.day)


def _exclusive_end(value: dt.date) -> dt.datetime:
    end = _as_datetime(value)
    return end if isinstance(value, dt.datetime) else end + dt.timedelta(days=1)


class Metadata(_Model):
    """Who runs the operation and why; recorded in the audit log."""

    name: str = Field(description="operation name: 1-63 lowercase letters, digits or '-'",
                      json_schema_extra={"pattern": NAME_PATTERN})
    reason: str | None = Field(default=None, min_length=1,
                               description="why it runs; required for Replay and Reprocess")
    owner: str | None = Field(default=None, description="team or person responsible")
    labels: dict[str, str] = Field(default_factory=dict, description="free key/value tags, e.g. ticket: OPS-123")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or len(v) > 63 or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in v):
            raise ValueError(f"invalid name '{v}': use 1-63 lowercase letters, digits or '-' "
                             "(e.g. backfill-eia-2024)")
        return v


class Window(_Model):
    """A span of time; a date end is inclusive, a datetime end exclusive."""

    start: When = Field(description="first date (or instant) included")
    end: When = Field(description="last date included, or the instant the window stops (exclusive)")

    @field_validator("start", "end")
    @classmethod
    def _plausible(cls, v: dt.date, info: ValidationInfo) -> dt.date:
        if not MIN_YEAR <= v.year <= MAX_YEAR:
            raise ValueError(f"{info.field_name} {v.isoformat()} is outside the years {MIN_YEAR}..{MAX_YEAR} "
                             "any source has data for")
        return v

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start")
        if start is not None and _exclusive_end(v) <= _as_datetime(start):
            if isinstance(v, dt.datetime):
                raise ValueError(f"end {v.isoformat()} is not after start {start.isoformat()}: a datetime end "
                                 "is exclusive, so it must be later than start")
            raise ValueError(f"end {v.isoformat()} is before start {start.isoformat()}: "
                             "end must be on or after start (a date end is inclusive)")
        return v


class Retries(_Model):
    """How often and how patiently a failed request is retried."""

    max: int = Field(default=3, ge=0, le=20, description="retries after the first attempt")
    backoff: Duration = Field(default=dt.timedelta(seconds=10), description="first wait, doubled per retry")
    maxBackoff: Duration = Field(default=dt.timedelta(minutes=5), description="longest wait between retries")

    @field_validator("maxBackoff")
    @classmethod
    def _ordered(cls, v: dt.timedelta, info: ValidationInfo) -> dt.timedelta:
        backoff = info.data.get("backoff")
        if backoff is not None and v < backoff:
            raise ValueError(f"maxBackoff ({format_duration(v)}) is shorter than backoff "
                             f"({format_duration(backoff)}): raise maxBackoff "
                             "or lower backoff")
        return v

    @model_validator(mode="after")
    def _within_default(self) -> Retries:
        if self.backoff > self.maxBackoff:
            raise ValueError(f"backoff ({format_duration(self.backoff)}) is longer than maxBackoff "
                             f"({format_duration(self.maxBackoff)}): "
                             "raise maxBackoff or lower backoff")
        return self


class Validation(_Model):
    """Quality gate run on staged data before it becomes current."""

    checks: tuple[Literal["completeness", "accuracy", "consistency", "schema"], ...] = Field(
        default=CHECKS, min_length=1, description="checks to run")  # type: ignore[arg-type]
    threshold: float = Field(default=0.95, ge=0, le=1, description="minimum quality score, 0..1")
    onFailure: Literal["halt", "rollback", "warn"] = Field(
        default="halt", description="what a score below threshold does")
    scripts: tuple[SpecPath, ...] = Field(
        default=(), description="Python files in the spec's folder defining check(data) -> score; they count "
                                "in the score (docs/quality.md)")

    @field_validator("scripts")
    @classmethod
    def _scripts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            _relative(p)
        if len(set(v)) != len(v):
            raise ValueError("a validation script is listed twice: list each once")
        return v


class Algorithm(_Model):
    """The algorithm an algorithm_update replay applies."""

    name: str = Field(description="a built-in (outlier_replacement, outlier_detection, gap_interpolation, "
                                  "unit_normalisation), "
                                  "an installed plug-in, or the algorithm `file` defines; docs/replay.md")
    file: SpecPath | None = Field(
        default=None, description="Python file in the spec's folder defining the algorithm (a class with name, "
        "version, Params, run); the plan embeds its text and apply runs that text")
    version: str = Field(description="the algorithm's version as it declares it (installed or in `file`), e.g. \"1\"")
    params: dict[str, Any] = Field(default_factory=dict, description="checked against the algorithm's Params model")

    @field_validator("file")
    @classmethod
    def _file(cls, v: str | None) -> str | None:
        return _relative(v)


DEFAULT_ARCHIVE = "archive"
"""Where `archiveOriginals: true` archives: the spec's folder `archive/`."""


class Archive(_Model):
    """Where a Replay exports the versions it replaces, before they stop being current (docs/replay.md)."""

    to: str = Field(min_length=1, description="folder for the files: absolute, or relative to the spec's folder")
    format: Literal["parquet"] = Field(default="parquet", description="file format of the archive")


class TimeRange(_Model):
    """A span of instants: start inclusive, end exclusive."""

    start: DateTime = Field(description="first instant included")
    end: DateTime = Field(description="first instant not included")

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: dt.datetime, info: ValidationInfo) -> dt.datetime:
        start = info.data.get("start")
        if start is not None and _as_datetime(v) <= _as_datetime(start):
            raise ValueError(f"end {v.isoformat()} is not after start {start.isoformat()}: "
                             "end must be later than start (it is exclusive)")
        return v


class Incremental(_Model):
    """Refresh what is loaded with what the source revised since an instant, as its revision signal `field` says.

    Only a source that publishes revision information accepts it (the catalog's `revision_fields`):
    FRED's `realtime_start` (ALFRED real-time periods and vintage dates). At plan time aurumplan asks the
    source which observations got a new value on a vintage date on or after `since`, inside each
    series' loaded span, and selects only those periods; each plan line names the vintage dates that
    chose it. EIA, BLS (`cpi`), NOAA and the ISOs publish no revision field: `validate` refuses
    `incremental` for them at `field` (use `timeRange`, or `window` with `datasets`). docs/replay.md,
    "Incremental".
    """

    field: str = Field(description="the source's revision signal: `realtime_start` for FRED; others have none")
    since: DateTime = Field(description="select values published on or after this day (its date counts)")


class RollbackWhen(_Model):
    """Automatic rollback condition of a Reprocess."""

    qualityBelow: float = Field(ge=0, le=1, description="roll back when the quality score is below this")


class BaseSpec(_Model):
    """Fields every kind shares."""

    source: str = Field(description="source name from the catalog: eia, fred, cpi, noaa, iso or one the config adds")
    datasets: tuple[str, ...] | None = Field(default=None, min_length=1,
                                             description="datasets of the source; default: every dataset")
    series: tuple[str, ...] | None = Field(default=None, min_length=1,
                                           description="only these series of the selected datasets")
    window: Window | None = Field(default=None, description="time span to operate on")
    timezone: str = Field(default="UTC", description="IANA zone of naive datetimes, dates and hours (DST-aware)")
    concurrency: int = Field(default=3, ge=1, le=32, description="concurrent jobs")
    batchSize: int = Field(default=1000, ge=1, le=100000, description="records per write batch")
    retries: Retries = Field(default_factory=Retries, description="retry policy of failed requests")
    rateLimit: RateLimit = Field(default="auto", description="auto (share of the source quota) or requests/s")
    priority: Literal["low", "normal", "high"] = Field(
        default="normal", description="who is served first when operations wait: for ranges another operation "
        "leases (`apply --wait`: higher priority, then earlier arrival) and for a source's shared quota (a lower "
        "one yields, at most 5 s per level); an emergency `aurumplan stop` keeps high running unless "
        "--include-critical (docs/operations.md, \"Priority\"; docs/emergency.md)")
    validation: Validation = Field(default_factory=Validation, description="quality gate")
    commit: Literal["atomic", "progressive"] = Field(
        default="atomic", description="atomic: a dataset becomes current only when all its ranges loaded; "
        "progressive: what validated is made current at the end of each run, the rest on resume")

    @field_validator("datasets", "series")
    @classmethod
    def _distinct(cls, v: tuple[str, ...] | None, info: ValidationInfo) -> tuple[str, ...] | None:
        if v is not None:
            dupes = sorted(x for x, n in Counter(v).items() if n > 1)
            if dupes:
                raise ValueError(f"{info.field_name} lists {', '.join(dupes)} more than once: list each once")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return check_timezone(v)

    def window_interval(self) -> tuple[int, int] | None:
        """The window as half-open UTC epoch seconds (date end inclusive), in spec.timezone."""
        if self.window is None:
            return None
        return window_to_interval(self.window.start, self.window.end, self.timezone)


class BackfillSpec(BaseSpec):
    """Load a window that is missing or incomplete."""

    window: Window = Field(description="time span to load")


class ReplaySpec(BaseSpec):
    """Re-fetch or recompute a window and replace what is current, keeping the originals."""

    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": {"properties": {"type": {"const": "schema_correction"}}, "required": ["type"]},
         "then": {"required": ["schemaVersion"]}},
        {"if": {"properties": {"type": {"const": "algorithm_update"}}, "required": ["type"]},
         "then": {"required": ["algorithm"]}},
    ]})

    window: Window = Field(description="time span to replay")
    schemaVersion: str | None = Field(default=None, min_length=1,
                                      description="target schema version; required by schema_correction")
    algorithm: Algorithm | None = Field(default=None, description="required by algorithm_update")
    type: Literal["correction", "schema_correction", "quality_improvement", "algorithm_update"] = Field(
        default="correction", description="what the replay fixes")
    migration: SpecPath | None = Field(
        default=None, description="schema_correction: Python file defining migrate(record) -> dict | None")
    transform: SpecPath | None = Field(default=None,
                                       description="Python file defining transform(record) -> dict | None")
    qualityProfile: str | None = Field(default=None, description="a profile of aurumplan.yaml's quality_profiles "
                                                                 "to validate with (docs/quality.md)")
    archiveOriginals: bool = Field(default=False, description="archive the replaced versions to the spec's "
                                   "folder `archive/` as Parquet: the same as archive: {to: archive}")
    archive: Archive | None = Field(
        default=None, validate_default=True, description="also export the replaced versions to files before the "
        "switch (they stay in the warehouse for rollback until `aurumplan gc`)")

    @field_validator("archive")
    @classmethod
    def _archive(cls, v: Archive | None, info: ValidationInfo) -> Archive | None:
        if info.data.get("archiveOriginals"):
            if v is not None:
                raise ValueError("archive and archiveOriginals both ask for an archive: keep archive "
                                 "(it names the folder) and remove archiveOriginals")
            return Archive(to=DEFAULT_ARCHIVE)
        return v

    @field_validator("type")
    @classmethod
    def _needs(cls, v: str, info: ValidationInfo) -> str:
        if v == "schema_correction" and "schemaVersion" in info.data and info.data["schemaVersion"] is None:
            raise ValueError("type schema_correction needs schemaVersion: add schemaVersion (e.g. v2)")
        if v == "algorithm_update" and "algorithm" in info.data and info.data["algorithm"] is None:
            raise ValueError("type algorithm_update needs algorithm: add algorithm {name, version, params}")
        return v

    @field_validator("migration")
    @classmethod
    def _migration(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("type", "schema_correction") != "schema_correction":
            raise ValueError("migration is only used by type schema_correction: set type: schema_correction, "
                             "or use transform")
        return _relative(v)

    @field_validator("transform")
    @classmethod
    def _transform(cls, v: str | None) -> str | None:
        return _relative(v)


class ReprocessSpec(BaseSpec):
    """Re-fetch a selected part of the data: exactly one selector.

    Selectors: `date` (optionally narrowed by `hours`), `timeRange`, `failedRecords`,
    `incremental`, or `window` together with `datasets` (a dataset-specific reprocess over a window).
    """

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": [s]} for s in SELECTORS],
        "dependentRequired": {"hours": ["date"], "window": ["datasets"]},
    })

    window: Window | None = Field(default=None, description="selector: a window; only together with datasets")
    date: Date | None = Field(default=None, description="selector: one local day (in timezone)")
    hours: Hours | None = Field(default=None, description="local hours of date, 0..23; needs date")
    timeRange: TimeRange | None = Field(default=None, description="selector: start..end (end exclusive)")
    failedRecords: SpecPath | None = Field(default=None, description="selector: a failure log (JSONL) written by apply")
    incremental: Incremental | None = Field(default=None, description="selector: records changed since an instant")
    maxAttempts: int | None = Field(default=None, ge=1, le=21, description=(
        "attempts per request, first one included: sets retries.max to maxAttempts - 1 "
        "(default: retries.max + 1)"))
    conflicts: Literal["latest_wins", "keep_existing", "fail"] = Field(
        default="latest_wins", description="when a reprocessed record differs from the current one")
    rollbackWhen: RollbackWhen | None = Field(default=None, description="automatic rollback condition")

    @staticmethod
    def _exclusive(name: str, value: Any, info: ValidationInfo) -> None:
        if value is None:
            return
        earlier = [s for s in SELECTORS[:SELECTORS.index(name)] if info.data.get(s) is not None]
        if earlier:
            raise ValueError(f"{earlier[0]} and {name} both select data: a Reprocess takes exactly one of "
                             "date, timeRange, failedRecords, incremental, or window with datasets; remove one")

    @field_validator("window")
    @classmethod
    def _window(cls, v: Window | None, info: ValidationInfo) -> Window | None:
        if v is not None and "datasets" in info.data and info.data["datasets"] is None:
            raise ValueError("a Reprocess window needs datasets (a dataset-specific reprocess): add datasets, "
                             "or select with date or timeRange")
        return v

    @field_validator("date", "timeRange", "incremental")
    @classmethod
    def _one_selector(cls, v: Any, info: ValidationInfo) -> Any:
        cls._exclusive(str(info.field_name), v, info)
        return v

    @field_validator("failedRecords")
    @classmethod
    def _failed(cls, v: str | None, info: ValidationInfo) -> str | None:
        cls._exclusive("failedRecords", v, info)
        return _relative(v)

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        if v is not None and "date" in info.data and info.data["date"] is None:
            raise ValueError("hours needs date: add date (the day the hours belong to), or use timeRange")
        return v

    @model_validator(mode="after")
    def _some_selector(self) -> ReprocessSpec:
        if all(getattr(self, s) is None for s in SELECTORS):
            raise ValueError("a Reprocess needs one selector: date (optionally with hours), timeRange, "
                             "failedRecords, incremental, or window together with datasets")
        return self

    @field_validator("maxAttempts")
    @classmethod
    def _attempts(cls, v: int | None, info: ValidationInfo) -> int | None:
        retries = info.data.get("retries")
        if v is not None and retries is not None and "max" in retries.model_fields_set and v != retries.max + 1:
            raise ValueError(f"maxAttempts {v} and retries.max {retries.max} disagree (maxAttempts counts "
                             "the first attempt): give one of them")
        return v

    def attempts(self) -> int:
        """Attempts per request: maxAttempts, or the retry policy's retries plus the first attempt."""
        return self.maxAttempts if self.maxAttempts is not None else self.retries.max + 1

    def selection_intervals(self) -> list[tuple[int, int]] | None:
        """What the selector covers as coalesced half-open UTC intervals; None when it needs files or state.

        date -> the local day; date + hours -> each local hour [h, h+1) in UTC (DST-aware: on a
        fall-back day the repeated hour covers both occurrences, a skipped hour covers nothing);
        timeRange -> one interval; window -> the window; failedRecords / incremental -> None.
        """
        if self.window is not None:
            return [window_to_interval(self.window.start, self.window.end, self.timezone)]
        if self.timeRange is not None:
            return [window_to_interval(self.timeRange.start, self.timeRange.end, self.timezone)]
        if self.date is None:
            return None
        if self.hours is None:
            return [window_to_interval(self.date, self.date, self.timezone)]
        midnight = dt.datetime(self.date.year, self.date.month, self.date.day)
        out: list[tuple[int, int]] = []
        for h in self.hours:
            s = local_to_ts(midnight + dt.timedelta(hours=h), self.timezone)
            e = local_to_ts(midnight + dt.timedelta(hours=h + 1), self.timezone)
            if e <= s:
                continue
            if out and out[-1][1] >= s:
                out[-1] = (out[-1][0], max(out[-1][1], e))
            else:
                out.append((s, e))
        return out


_KIND: ContextVar[str | None] = ContextVar("aurumplan_spec_kind", default=None)
_SPEC_KIND: dict[type[BaseSpec], str] = {BackfillSpec: "Backfill", ReplaySpec: "Replay", ReprocessSpec: "Reprocess"}
SPEC_MODELS: dict[str, type[BaseSpec]] = {v: k for k, v in _SPEC_KIND.items()}


def _spec_tag(value: Any) -> str | None:
    """The spec model is chosen by the Operation's kind (set by Operation while it validates)."""
    if isinstance(value, BaseSpec):
        return _SPEC_KIND.get(type(value))
    kind = _KIND.get()
    return kind if kind in KINDS else None


AnySpec = Annotated[
    Annotated[BackfillSpec, Tag("Backfill")] | Annotated[ReplaySpec, Tag("Replay")]
    | Annotated[ReprocessSpec, Tag("Reprocess")],
    Discriminator(_spec_tag),
]


class Operation(_Model):
    """One operation spec file: what to do (kind), to what (spec), and who asked (metadata)."""

    apiVersion: Literal["aurumplan/v1"] = Field(description="spec format version")
    kind: Literal["Backfill", "Replay", "Reprocess"] = Field(description="the operation type")
    metadata: Metadata = Field(description="name, reason, owner, labels")
    spec: AnySpec = Field(description="the operation; its fields depend on kind")

    @model_validator(mode="wrap")
    @classmethod
    def _by_kind(cls, data: Any, handler: Any) -> Operation:
        token = _KIND.set(data.get("kind") if isinstance(data, dict) else None)
        try:
            op: Operation = handler(data)
            return op
        finally:
            _KIND.reset(token)

    @field_validator("metadata")
    @classmethod
    def _reason(cls, v: Metadata, info: ValidationInfo) -> Metadata:
        kind = info.data.get("kind")
        if kind in ("Replay", "Reprocess") and not v.reason:
            raise ValueError(f"missing required key 'reason': a {kind} must say why it runs "
                             "(it is recorded in the audit log)")
        return v
