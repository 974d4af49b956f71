"""Validation chunks judged while other nodes still fetch (Applier._judge_early): the validate node
reuses them, and the gate's score and detail are exactly those of judging after the last page."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aurumplan.apply import judgeworker, quality_gate, runner
from tests.apply.common import run, write_config
from tests.doubles.fakeapis import EiaServer, Synth
from tests.state.dburl import pg_schema_url

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: t-early}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {{start: 2024-01-01, end: 2024-01-06}}
  concurrency: 2
  validation: {{checks: [{checks}], threshold: 0.5}}
"""


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    data = Synth(seed=11)
    data.override("eia", "electricity/rto/region-data", "MISO.D", 1_704_200_400, None)  # one missing value
    with EiaServer(data=data, quota=None, until=1_900_000_000) as srv:
        yield srv


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """judge_chunk calls, by who made them: a fetching worker (early) or the validate node."""
    calls = {"early": 0, "validate": 0}
    real: Callable[..., Any] = quality_gate.judge_chunk

    def judge(*a: Any, **k: Any) -> Any:
        validating = any(fr.name == "validate_dataset" for fr in traceback.extract_stack())
        calls["validate" if validating else "early"] += 1
        return real(*a, **k)

    monkeypatch.setattr(quality_gate, "judge_chunk", judge)
    monkeypatch.setattr(runner, "judge_chunk", judge)
    return calls


def _apply(project: Path, url: str, base_url: str, checks: str, parse_workers: int = 0) -> dict[str, Any]:
    config = write_config(project, url, base_url, quota="{per_second: 1000}\n    limits: {max_rows: 72}")
    config.write_text(config.read_text() + f"parse_workers: {parse_workers}\n")
    (project / "spec.yaml").write_text(SPEC.format(checks=checks))
    code, out, err = run(project, "apply", str(project / "spec.yaml"), "--auto-approve")
    assert code == 0, out + err
    eng = sa.create_engine(url)
    with eng.connect() as c:
        score, detail = c.execute(sa.text("SELECT score, detail FROM quality_results")).one()
    eng.dispose()
    return {"score": score, "detail": json.loads(detail) if isinstance(detail, str) else detail}


@pytest.mark.parametrize("checks", ["schema, completeness", "completeness, consistency"])
def test_chunks_judged_early_give_the_same_gate(tmp_path: Path, db_url: str, server: EiaServer, checks: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """6 nodes of one day (max_rows 72 for 3 series) in chunks of 2 nodes (CHUNK_ROWS 150): with only
    checks that read the staged loads, all 3 chunks are judged by the fetching workers and the validate
    node judges none; consistency (which reads the active version) waits for the validate node."""
    monkeypatch.setenv("EIA_API_KEY", "k-early")
    monkeypatch.setattr(quality_gate, "CHUNK_ROWS", 150)
    calls = _counting(monkeypatch)
    with contextlib.ExitStack() as stack:
        second = (f"sqlite:///{tmp_path / 'late.db'}" if db_url.startswith("sqlite")
                  else stack.enter_context(contextlib.contextmanager(pg_schema_url)()))
        early = _apply(tmp_path / "early", db_url, server.base_url, checks)
        got = dict(calls)
        monkeypatch.setattr(runner, "early_allowed", lambda _settings: False)
        calls.update(early=0, validate=0)
        late = _apply(tmp_path / "late", second, server.base_url, checks)
    assert calls == {"early": 0, "validate": 3}
    if "consistency" in checks:
        assert got == {"early": 0, "validate": 3}
    else:
        assert got == {"early": 3, "validate": 0}
    assert early == late and early["score"] < 1.0  # the missing value counts, in both


def test_a_failing_early_judgement_is_left_to_the_validate_node(tmp_path: Path, db_url: str, server: EiaServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The early judgement (runner.judge_chunk) fails; the apply still succeeds, the validate node
    judging every chunk itself (quality_gate.judge_chunk)."""
    monkeypatch.setenv("EIA_API_KEY", "k-early")
    failed: list[str] = []

    def failing(*_a: Any, **_k: Any) -> Any:
        failed.append(threading.current_thread().name)
        raise RuntimeError("disk hiccup while judging early")

    monkeypatch.setattr(runner, "judge_chunk", failing)
    out = _apply(tmp_path / "p", db_url, server.base_url, "schema, completeness")
    assert failed and out["score"] < 1.0


def test_a_judge_worker_judges_the_chunks_with_the_same_gate(tmp_path: Path, db_url: str, server: EiaServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With parse workers, a judge worker process judges the chunks early (apply/judgeworker.py): no chunk
    is judged in the apply's process, and the gate is the one of judging after the last page."""
    monkeypatch.setenv("EIA_API_KEY", "k-early")
    monkeypatch.setattr(quality_gate, "CHUNK_ROWS", 150)
    calls = _counting(monkeypatch)
    started: list[str] = []
    real_pool = runner.WorkerPool

    def pool(workers: int, module: str, name: str, **kw: Any) -> Any:
        started.append(module)
        return real_pool(workers, module, name, **kw)

    monkeypatch.setattr(runner, "WorkerPool", pool)
    with contextlib.ExitStack() as stack:
        second = (f"sqlite:///{tmp_path / 'late.db'}" if db_url.startswith("sqlite")
                  else stack.enter_context(contextlib.contextmanager(pg_schema_url)()))
        worker = _apply(tmp_path / "worker", db_url, server.base_url, "schema, completeness", parse_workers=1)
        assert started == ["aurumplan.apply.judgeworker"] and calls == {"early": 0, "validate": 0}
        monkeypatch.setattr(runner, "early_allowed", lambda _settings: False)
        late = _apply(tmp_path / "late", second, server.base_url, "schema, completeness")
    assert calls == {"early": 0, "validate": 3}
    assert worker == late and worker["score"] < 1.0


@pytest.mark.parametrize("checks", ["schema, completeness", "completeness, consistency"])
def test_the_judge_worker_starts_with_the_run_when_it_will_judge(tmp_path: Path, server: EiaServer, checks: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With parse workers, the judge worker starts before the first node is staged, so a plan of one
    chunk (judgeable only after the last page) does not wait for its imports then; when nothing may be
    judged early (consistency), none starts."""
    monkeypatch.setenv("EIA_API_KEY", "k-early")
    calls = _counting(monkeypatch)
    order: list[str] = []
    real_pool, real_early = runner.judge_pool, runner.Applier._judge_early

    def pool() -> Any:
        order.append("judge worker")
        return real_pool()

    def early(self: runner.Applier, dataset: str, staged_now: str) -> None:
        order.append("staged")
        real_early(self, dataset, staged_now)

    monkeypatch.setattr(runner, "judge_pool", pool)
    monkeypatch.setattr(runner.Applier, "_judge_early", early)
    _apply(tmp_path / "p", f"sqlite:///{tmp_path / 'w.db'}", server.base_url, checks, parse_workers=1)
    if "consistency" in checks:
        assert "judge worker" not in order and calls == {"early": 0, "validate": 1}
    else:
        assert order[0] == "judge worker" and order.count("judge worker") == 1 and order.count("staged") == 6
        assert calls == {"early": 0, "validate": 0}  # one chunk, judged in the worker


def test_the_judge_worker_connects_to_the_warehouse_before_its_first_chunk(
        tmp_path: Path, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its first request connects (driver imports, connection) while pages are still fetched; the chunk
    follows and is judged in the worker."""
    monkeypatch.setenv("EIA_API_KEY", "k-early")
    calls = _counting(monkeypatch)
    asked: list[str] = []
    real_pool = runner.judge_pool

    def pool() -> Any:
        made = real_pool()
        ask = made.ask

        def spy(request: bytes) -> Any:
            _url, judging, _dataset, _chunk = pickle.loads(request)
            answer = ask(request)
            asked.append(("connect" if judging is None else "chunk") + (" answered" if answer is not None else ""))
            return answer

        made.ask = spy  # type: ignore[method-assign]
        return made

    monkeypatch.setattr(runner, "judge_pool", pool)
    _apply(tmp_path / "p", f"sqlite:///{tmp_path / 'w.db'}", server.base_url, "schema, completeness", parse_workers=1)
    assert asked == ["connect", "chunk answered"] and calls == {"early": 0, "validate": 0}


def test_chunks_the_judge_worker_cannot_judge_are_judged_in_the_apply(
        tmp_path: Path, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A judge worker that answers nothing useful (here a parse worker, whose handler fails on a chunk)
    leaves every chunk to the apply's process: still judged early, and the same gate."""
    monkeypatch.setenv("EIA_API_KEY", "k-early")
    monkeypatch.setattr(quality_gate, "CHUNK_ROWS", 150)
    calls = _counting(monkeypatch)
    real_pool = runner.WorkerPool
    monkeypatch.setattr(runner, "WorkerPool",
                        lambda workers, _module, name, **kw: real_pool(workers, "aurumplan.executors.parseworker",
                                                                       name, **kw))
    broken = _apply(tmp_path / "broken", f"sqlite:///{tmp_path / 'b.db'}", server.base_url, "schema, completeness",
                    parse_workers=1)
    assert calls == {"early": 3, "validate": 0}
    late = _apply(tmp_path / "plain", f"sqlite:///{tmp_path / 'p.db'}", server.base_url, "schema, completeness")
    assert broken == late and broken["score"] < 1.0


def test_the_judge_worker_runs_below_the_apply_s_priority() -> None:
    """Judging early fills the cores' spare time: the judge worker yields to fetching and parsing, from its
    imports on (it starts with the run)."""
    pool = runner.judge_pool()
    try:
        for _ in range(3000):  # from its start, while it imports
            if pool.processes:
                break
            time.sleep(0.001)
        (proc,) = pool.processes
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(19, mine + judgeworker.JUDGE_NICE)
        assert not pool.answering  # still importing
        assert pool.wait_ready(30.0) and pool.answering
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(19, mine + judgeworker.JUDGE_NICE)
    finally:
        pool.close()


def test_a_resumed_apply_judges_early_the_chunks_staged_before_the_crash(tmp_path: Path, server: EiaServer,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 before the 5th of 6 nodes is staged leaves at least one chunk of 2 whole; the resumed run
    judges it early too (its first early judgement looks at every chunk, later ones at the node's own
    chunk only), so the validate node judges nothing; the dataset's chunks are computed once."""
    monkeypatch.setenv("EIA_API_KEY", "k-early")
    monkeypatch.setattr(quality_gate, "CHUNK_ROWS", 150)
    project = tmp_path / "p"
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    config = write_config(project, url, server.base_url, quota="{per_second: 1000}\n    limits: {max_rows: 72}")
    config.write_text(config.read_text() + "parse_workers: 0\n")
    (project / "spec.yaml").write_text(SPEC.format(checks="schema, completeness"))
    env = {**os.environ, "AURUMPLAN_CRASH_AT": "before-staged:5"}
    killed = subprocess.run([sys.executable, "-m", "aurumplan.cli.main", "--config", str(config), "apply",
                             str(project / "spec.yaml"), "--auto-approve"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    code, out, err = run(project, "ops", "list", "--json")
    op_id = json.loads(out)[0]["id"]
    calls = _counting(monkeypatch)
    computed: list[str] = []
    real_chunks = runner.chunks_of

    def counted(nodes: list[Any]) -> list[list[Any]]:
        computed.append(nodes[0].dataset)
        return real_chunks(nodes)

    monkeypatch.setattr(runner, "chunks_of", counted)
    code, out, err = run(project, "resume", op_id)
    assert code == 0, out + err
    assert calls == {"early": 3, "validate": 0}
    assert computed == ["ELEC.DEMAND"]
