"""How one extract node runs: the executor protocol and what the applier hands to it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aurumplan.catalog import DatasetDef, SourceDef
from aurumplan.plan.model import ExtractNode, Retries, Settings
from aurumplan.sources.base import Driver, RequestSpec
from aurumplan.sources.registry import get_driver


def load_id_of(operation_id: str, node_id: str) -> str:
    """The node's load id: deterministic (a retry or resume writes the same load), SeaTunnel-safe."""
    return f"{operation_id}:{node_id.replace('/', ':')}"


@dataclass
class Counters:
    """Figures of one node, summed into the operation's progress."""

    requests: int = 0
    records: int = 0
    bytes: int = 0
    throttles: int = 0
    retries: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # request outcome -> requests (OUTCOMES)

    def add(self, other: Counters) -> None:
        self.requests += other.requests
        self.records += other.records
        self.bytes += other.bytes
        self.throttles += other.throttles
        self.retries += other.retries
        self.outcomes = merged(self.outcomes, other.outcomes)

    def outcome(self, name: str) -> None:
        """One request ended this way (docs/operations.md#metrics, aurumplan_requests_total)."""
        self.outcomes[name] = self.outcomes.get(name, 0) + 1


OUTCOMES = ("ok", "throttled", "retried", "failed")


def merged(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    """Outcome counts of two runs added."""
    return {k: int(a.get(k, 0)) + int(b.get(k, 0)) for k in sorted({*a, *b})}


@dataclass
class RetryPolicy:
    max: int = 3
    backoff: float = 10.0
    max_backoff: float = 300.0
    timeout: float = 60.0

    @classmethod
    def of(cls, retries: Retries) -> RetryPolicy:
        """The policy a plan's `retries` settings ask for."""
        return cls(retries.max, retries.backoff_seconds, retries.maxBackoff_seconds)


class Stopped(Exception):
    """The operation was paused or cancelled while a node ran; the node is left unfinished."""


@dataclass
class ExtractJob:
    """Everything an executor needs to run one extract node into a staged load."""

    operation_id: str
    node_id: str
    load_id: str
    source: SourceDef
    dataset: DatasetDef
    request: RequestSpec
    driver: Driver
    api_key: str | None
    batch_size: int
    retry: RetryPolicy
    transform: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[Counters], None] | None = None
    external_id: str | None = None
    record_external_id: Callable[[str], None] | None = None
    counters: Counters = field(default_factory=Counters)
    """Updated as the job runs, so requests sent before a failure still count."""


def extract_job(operation_id: str, node: ExtractNode, source: SourceDef, settings: Settings, api_key: str | None,
                **hooks: Any) -> ExtractJob:
    """The one way from a plan's extract node to the job an executor runs (apply, compile, record)."""
    return ExtractJob(operation_id, node.id, load_id_of(operation_id, node.id), source,
                      source.datasets[node.dataset], node.request_spec(source.name), get_driver(source.driver),
                      api_key, settings.batchSize, RetryPolicy.of(settings.retries), **hooks)


class Executor(Protocol):
    """Runs an extract job, leaving its rows staged under job.load_id; returns its figures."""

    name: str

    def run_extract(self, job: ExtractJob) -> Counters: ...

    def cancel(self, job: ExtractJob) -> None: ...
