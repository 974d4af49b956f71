"""A Replay's `archive:` and `aurumplan gc`, on both databases, through the CLI as a user runs them.

What a user depends on: the versions a Replay replaces are in a Parquet file before anything becomes
current; gc deletes only what no rollback can need, so a rollback after gc restores the exact
checksum; a rollback that gc made impossible is refused until `archive restore` brings the versions back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from aurumplan import api
from aurumplan.apply.gc import ended_operations as ended
from aurumplan.state import open_state
from aurumplan.warehouse import open_warehouse
from tests.apply.common import run, write_config
from tests.doubles.fakeapis import EiaServer, Synth

BACKFILL = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: t-backfill}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {start: 2024-01-01, end: 2024-01-03}
  retries: {max: 2, backoff: 0.01s, maxBackoff: 0.05s}
  validation: {threshold: 0.5}
"""

REPLAY = """\
apiVersion: aurumplan/v1
kind: Replay
metadata: {{name: t-replay, reason: upstream revision}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {{start: 2024-01-02, end: 2024-01-02}}
  retries: {{max: 2, backoff: 0.01s, maxBackoff: 0.05s}}
  validation: {{threshold: 0.5}}
{archive}"""
ARCHIVE = "  archive: {to: archive, format: parquet}\n"
DAY = 3 * 24  # rows a replay of 2024-01-02 replaces


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=7), quota=None, until=1_900_000_000) as srv:
        yield srv


@pytest.fixture()
def project(tmp_path: Path, db_url: str, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EIA_API_KEY", "test-key-abc")
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, db_url, server.base_url)
    (tmp_path / "backfill.yaml").write_text(BACKFILL)
    (tmp_path / "replay.yaml").write_text(REPLAY.format(archive=ARCHIVE))
    (tmp_path / "plain.yaml").write_text(REPLAY.format(archive="").replace("t-replay", "t-plain"))
    return tmp_path


def ok(project: Path, *args: str) -> str:
    code, out, err = run(project, *args)
    assert code == 0, out + err
    return out


def ops(project: Path) -> list[dict]:
    return json.loads(ok(project, "ops", "list", "--json"))


def revise(server: EiaServer, value: float) -> None:
    server.data.override("eia", "electricity/rto/region-data", "PJM.D", "2024-01-02T05:00Z", value)


def versions(db_url: str) -> int:
    eng = sa.create_engine(db_url)
    with eng.connect() as c:
        n = int(c.execute(sa.text("SELECT COUNT(*) FROM observations")).scalar_one())
    eng.dispose()
    return n


def age(db_url: str, op_id: str, days: float) -> None:
    """Make an operation look as if it last changed `days` ago (the state's clock, as gc reads it)."""
    eng = sa.create_engine(db_url)
    with eng.begin() as c:
        c.execute(sa.text("UPDATE operations SET updated_at = :t WHERE id = :id"),
                  {"t": time.time() - days * 86400, "id": op_id})
    eng.dispose()


def gc(project: Path, *args: str) -> dict:
    return json.loads(ok(project, "gc", *args, "--json"))


def backfill_and_replay(project: Path, server: EiaServer, db_url: str, spec: str = "replay.yaml") -> tuple[str, str]:
    """Backfill two days, revise one value upstream, replay the second day: (checksum before, replay id)."""
    ok(project, "apply", "backfill.yaml", "--auto-approve")
    before = open_warehouse(db_url).current_checksum("eia")
    revise(server, 123456.0)
    ok(project, "apply", spec, "--auto-approve")
    return before, ops(project)[-1]["id"]


@pytest.mark.parametrize("archive", [ARCHIVE, "  archiveOriginals: true\n"], ids=["archive", "archiveOriginals"])
def test_replay_archives_what_it_replaces_and_report_lists_the_file(project: Path, db_url: str,
                                                                      server: EiaServer, archive: str) -> None:
    """CONTRACT.md's `archiveOriginals: true` archives to the spec folder's archive/, as `archive:` does."""
    (project / "replay.yaml").write_text(REPLAY.format(archive=archive))
    ok(project, "apply", "backfill.yaml", "--auto-approve")
    backfill_id = ops(project)[-1]["id"]
    old = {(r.series_id, r.period): r.value for r in open_warehouse(db_url).read_rows("eia", "ELEC.DEMAND")}
    revise(server, 123456.0)
    ok(project, "apply", "replay.yaml", "--auto-approve")
    replay_id = ops(project)[-1]["id"]
    files = sorted((project / "archive" / replay_id).glob("*.parquet"))
    assert [f.name.split("-")[0] for f in files] == ["ELEC.DEMAND"]
    table = pq.read_table(files[0]).to_pylist()
    assert len(table) == DAY
    assert {r["load_id"].split(":")[0] for r in table} == {backfill_id}
    assert {r["replaced_by"].split(":")[0] for r in table} == {replay_id}
    assert all(r["value"] == old[(r["series_id"], int(r["period"].timestamp()))] for r in table)
    report = json.loads(ok(project, "report", replay_id, "--json"))
    assert report["archives"] == [{"dataset": "ELEC.DEMAND", "file": str(files[0]), "rows": DAY,
                                   "format": "parquet"}]
    assert str(files[0]) in ok(project, "report", replay_id)


def test_gc_keeps_what_a_rollback_needs_and_twice_is_a_no_op(project: Path, db_url: str, server: EiaServer) -> None:
    before, replay_id = backfill_and_replay(project, server, db_url)
    backfill_id = ops(project)[0]["id"]
    age(db_url, backfill_id, 400)  # the backfill is old; the replay that replaced its rows is recent
    dry = gc(project, "--older-than", "90d", "--dry-run")
    out = gc(project, "--older-than", "90d")
    assert (dry["rows"], out["rows"], out["bytes"]) == (0, 0, 0)
    assert replay_id in out["kept"]["inside_retention"]
    assert versions(db_url) == 3 * DAY + DAY
    ok(project, "rollback", replay_id, "--auto-approve")
    assert open_warehouse(db_url).current_checksum("eia") == before
    # Rolled back, the replay's own rows serve no one once it is outside the retention.
    age(db_url, replay_id, 100)
    dry = gc(project, "--older-than", "90d", "--dry-run")
    out = gc(project, "--older-than", "90d")
    assert dry["rows"] == out["rows"] == DAY and dry["bytes"] == out["bytes"] > DAY * 40
    assert out["links"] == DAY and out["operations"] == [replay_id]
    assert out["datasets"] == [{"source": "eia", "dataset": "ELEC.DEMAND", "rows": DAY, "bytes": out["bytes"]}]
    assert open_warehouse(db_url).current_checksum("eia") == before
    assert versions(db_url) == 3 * DAY
    again = gc(project, "--older-than", "90d")
    assert (again["rows"], again["bytes"], again["links"]) == (0, 0, 0)


def test_rollback_after_gc_is_refused_until_the_archive_is_restored(project: Path, db_url: str,
                                                                     server: EiaServer) -> None:
    before, replay_id = backfill_and_replay(project, server, db_url)
    after = open_warehouse(db_url).current_checksum("eia")
    out = gc(project, "--older-than", "0m")  # everything ended is outside a zero retention
    assert out["rows"] == DAY
    [lost] = out["no_longer_rollbackable"]
    assert lost["operation"] == replay_id and len(lost["archives"]) == 1
    code, _, err = run(project, "rollback", replay_id, "--auto-approve")
    assert code == 1 and "Traceback" not in err
    assert f"cannot roll back {replay_id}: `aurumplan gc` removed versions it replaced" in err
    assert "aurumplan archive restore FILE" in err and lost["archives"][0] in err
    assert open_warehouse(db_url).current_checksum("eia") == after  # nothing changed
    assert "Restored 72 of 72" in ok(project, "archive", "restore", lost["archives"][0])
    assert "Restored 0 of 72" in ok(project, "archive", "restore", lost["archives"][0])  # idempotent
    ok(project, "rollback", replay_id, "--auto-approve")
    assert open_warehouse(db_url).current_checksum("eia") == before


def test_without_an_archive_the_refusal_says_the_versions_are_gone(project: Path, db_url: str,
                                                                    server: EiaServer) -> None:
    _, replay_id = backfill_and_replay(project, server, db_url, "plain.yaml")
    assert not (project / "archive").exists()
    text = ok(project, "gc", "--older-than", "0m", "--dry-run")
    assert text.startswith("Would delete 72 superseded version(s)") and "Nothing was deleted (--dry-run)." in text
    assert f"{replay_id} could no longer roll back (it wrote no archive)" in text
    assert gc(project, "--older-than", "0m")["rows"] == DAY
    code, _, err = run(project, "rollback", replay_id, "--auto-approve")
    assert code == 1 and "wrote no archive" in err


def test_a_tampered_archive_restores_nothing(project: Path, db_url: str, server: EiaServer) -> None:
    _, replay_id = backfill_and_replay(project, server, db_url)
    [file] = (project / "archive" / replay_id).glob("*.parquet")
    gc(project, "--older-than", "0m")
    table = pq.read_table(file)
    rows = table.to_pylist()
    rows[0]["value"] = -1.0
    forged = project / "forged.parquet"
    header = {k: v for k, v in (pq.read_metadata(file).metadata or {}).items() if k == b"aurumplan.archive"}
    assert header
    pq.write_table(table.from_pylist(rows, schema=table.schema).replace_schema_metadata(header), forged)
    code, _, err = run(project, "archive", "restore", str(forged))
    assert code == 1 and "do not match the digest" in err
    assert versions(db_url) == 3 * DAY


def test_gc_never_touches_an_operation_that_can_still_resume(project: Path, db_url: str, server: EiaServer) -> None:
    ok(project, "apply", "backfill.yaml", "--auto-approve")
    before = open_warehouse(db_url).current_checksum("eia")
    revise(server, 123456.0)
    env = {**os.environ, "AURUMPLAN_CRASH_AT": "after-warehouse-commit"}
    killed = subprocess.run([sys.executable, "-m", "aurumplan.cli.main", "--config", str(project / "aurumplan.yaml"),
                             "apply", "replay.yaml", "--auto-approve"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9
    replay_id = ops(project)[-1]["id"]
    out = gc(project, "--older-than", "0m")  # the replay is switched but interrupted: still `running`
    assert out["rows"] == 0 and {"operation": replay_id, "status": "running"} in out["kept"]["not_ended"]
    ok(project, "resume", replay_id)
    ok(project, "rollback", replay_id, "--auto-approve")
    assert open_warehouse(db_url).current_checksum("eia") == before


def test_crash_between_archive_and_switch_then_resume_writes_one_file(project: Path, db_url: str,
                                                                      server: EiaServer) -> None:
    ok(project, "apply", "backfill.yaml", "--auto-approve")
    before = open_warehouse(db_url).current_checksum("eia")
    revise(server, 123456.0)
    env = {**os.environ, "AURUMPLAN_CRASH_AT": "after-archive"}
    killed = subprocess.run([sys.executable, "-m", "aurumplan.cli.main", "--config", str(project / "aurumplan.yaml"),
                             "apply", "replay.yaml", "--auto-approve"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9
    replay_id = ops(project)[-1]["id"]
    [file] = (project / "archive" / replay_id).glob("*")
    written = file.read_bytes()
    assert open_warehouse(db_url).current_checksum("eia") == before  # archived, not switched
    ok(project, "resume", replay_id)
    assert [f.name for f in (project / "archive" / replay_id).iterdir()] == [file.name]
    assert file.read_bytes() == written
    assert open_warehouse(db_url).current_checksum("eia") != before


def test_two_operations_archiving_the_same_range_keep_both_files(project: Path, db_url: str,
                                                                 server: EiaServer) -> None:
    backfill_and_replay(project, server, db_url)
    revise(server, 654321.0)
    (project / "again.yaml").write_text(REPLAY.format(archive=ARCHIVE).replace("t-replay", "t-again"))
    ok(project, "apply", "again.yaml", "--auto-approve")
    first, second = (o["id"] for o in ops(project)[1:])
    files = sorted((project / "archive").rglob("*.parquet"))
    assert [f.parent.name for f in files] == sorted([first, second])
    replaced = {f.parent.name: {r["replaced_by"].split(":")[0] for r in pq.read_table(f).to_pylist()} for f in files}
    assert replaced == {first: {first}, second: {second}}


def test_gc_racing_an_apply_keeps_everything_its_rollback_needs(project: Path, db_url: str,
                                                                server: EiaServer) -> None:
    ok(project, "apply", "backfill.yaml", "--auto-approve")
    ok(project, "apply", "plain.yaml", "--auto-approve")  # an old replay, rolled back: garbage for gc
    old_replay = ops(project)[-1]["id"]
    ok(project, "rollback", old_replay, "--auto-approve")
    for o in ops(project):
        age(db_url, o["id"], 400)
    before = open_warehouse(db_url).current_checksum("eia")
    revise(server, 123456.0)
    ctx = api.context(project / "aurumplan.yaml", project)
    freed: list[int] = []
    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set():
            freed.append(api.gc(ctx, "90d")["rows"])

    worker = threading.Thread(target=collect)
    worker.start()
    try:
        ok(project, "apply", "replay.yaml", "--auto-approve")
    finally:
        stop.set()
        worker.join(timeout=60)
    assert sum(freed) == DAY  # the rolled-back replay's rows, once
    replay_id = ops(project)[-1]["id"]
    assert api.gc(ctx, "90d")["rows"] == 0
    ok(project, "rollback", replay_id, "--auto-approve")
    assert open_warehouse(db_url).current_checksum("eia") == before


def test_bad_age_is_one_line(project: Path) -> None:
    code, _, err = run(project, "gc", "--older-than", "ninety days")
    assert code == 1 and "use a whole number of days, hours or minutes, e.g. 90d" in err and "Traceback" not in err


def test_a_failed_attempt_is_kept_until_a_later_attempt_supersedes_it(tmp_path: Path) -> None:
    first = "REPLAY_20240102_EIA_abc123"
    with open_state(f"sqlite:///{tmp_path / 'state.db'}") as store:
        store.create_operation(first, "Replay", "eia", status="failed")
        assert ended(store.list_operations()) == set()  # it can still resume
        store.create_operation(f"{first}-a2", "Replay", "eia", status="running", parent_id=first,
                               now=time.time() + 1)
        assert ended(store.list_operations()) == {first}  # resume now refuses it: superseded


def test_archive_and_archive_originals_together_are_refused_at_archive(project: Path) -> None:
    (project / "both.yaml").write_text(REPLAY.format(archive="  archiveOriginals: true\n" + ARCHIVE))
    code, out, err = run(project, "validate", "both.yaml")
    assert code == 1
    assert "both.yaml:12:3:" in out + err and "remove archiveOriginals" in out + err
