"""On PostgreSQL the commit is written while the validation runs (apply/speculation.py): nothing of it is visible
until the gate passes and the commit node commits it, a failed gate or a failed commit node leaves nothing
and holds no lock, and a commit node that would commit something else commits that instead. The same
outcomes on SQLite, where the commit is written after the validation."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from aurumplan.apply import archive, runner
from aurumplan.apply import nodes as N
from aurumplan.warehouse import open_warehouse
from tests.quality_cli.conftest import REPLAY, Project

PERIOD = "2024-01-02T05:00Z"
HOUR = 1_704_171_600  # 2024-01-02T05:00Z


def _current(project: Project, series: str = "PJM") -> float | None:
    """The current value of the series at PERIOD, read on a connection of its own."""
    with open_warehouse(project.db_url) as wh:
        rows = [r for r in wh.read_rows("eia", "ELEC.DEMAND", (HOUR, HOUR + 3600)) if r.series_id == series]
    assert len(rows) == 1
    return rows[0].value


def _warehouse_lock_held(project: Project) -> bool:
    """Whether a PostgreSQL session holds this warehouse's lock (base.py: an advisory lock on a key made from
    its schema) right now."""
    engine = sa.create_engine(project.db_url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                "((classid::bigint << 32) | objid::bigint) = "
                "hashtextextended('aurumplan-warehouse:' || current_schema(), 0)")).scalar())
    finally:
        engine.dispose()


def _pjm(project: Project) -> float | None:
    return _current(project)


def _resume_commits(project: Project, op: str, value: float) -> None:
    """`aurumplan resume OP` succeeds and makes `value` PJM's current value."""
    code, out, err = project.run("resume", op)
    assert code == 0, out + err
    assert project.json("status", op, "--json")["status"] == "succeeded" and _pjm(project) == value


def _spy_validation(monkeypatch: pytest.MonkeyPatch, project: Project) -> list[tuple[bool, float | None]]:
    """Records, as each validation starts, whether a commit is being written and the value readers see."""
    seen: list[tuple[bool, float | None]] = []
    real = runner.validate_dataset

    def validate(applier: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((bool(applier._speculative), _pjm(project)))
        return real(applier, *args, **kwargs)

    monkeypatch.setattr(runner, "validate_dataset", validate)
    return seen


@pytest.mark.timeout(120)
def test_the_commit_written_while_validating_is_invisible_until_the_gate_passes(
        backfilled: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = backfilled
    old = _pjm(project)
    assert old is not None
    project.revise("PJM", PERIOD, old + 1000)
    seen = _spy_validation(monkeypatch, project)
    op = project.apply(REPLAY, start="2024-01-02", end="2024-01-02", threshold=0.5)
    assert project.json("status", op, "--json")["status"] == "succeeded"
    assert seen == [("postgresql" in project.db_url, old)]
    assert _pjm(project) == old + 1000


@pytest.mark.timeout(120)
def test_a_halting_gate_leaves_nothing_of_the_commit_written_meanwhile(
        backfilled: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = backfilled
    old = _pjm(project)
    project.revise("PJM", PERIOD, 5_000_000)
    seen = _spy_validation(monkeypatch, project)
    op = project.apply(REPLAY, start="2024-01-02", end="2024-01-02", threshold=0.999)
    assert project.json("status", op, "--json")["status"] == "halted"
    assert seen == [("postgresql" in project.db_url, old)] and _pjm(project) == old
    with open_warehouse(project.db_url) as wh:
        assert {ld.status for ld in wh.loads_for_operation(op)} == {"staged"}
    assert old is not None
    project.revise("PJM", PERIOD, old + 7)  # the lock is free: the resume commits (it waited while it was held)
    _resume_commits(project, op, old + 7)


@pytest.mark.timeout(120)
def test_a_commit_node_that_fails_first_leaves_nothing_and_its_resume_commits(
        backfilled: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = backfilled
    old = _pjm(project)
    project.revise("PJM", PERIOD, old + 1000)
    real = runner.Applier._commit

    def failing(self: runner.Applier, *args: Any) -> None:
        raise RuntimeError("the commit node failed before committing")

    monkeypatch.setattr(runner.Applier, "_commit", failing)
    op = project.apply(REPLAY, start="2024-01-02", end="2024-01-02", threshold=0.5)
    assert project.json("status", op, "--json")["status"] == "failed" and _pjm(project) == old
    monkeypatch.setattr(runner.Applier, "_commit", real)
    _resume_commits(project, op, old + 1000)


@pytest.mark.timeout(120)
def test_a_commit_node_that_would_commit_something_else_commits_that(
        backfilled: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Here a newer operation took PJM's hour between the validation and the commit node (as the watermarks
    tell): the commit written meanwhile included it, so the commit node rolls it back and leaves that hour."""
    project, _ = backfilled
    old = _pjm(project)
    project.revise("PJM", PERIOD, old + 1000)
    project.revise("MISO", PERIOD, 1234)
    real = N.changed_since_staged
    calls: list[N.Skips] = []

    def changed(run: N.NodeRun, dataset: str, nodes: list[Any]) -> N.Skips:
        out = real(run, dataset, nodes)
        if calls or "postgresql" not in project.db_url:  # the commit node's look (SQLite: its only one)
            lid = N.load_id_of(run.operation_id, nodes[0].id)
            out = {lid: {"PJM": [[HOUR, HOUR + 3600]]}}
        calls.append(out)
        return out

    monkeypatch.setattr(N, "changed_since_staged", changed)
    op = project.apply(REPLAY, start="2024-01-02", end="2024-01-02", threshold=0.5)
    assert project.json("status", op, "--json")["status"] == "succeeded"
    assert len(calls) == (2 if "postgresql" in project.db_url else 1)
    assert _pjm(project) == old  # left out
    assert _current(project, "MISO") == 1234


@pytest.mark.timeout(120)
def test_a_replay_s_archive_holds_what_the_commit_written_meanwhile_replaces(
        backfilled: tuple[Project, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL writes a Replay's commit while its originals are archived: the archive still reads the
    versions before it (the commit is uncommitted), and the commit becomes visible only after the file is
    written. SQLite writes the archive first, then the commit: the same file and the same result."""
    project, _ = backfilled
    old = _pjm(project)
    assert old is not None
    project.revise("PJM", PERIOD, old + 1000)
    seen: list[tuple[bool, float | None]] = []
    real = archive.write_archive

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(("postgresql" in project.db_url and _warehouse_lock_held(project), _pjm(project)))
        return real(*args, **kwargs)

    monkeypatch.setattr(archive, "write_archive", spy)
    template = REPLAY.replace("  validation:", "  archive: {{to: archive}}\n  validation:")
    op = project.apply(template, start="2024-01-02", end="2024-01-02", threshold=0.5)
    assert project.json("status", op, "--json")["status"] == "succeeded"
    assert seen == [("postgresql" in project.db_url, old)]
    assert _pjm(project) == old + 1000
    [file] = (project.root / "archive" / op).glob("*")
    _meta, versions = archive.read_archive(file)
    assert [v.value for v in versions if v.series_id == "PJM" and v.period == HOUR] == [old]
    code, out, err = project.run("rollback", op, "--auto-approve")
    assert code == 0, out + err
    assert _pjm(project) == old
