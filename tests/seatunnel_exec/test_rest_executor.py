"""seatunnel-rest: real HTTP to the fake Zeta REST API v2, which fetches from the fake EIA API."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from aurumplan.catalog import SourceDef
from aurumplan.errors import ExecutorError
from aurumplan.executors.base import Stopped
from aurumplan.executors.local import LocalExecutor
from aurumplan.executors.seatunnel.executor import job_id_for
from aurumplan.executors.seatunnel.factory import make_seatunnel_executor
from aurumplan.executors.seatunnel.rest import SeaTunnelRestExecutor
from aurumplan.warehouse import Warehouse, open_warehouse
from tests.doubles.seatunnel import FakeZetaServer
from tests.seatunnel_exec.conftest import EIA_KEY, END, START, JobFactory, build_job, make_config, when
from tests.seatunnel_exec.test_cli_executor import _NoLimit


def rest_executor(tmp_path: Path, db_url: str, zeta: FakeZetaServer) -> SeaTunnelRestExecutor:
    config = make_config(tmp_path, db_url, "seatunnel-rest", rest_url=zeta.base_url)
    ex = make_seatunnel_executor(config, Warehouse(db_url), _NoLimit())
    assert isinstance(ex, SeaTunnelRestExecutor)
    return ex


def test_stages_what_the_local_executor_stages(tmp_path: Path, db_url: str, zeta: FakeZetaServer,
                                                warehouse: Warehouse, make_job: JobFactory,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    recorded: list[str] = []
    job = make_job("ELEC.DEMAND/extract/00001", recorded=recorded)
    counters = rest_executor(tmp_path, db_url, zeta).run_extract(job)
    ours = [r.getMessage() for r in caplog.records if r.threadName == "MainThread"]  # not the fake cluster's
    assert ours and EIA_KEY not in "\n".join(ours)

    local_job = make_job("ELEC.DEMAND/extract/00002")
    LocalExecutor(warehouse, _NoLimit()).run_extract(local_job)
    expected = warehouse.load_stats(local_job.load_id)
    assert expected[0] == 96
    assert warehouse.load_stats(job.load_id) == expected
    assert (counters.requests, counters.records) == (1, 96)
    assert [s[0] for s in zeta.submissions] == recorded and int(recorded[0]) > 2**53
    assert zeta.submissions[0][1] == f"{job.operation_id}.ELEC.DEMAND_extract_00001.{recorded[0]}"


def test_failed_job_raises_its_error_message(tmp_path: Path, db_url: str, zeta: FakeZetaServer,
                                             make_job: JobFactory) -> None:
    zeta.fail = "ErrorCode:[HTTP-01] upstream exploded"
    with pytest.raises(ExecutorError, match="failed: ErrorCode:\\[HTTP-01\\] upstream exploded"):
        rest_executor(tmp_path, db_url, zeta).run_extract(make_job())


def test_unresolved_key_fails_the_job_not_leaks_it(tmp_path: Path, db_url: str, zeta: FakeZetaServer,
                                                   make_job: JobFactory) -> None:
    job = make_job()
    job.api_key = "wrong-key-0000"
    with pytest.raises(ExecutorError, match=r"status code:\[403\]"):
        rest_executor(tmp_path, db_url, zeta).run_extract(job)


def test_pause_stops_with_savepoint_and_raises_stopped(tmp_path: Path, db_url: str, zeta: FakeZetaServer,
                                                       make_job: JobFactory) -> None:
    zeta.slow = 30
    recorded: list[str] = []
    job = make_job(recorded=recorded)
    when(lambda: bool(zeta.submissions), job.stop.set)
    with pytest.raises(Stopped):
        rest_executor(tmp_path, db_url, zeta).run_extract(job)
    assert zeta.stops == [{"jobId": int(recorded[0]), "isStopWithSavePoint": True}]
    assert zeta.jobs[recorded[0]].status == "SAVEPOINT_DONE"


def test_resume_of_a_finished_job_does_not_resubmit(tmp_path: Path, db_url: str, zeta: FakeZetaServer,
                                                    warehouse: Warehouse, make_job: JobFactory) -> None:
    recorded: list[str] = []
    ex = rest_executor(tmp_path, db_url, zeta)
    ex.run_extract(make_job(recorded=recorded))
    again: list[str] = []
    counters = ex.run_extract(make_job(external_id=recorded[0], recorded=again))
    assert len(zeta.submissions) == 1 and again == []
    assert counters.records == warehouse.load_stats(make_job().load_id)[0] == 96


def test_resume_of_a_running_job_follows_it(tmp_path: Path, db_url: str, zeta: FakeZetaServer,
                                            warehouse: Warehouse, make_job: JobFactory) -> None:
    """aurumplan died right after submitting: the resumed node polls the same job to its end."""
    zeta.slow = 0.5
    ex = rest_executor(tmp_path, db_url, zeta)
    job = make_job()
    first = job_id_for(job.load_id)
    ex._submit(job, first, ex.prepare(job))
    assert zeta.jobs[first].status in ("CREATED", "RUNNING")
    counters = ex.run_extract(make_job(external_id=first))
    assert [s[0] for s in zeta.submissions] == [first]
    assert counters.records == 96


def test_resume_after_history_expired_resubmits_under_a_new_id(tmp_path: Path, db_url: str, warehouse: Warehouse,
                                                               make_job: JobFactory) -> None:
    with FakeZetaServer(expire_history=True, lower_camel_metrics=True) as zeta:
        ex = rest_executor(tmp_path, db_url, zeta)
        recorded: list[str] = []
        job = make_job(recorded=recorded)
        first = job_id_for(job.load_id)
        ex._submit(job, first, ex.prepare(job))
        assert zeta.wait(first)
        assert warehouse.load_stats(job.load_id)[0] == 96
        zeta.expire_history = False
        counters = ex.run_extract(make_job(external_id=first, recorded=recorded))
    assert [s[0] for s in zeta.submissions] == [first, recorded[0]] and recorded[0] != first
    assert counters.records == warehouse.load_stats(job.load_id)[0] == 96


def test_job_forgotten_while_polled_is_not_accepted(tmp_path: Path, db_url: str, make_job: JobFactory) -> None:
    with FakeZetaServer(expire_history=True) as zeta, \
            pytest.raises(ExecutorError, match="no longer knows job"):
        rest_executor(tmp_path, db_url, zeta).run_extract(make_job())


def test_resume_of_a_finished_job_whose_rows_do_not_match_reruns_it(tmp_path: Path, db_url: str,
                                                                    zeta: FakeZetaServer, warehouse: Warehouse,
                                                                    make_job: JobFactory) -> None:
    recorded: list[str] = []
    ex = rest_executor(tmp_path, db_url, zeta)
    job = make_job(recorded=recorded)
    ex.run_extract(job)
    warehouse.write_batch(job.load_id, [("eia", "ELEC.DEMAND", "MISO", 0, 1.0, "megawatthours", None)])
    counters = ex.run_extract(make_job(external_id=recorded[0], recorded=recorded))
    assert len(zeta.submissions) == 2 and recorded[1] != recorded[0]
    assert counters.records == warehouse.load_stats(job.load_id)[0] == 96


def test_rows_written_by_someone_else_during_the_job_fail_the_commit_check(
        tmp_path: Path, db_url: str, zeta: FakeZetaServer, warehouse: Warehouse, make_job: JobFactory) -> None:
    zeta.slow = 1.0
    job = make_job()
    stray = ("eia", "ELEC.DEMAND", "MISO", 0, 1.0, "megawatthours", None)
    when(lambda: bool(zeta.submissions), lambda: warehouse.write_batch(job.load_id, [stray]))
    with pytest.raises(ExecutorError, match="96 rows written but 97 are staged"):
        rest_executor(tmp_path, db_url, zeta).run_extract(job)


def test_a_window_bridging_loaded_periods_stages_only_its_targets(tmp_path: Path, db_url: str,
                                                                  zeta: FakeZetaServer, warehouse: Warehouse,
                                                                  make_job: JobFactory) -> None:
    targets = ((START, START + 10 * 3600), (START + 20 * 3600, END))
    job = make_job("ELEC.DEMAND/extract/00001", targets=targets)
    counters = rest_executor(tmp_path, db_url, zeta).run_extract(job)
    local_job = make_job("ELEC.DEMAND/extract/00002", targets=targets)
    LocalExecutor(warehouse, _NoLimit()).run_extract(local_job)
    assert counters.records == 76
    assert warehouse.load_stats(job.load_id) == warehouse.load_stats(local_job.load_id)


def test_two_projects_with_the_same_operation_never_collide_on_one_cluster(
        tmp_path: Path, db_url: str, zeta: FakeZetaServer, source: SourceDef, make_job: JobFactory) -> None:
    """Same spec, same day, two warehouses, one cluster: identical operation, node and load ids.

    The second submission must be a job of its own (not refused as an id already seen, not following the
    first project's job), and each project loads its own 96 rows.
    """
    zeta.slow = 0.5
    other = open_warehouse(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        first: list[str] = []
        second: list[str] = []
        job_a = make_job(recorded=first)
        job_b = build_job(source, other, record=second.append)
        assert (job_a.operation_id, job_a.node_id, job_a.load_id) == (job_b.operation_id, job_b.node_id,
                                                                      job_b.load_id)
        ex_a = rest_executor(tmp_path / "a", db_url, zeta)
        config_b = make_config(tmp_path / "b", f"sqlite:///{tmp_path / 'other.db'}", "seatunnel-rest",
                               rest_url=zeta.base_url)
        ex_b = make_seatunnel_executor(config_b, other, _NoLimit())
        results: dict[str, int] = {}
        worker = threading.Thread(target=lambda: results.__setitem__("a", ex_a.run_extract(job_a).records))
        worker.start()
        results["b"] = ex_b.run_extract(job_b).records
        worker.join(30)
        ids = [s[0] for s in zeta.submissions]
        names = [s[1] for s in zeta.submissions]
        assert sorted(ids) == sorted(first + second) and len(set(ids)) == 2
        assert len(set(names)) == 2
        assert results == {"a": 96, "b": 96}
        assert other.load_stats(job_b.load_id)[0] == 96
    finally:
        other.close()
