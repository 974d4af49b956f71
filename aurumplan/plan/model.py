"""The plan file as typed, frozen models: what `read_plan` accepts, checked field by field.

A plan decoded into these models and encoded again is the same file, byte for byte (the models
keep exactly the keys the file has, and numbers as they were). Each node kind has its own model,
tagged by `kind`. docs/architecture.md ("Planning", "Plan integrity") describes the fields.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aurumplan.compile.requests import RequestSpec
from aurumplan.errors import PlanError
from aurumplan.intervals import IntervalSet

Number = int | float
Interval = tuple[str, str]


@lru_cache(maxsize=1 << 14)
def _periods(intervals: tuple[tuple[str, ...], ...]) -> IntervalSet:
    """Interval texts as a set, parsed once: a commit asks each node for its periods per series, and
    parsing the timestamps again each time cost ~0.1 s in a 62-node commit (issue 18)."""
    return IntervalSet.from_json(intervals)


class _Part(BaseModel):
    """Frozen; unknown keys refused, so a misspelt or foreign field is an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Operation(_Part):
    id: str
    kind: Literal["Backfill", "Replay", "Reprocess"]
    name: str
    source: str
    reason: str | None = None
    owner: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)
    attempt: dict[str, Any] | None = None


class EmbeddedFile(_Part):
    sha256: str
    text: str


class SpecBlock(_Part):
    file: str
    sha256: str
    text: str
    files: dict[str, EmbeddedFile] = Field(default_factory=dict)


class SourceBlock(_Part):
    name: str
    driver: str
    base_url: str
    api_key_env: str
    quota: dict[str, Number]
    headroom: Number
    recordings: str | None = None


class Retries(_Part):
    max: int = Field(ge=0)
    backoff_seconds: Number = Field(ge=0)
    maxBackoff_seconds: Number = Field(ge=0)


class Validation(_Part):
    checks: list[str]
    threshold: Number = Field(ge=0, le=1)
    onFailure: Literal["halt", "warn", "rollback"]
    scripts: list[str] | None = None  # validation scripts, embedded under spec.files (docs/quality.md)
    profile: str | None = None  # the quality profile resolved into these settings
    weights: dict[str, Number] | None = None
    params: dict[str, Number] | None = None


class Settings(_Part):
    concurrency: int = Field(ge=1, le=32)
    batchSize: int = Field(ge=1)
    retries: Retries
    rateLimit: Literal["auto"] | Annotated[Number, Field(gt=0)]
    priority: Literal["low", "normal", "high"]
    timezone: str
    validation: Validation
    commit: Literal["atomic", "progressive"] | None = None
    replay: dict[str, Any] | None = None
    reprocess: dict[str, Any] | None = None


class Action(_Part):
    action: Literal["create", "replace", "unchanged", "missing", "conflict"]
    series: list[str]
    intervals: list[Interval]
    periods: int = Field(ge=0)
    reason: str
    load_id: str | None = None


class DatasetPlan(_Part):
    dataset: str
    grain: str
    cascade_from: str | None
    actions: list[Action]
    counts: dict[str, int]


class Request(BaseModel):
    """A driver's first call: method, url, params (pairs) and whatever else the driver sends."""

    model_config = ConfigDict(frozen=True, extra="allow")
    method: str
    url: str


class ExtractNode(_Part):
    kind: Literal["extract"]
    id: str
    dataset: str
    series: list[str]
    window: Interval
    expected_rows: int = Field(ge=0)
    request: Request | None = None
    targets: list[Interval] | None = None

    def span(self) -> tuple[int, int]:
        """The window as epoch seconds [start, end)."""
        return IntervalSet.from_json([self.window]).span or (0, 0)

    def where(self, sid: str) -> IntervalSet:
        """The periods this node writes for one series: its targets when it bridges gaps, else its window."""
        return _periods(tuple(tuple(iv) for iv in (self.targets or [self.window])))

    def request_spec(self, source: str) -> RequestSpec:
        """The planned request this node runs (the one way from a node to what a driver fetches)."""
        start, end = self.span()
        return RequestSpec(source, self.dataset, tuple(self.series), start, end, self.expected_rows,
                           IntervalSet.from_json(self.targets or []).intervals)


class DeriveNode(_Part):
    kind: Literal["derive"]
    id: str
    dataset: str
    series: list[str]
    window: Interval
    expected_rows: int = Field(ge=0)
    request: None = None
    intervals: dict[str, list[Interval]]
    input: str

    def span(self) -> tuple[int, int]:
        """The window as epoch seconds [start, end)."""
        return IntervalSet.from_json([self.window]).span or (0, 0)

    def where(self, sid: str) -> IntervalSet:
        """The periods this node writes for one series."""
        return _periods(tuple(tuple(iv) for iv in self.intervals.get(sid, [])))


class ValidateNode(_Part):
    kind: Literal["validate"]
    id: str
    dataset: str


class CommitNode(_Part):
    kind: Literal["commit"]
    id: str
    dataset: str


Node = Annotated[ExtractNode | DeriveNode | ValidateNode | CommitNode, Field(discriminator="kind")]
DataNode = ExtractNode | DeriveNode
"""A node that stages rows (and holds periods); validate and commit nodes act on a whole dataset."""
AnyNode = ExtractNode | DeriveNode | ValidateNode | CommitNode


class Graph(_Part):
    nodes: list[Node]
    edges: list[tuple[str, str]]


class Plan(_Part):
    """A whole plan file."""

    format_version: int
    aurumplan_version: str
    operation: Operation
    spec: SpecBlock
    source: SourceBlock
    settings: Settings
    summary: dict[str, int]
    datasets: list[DatasetPlan]
    fingerprints: dict[str, str]
    graph: Graph
    estimates: dict[str, Any]
    warnings: list[str]
    published_until: str | None = None
    """The hour a window reaching the present was clipped at (compile/scope.py), when it was."""
    plan_id: str | None = None
    signature: str | None = None
    created_at: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The plan as the file holds it (exactly the keys it was built or read with)."""
        out: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        return out


def decode(data: Any, where: str) -> Plan:
    """A plan dict checked against the models; PlanError naming the first bad field and what to do."""
    try:
        return Plan.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top)"
        more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise PlanError(f"{where}: not a valid plan: {loc}: {first['msg']}{more}",
                        hint="re-run `aurumplan plan SPEC -o FILE`; a plan is not edited by hand") from None
