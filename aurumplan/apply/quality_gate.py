"""The validate node: score a dataset's staged loads before the commit makes them current."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aurumplan.catalog import Catalog
from aurumplan.executors.base import load_id_of
from aurumplan.intervals import IntervalSet
from aurumplan.plan.model import DataNode, Settings
from aurumplan.quality.evaluate import evaluate, normalize_checks
from aurumplan.quality.expected import expected_series
from aurumplan.quality.params import quality_params
from aurumplan.quality.scripts import load_scripts
from aurumplan.warehouse import Warehouse

CHUNK_ROWS = 200_000


def chunks_of(staged: list[DataNode]) -> list[list[DataNode]]:
    """Nodes in time order, grouped so one group holds at most about CHUNK_ROWS rows (bounded memory)."""
    ordered = sorted(staged, key=lambda n: n.window[0])
    out: list[list[DataNode]] = [[]]
    rows = 0
    for n in ordered:
        if out[-1] and rows + n.expected_rows > CHUNK_ROWS:
            out.append([])
            rows = 0
        out[-1].append(n)
        rows += n.expected_rows
    return out


Part = tuple[int, float, dict[str, float], dict[str, Any]]
"""One evaluated range: (its length, score, score per check, detail)."""


@dataclass(frozen=True)
class ChunkResult:
    """A chunk of staged nodes, judged: the ranges' parts and the series it expected."""

    parts: list[Part]
    series: tuple[str, ...]


def chunk_key(chunk: list[DataNode]) -> tuple[str, ...]:
    return tuple(n.id for n in chunk)


def early_allowed(settings: Settings) -> bool:
    """Whether a chunk may be judged as soon as its nodes are staged, while others still fetch: only
    when every check reads nothing but the staged loads (consistency reads other datasets and the
    active version, which may change until the validate node runs)."""
    return "consistency" not in normalize_checks(settings.validation.checks)


@dataclass(frozen=True)
class Judging:
    """What judging a chunk reads of the apply, picklable: a judge worker gets it with each chunk
    (apply/judgeworker.py)."""

    settings: Settings
    files: dict[str, str]
    """The spec's files by path, their text (quality scripts)."""
    catalog: Catalog
    source: str
    op_id: str


def judging(applier: Any) -> Judging:
    return Judging(applier.settings, {rel: f.text for rel, f in applier.plan.spec.files.items()},
                   applier.catalog, applier.source.name, applier.op_id)


def judge_chunk(judge: Judging, conn: Any, dataset: str, chunk: list[DataNode]) -> ChunkResult:
    """The evaluation of one chunk of a dataset's staged nodes, one part per coalesced range."""
    settings = judge.settings
    plain = settings.model_dump(mode="json")
    scripts = load_scripts(plain, {rel: {"text": text} for rel, text in judge.files.items()})
    ds = judge.catalog.dataset(judge.source, dataset)
    where = IntervalSet()
    series: set[str] = set()
    for n in chunk:
        for sid in n.series:
            where = where | n.where(sid)
        series.update(n.series)
    want = expected_series(ds, (), narrow=series, by="operation")  # the definition check/coverage use
    load_ids = [load_id_of(judge.op_id, n.id) for n in chunk]
    parts: list[Part] = []
    for s, e in where:
        q = evaluate(conn, judge.catalog, judge.source, dataset, (s, e), settings.validation.checks,
                     load_id=load_ids, params=quality_params(plain), series=list(want.series), scripts=scripts,
                     weights=settings.validation.weights)
        parts.append((e - s, q.score, {k: r.score for k, r in q.results.items()},
                      q.to_dict(settings.validation.threshold)))
    return ChunkResult(parts, tuple(want.series))


def validate_dataset(applier: Any, dataset: str, staged: list[DataNode],
                     judged: Mapping[tuple[str, ...], ChunkResult] | None = None) -> dict[str, Any]:
    """Quality of the staged version of one dataset over exactly the periods its loads cover.

    A Backfill node may bridge loaded gaps; only its targets are judged, one evaluation per
    coalesced range. Large datasets are judged in chunks of nodes so memory stays bounded; the
    scores are weighted by the length each range covers. `judged` holds chunks already judged
    while the apply was still fetching (the same chunks, so the same scores).
    """
    settings: Settings = applier.settings
    threshold = settings.validation.threshold
    profile = settings.validation.profile
    ds = applier.catalog.dataset(applier.source.name, dataset)
    parts: list[Part] = []
    loaded: set[str] = set()
    judge = judging(applier)
    with applier.warehouse.connect() as conn:
        for chunk in chunks_of(staged):
            done = (judged or {}).get(chunk_key(chunk)) or judge_chunk(judge, conn, dataset, chunk)
            parts.extend(done.parts)
            loaded.update(done.series)
    total = sum(p[0] for p in parts) or 1
    score = sum(w * sc for w, sc, _, _ in parts) / total
    per_check: dict[str, float] = {}
    for w, _, checks_, _ in parts:
        for k, v in checks_.items():
            per_check[k] = per_check.get(k, 0.0) + v * w / total
    detail = parts[0][3] if len(parts) == 1 else {"ranges": [p[3] for p in parts[:50]], "score": score}
    if profile:
        detail["profile"] = profile
    detail["expected_series"] = expected_series(ds, (), narrow=loaded, by="operation").to_dict()
    applier.store.add_quality_result(applier.op_id, dataset, score, score >= threshold,
                                     node_id=f"{dataset}/validate", detail=detail)
    out: dict[str, Any] = {"dataset": dataset, "score": score, "checks": per_check}
    if profile:
        out["profile"] = profile
    return out


def check_current(warehouse: Warehouse, catalog: Catalog, source: str,
                  datasets: list[dict[str, Any]], pinned: threading.Event | None = None) -> dict[str, Any]:
    """Scores of the current version over the given datasets' intervals (controlled rollback), all read in
    one snapshot; `pinned` is set once that snapshot is taken."""
    out: dict[str, Any] = {}
    with warehouse.snapshot() as conn:
        if pinned is not None:
            pinned.set()
        for d in datasets:
            span = IntervalSet.from_json(d["intervals"]).span
            if span is None:
                continue
            q = evaluate(conn, catalog, source, d["dataset"], span, series=d["series"])
            out[d["dataset"]] = round(q.score, 6)
    return out


@contextmanager
def scoring_current(warehouse: Warehouse, catalog: Catalog, source: str,
                    datasets: list[dict[str, Any]]) -> Iterator[Future[dict[str, Any]]]:
    """check_current of the version current on entry, computed while the body changes it: a controlled
    rollback's scores before its switch, overlapped with the switch (bench/RESULTS.md, issue 18).

    The body starts once the check's snapshot is taken, so the scores are those of the version before
    it; the exit waits for the check. A warehouse that cannot read while another thread writes (in-memory
    SQLite) is scored first. docs/replay.md, "2. Replay".
    """
    if not warehouse.concurrent:
        done: Future[dict[str, Any]] = Future()
        done.set_result(check_current(warehouse, catalog, source, datasets))
        yield done
        return
    pinned = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollback-check") as pool, _short_switches():
        scores = pool.submit(check_current, warehouse, catalog, source, datasets, pinned)
        while not pinned.wait(0.05):
            if scores.done():  # it failed before reading anything: nothing is changed
                scores.result()
        yield scores


SWITCH_INTERVAL = 0.001
"""The interpreter's thread switch interval while a rollback scores beside its switch (default 5 ms)."""
_switches = threading.Lock()
_shortened: list[float] = []  # the interval to restore, once per overlap under way


@contextmanager
def _short_switches() -> Iterator[None]:
    """A shorter GIL switch interval while it lasts. The scoring thread is Python's CPU work and the switch a
    series of statements: each time the switch's thread came back from the database it waited up to 5 ms
    for the GIL (a PostgreSQL rollback of 61,320 rows, mean of 4: 1.55 -> 1.40 s; bench/RESULTS.md)."""
    with _switches:
        _shortened.append(sys.getswitchinterval())
        sys.setswitchinterval(min(SWITCH_INTERVAL, _shortened[0]))
    try:
        yield
    finally:
        with _switches:
            first = _shortened[0]
            _shortened.pop()
            if not _shortened:
                sys.setswitchinterval(first)
