"""seatunnel-cli: a real subprocess (the fake seatunnel.sh) fetching from the fake EIA API into the warehouse."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aurumplan.errors import ExecutorError
from aurumplan.executors.base import Stopped
from aurumplan.executors.local import LocalExecutor
from aurumplan.executors.seatunnel.cli import SeaTunnelCliExecutor
from aurumplan.executors.seatunnel.factory import make_seatunnel_executor
from aurumplan.warehouse import Warehouse
from tests.doubles.fakeapis import EiaServer
from tests.seatunnel_exec.conftest import EIA_KEY, JobFactory, fake_state, make_config, when


class _NoLimit:
    def acquire(self) -> None: ...

    def on_throttle(self, retry_after: float | None = None) -> None: ...

    def on_success(self) -> None: ...


def cli_executor(tmp_path: Path, db_url: str, home: Path, mode: str = "cluster") -> SeaTunnelCliExecutor:
    config = make_config(tmp_path, db_url, "seatunnel-cli", home=str(home), deploy_mode=mode)
    ex = make_seatunnel_executor(config, Warehouse(db_url), _NoLimit())
    assert isinstance(ex, SeaTunnelCliExecutor)
    return ex


def test_stages_what_the_local_executor_stages(tmp_path: Path, db_url: str, st_home: Path, warehouse: Warehouse,
                                                make_job: JobFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aurumplan.seatunnel")
    recorded: list[str] = []
    job = make_job("ELEC.DEMAND/extract/00001", recorded=recorded)
    counters = cli_executor(tmp_path, db_url, st_home).run_extract(job)

    local_job = make_job("ELEC.DEMAND/extract/00002")
    LocalExecutor(warehouse, _NoLimit()).run_extract(local_job)
    expected = warehouse.load_stats(local_job.load_id)
    assert expected[0] == 96
    assert warehouse.load_stats(job.load_id) == expected
    rows = {(r.series_id, r.value, json.dumps(r.attributes))
            for r in warehouse.read_rows("eia", "ELEC.DEMAND", load_id=job.load_id) if r.value is None}
    assert rows == {("PJM", None, '{"marker": "NA"}'), ("MISO", None, '{"marker": "null"}')}
    assert (counters.requests, counters.records) == (1, 96)

    subs = fake_state(st_home, "submissions.jsonl")
    assert [s["jobId"] for s in subs] == recorded and len(recorded) == 1
    assert subs[0]["master"] == "cluster"
    assert subs[0]["jobName"] == f"{job.operation_id}.ELEC.DEMAND_extract_00001.{recorded[0]}"
    assert any("Total Write Count" in r.getMessage() for r in caplog.records)


def test_secret_never_in_config_argv_or_logs(tmp_path: Path, db_url: str, st_home: Path, make_job: JobFactory,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aurumplan.seatunnel")
    cli_executor(tmp_path, db_url, st_home).run_extract(make_job())
    written = [p for p in (tmp_path / "logs").rglob("*") if p.is_file()]
    conf = [p for p in written if p.suffix == ".conf"]
    assert len(conf) == 1 and "${EIA_API_KEY}" in conf[0].read_text()
    assert any(p.suffix == ".log" for p in written)
    for p in written:
        assert EIA_KEY not in p.read_text(), p
    assert EIA_KEY not in (st_home / "fake-state" / "calls.jsonl").read_text()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert EIA_KEY not in text
    assert '"api_key": "***"' in text  # the client printed the resolved key; the executor masked it


def test_failed_job_raises_with_log_tail(tmp_path: Path, db_url: str, st_home: Path, make_job: JobFactory,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SEATUNNEL_FAIL", "ErrorCode:[HTTP-01] upstream exploded")
    with pytest.raises(ExecutorError, match=r"failed \(exit 1\)") as err:
        cli_executor(tmp_path, db_url, st_home).run_extract(make_job())
    assert "upstream exploded" in str(err.value)
    assert EIA_KEY not in str(err.value)


def test_pause_cancels_the_job_and_raises_stopped(tmp_path: Path, db_url: str, st_home: Path,
                                                  make_job: JobFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SEATUNNEL_SLOW", "30")
    recorded: list[str] = []
    job = make_job(recorded=recorded)
    when(lambda: bool(fake_state(st_home, "submissions.jsonl")), job.stop.set)
    with pytest.raises(Stopped):
        cli_executor(tmp_path, db_url, st_home).run_extract(job)
    cancels = [c["argv"] for c in fake_state(st_home, "calls.jsonl") if "-can" in c["argv"]]
    assert cancels == [["-can", recorded[0]]]
    info = subprocess.run([str(st_home / "bin" / "seatunnel.sh"), "-j", recorded[0]], capture_output=True,
                          text=True, check=True)
    assert '"jobStatus": "CANCELED"' in info.stdout


def test_local_mode_pause_terminates_the_client(tmp_path: Path, db_url: str, st_home: Path, make_job: JobFactory,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SEATUNNEL_SLOW", "30")
    job = make_job()
    when(lambda: bool(fake_state(st_home, "submissions.jsonl")), job.stop.set)
    with pytest.raises(Stopped):
        cli_executor(tmp_path, db_url, st_home, mode="local").run_extract(job)
    assert not [c for c in fake_state(st_home, "calls.jsonl") if "-can" in c["argv"]]
    assert fake_state(st_home, "submissions.jsonl")[0]["master"] == "local"


def test_resume_accepts_a_finished_job_without_resubmitting(tmp_path: Path, db_url: str, st_home: Path,
                                                            warehouse: Warehouse, make_job: JobFactory) -> None:
    recorded: list[str] = []
    ex = cli_executor(tmp_path, db_url, st_home)
    ex.run_extract(make_job(recorded=recorded))
    stats = warehouse.load_stats(make_job().load_id)

    again: list[str] = []
    counters = ex.run_extract(make_job(external_id=recorded[0], recorded=again))
    assert len(fake_state(st_home, "submissions.jsonl")) == 1 and again == []
    assert counters.records == 96 and warehouse.load_stats(make_job().load_id) == stats


def test_resume_after_a_cancelled_job_discards_and_resubmits(tmp_path: Path, db_url: str, st_home: Path,
                                                             warehouse: Warehouse, make_job: JobFactory,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SEATUNNEL_SLOW", "30")
    recorded: list[str] = []
    job = make_job(recorded=recorded)
    when(lambda: bool(fake_state(st_home, "submissions.jsonl")), job.stop.set)
    ex = cli_executor(tmp_path, db_url, st_home)
    with pytest.raises(Stopped):
        ex.run_extract(job)
    monkeypatch.delenv("FAKE_SEATUNNEL_SLOW")
    counters = ex.run_extract(make_job(external_id=recorded[0], recorded=recorded))
    assert len(recorded) == 2 and recorded[1] != recorded[0]
    assert [s["jobId"] for s in fake_state(st_home, "submissions.jsonl")] == recorded
    assert counters.records == warehouse.load_stats(job.load_id)[0] == 96


def test_rows_left_by_an_earlier_attempt_are_replaced(tmp_path: Path, db_url: str, st_home: Path,
                                                      warehouse: Warehouse, make_job: JobFactory) -> None:
    job = make_job()
    warehouse.write_batch(job.load_id, [("eia", "ELEC.DEMAND", "MISO", 0, 1.0, "megawatthours", None)])
    counters = cli_executor(tmp_path, db_url, st_home).run_extract(job)
    assert counters.records == warehouse.load_stats(job.load_id)[0] == 96


def test_replay_transform_is_refused(tmp_path: Path, db_url: str, st_home: Path, make_job: JobFactory) -> None:
    job = make_job(transform=lambda r: r)
    with pytest.raises(ExecutorError, match="cannot run inside SeaTunnel"):
        cli_executor(tmp_path, db_url, st_home).run_extract(job)
    assert fake_state(st_home, "submissions.jsonl") == []


def test_resume_after_kill_9_follows_the_job_instead_of_resubmitting(
        tmp_path: Path, db_url: str, st_home: Path, eia: EiaServer, warehouse: Warehouse, make_job: JobFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """aurumplan is killed while the cluster job runs; the resumed node finds it by its recorded id."""
    monkeypatch.setenv("FAKE_SEATUNNEL_SLOW", "2")
    id_file = tmp_path / "external_id"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.seatunnel_exec.crash_runner", db_url, str(st_home),
                             eia.base_url, str(id_file), str(tmp_path)], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    deadline = time.monotonic() + 30
    while not fake_state(st_home, "submissions.jsonl") and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert id_file.read_text() == fake_state(st_home, "submissions.jsonl")[0]["jobId"]
    monkeypatch.delenv("FAKE_SEATUNNEL_SLOW")

    counters = cli_executor(tmp_path, db_url, st_home).run_extract(make_job(external_id=id_file.read_text()))
    assert len(fake_state(st_home, "submissions.jsonl")) == 1
    assert counters.records == warehouse.load_stats(make_job().load_id)[0] == 96
