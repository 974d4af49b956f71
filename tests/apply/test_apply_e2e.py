"""apply, replay, rollback, cancel and saved-plan staleness against the local EIA server, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurumplan.warehouse import open_warehouse
from tests.apply.common import run, write_config
from tests.doubles.fakeapis import EiaServer, Synth

BACKFILL = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: t-backfill, owner: tests}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {{start: {start}, end: {end}}}
  concurrency: 2
  batchSize: 500
  retries: {{max: 3, backoff: 0.01s, maxBackoff: 0.05s}}
  validation: {{threshold: 0.5}}
"""

REPLAY = """\
apiVersion: aurumplan/v1
kind: Replay
metadata: {{name: t-replay, reason: upstream revision}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {{start: {start}, end: {end}}}
  retries: {{max: 2, backoff: 0.01s, maxBackoff: 0.05s}}
  validation: {{threshold: 0.5}}
"""


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=7), quota=None, until=1_900_000_000) as srv:
        yield srv


@pytest.fixture()
def project(tmp_path: Path, db_url: str, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EIA_API_KEY", "test-key-abc")
    write_config(tmp_path, db_url, server.base_url)
    (tmp_path / "backfill.yaml").write_text(BACKFILL.format(start="2024-01-01", end="2024-01-03"))
    (tmp_path / "replay.yaml").write_text(REPLAY.format(start="2024-01-02", end="2024-01-02"))
    return tmp_path


def current(db_url: str) -> list[tuple]:
    eng = sa.create_engine(db_url)
    with eng.connect() as c:
        rows = c.execute(sa.text("SELECT series_id, period, value, load_id FROM observations_current "
                                 "ORDER BY series_id, period")).all()
    eng.dispose()
    return [tuple(r) for r in rows]


def test_backfill_then_nothing_left(project: Path, db_url: str, server: EiaServer) -> None:
    code, out, err = run(project, "apply", str(project / "backfill.yaml"), "--auto-approve")
    assert code == 0, out + err
    assert "succeeded" in out
    rows = current(db_url)
    assert len(rows) == 3 * 72 and len({(r[0], r[1]) for r in rows}) == 3 * 72
    assert server.requests == 1
    code, out, _ = run(project, "plan", str(project / "backfill.yaml"), "--detailed-exitcode")
    assert code == 0 and "0 periods to create" in out and "216 unchanged" in out
    code, out, _ = run(project, "ops", "list", "--json")
    ops = json.loads(out)
    assert ops[0]["status"] == "succeeded" and ops[0]["kind"] == "Backfill"


def test_replay_switches_atomically_and_rollback_restores_checksum(project: Path, db_url: str,
                                                                   server: EiaServer) -> None:
    assert run(project, "apply", str(project / "backfill.yaml"), "--auto-approve")[0] == 0
    wh = open_warehouse(db_url)
    before = wh.current_checksum("eia")
    server.data.override("eia", "electricity/rto/region-data", "PJM.D", "2024-01-02T05:00Z", 123456.0)
    code, out, err = run(project, "apply", str(project / "replay.yaml"), "--auto-approve")
    assert code == 0, out + err
    after = wh.current_checksum("eia")
    assert after != before
    rows = current(db_url)
    assert len(rows) == 216
    assert next(r for r in rows if r[0] == "PJM" and str(r[1]).startswith("2024-01-02 05"))[2] == 123456.0
    replay_id = json.loads(run(project, "ops", "list", "--json")[1])[-1]["id"]
    assert replay_id.startswith("REPLAY_20240102_EIA_")
    eng = sa.create_engine(db_url)
    with eng.connect() as c:
        versions = c.execute(sa.text("SELECT COUNT(*) FROM observations")).scalar()
    eng.dispose()
    assert versions == 216 + 72  # both versions of the replayed day are kept
    code, out, err = run(project, "rollback", replay_id, "--auto-approve")
    assert code == 0, out + err
    assert wh.current_checksum("eia") == before
    statuses = {o["id"]: o["status"] for o in json.loads(run(project, "ops", "list", "--json")[1])}
    assert statuses[replay_id] == "rolled_back"
    code, out, _ = run(project, "plan", str(project / "backfill.yaml"), "--detailed-exitcode")
    assert code == 0, out


def test_saved_plan_stale_only_when_touched_ranges_change(project: Path, db_url: str) -> None:
    assert run(project, "plan", str(project / "backfill.yaml"), "-o", str(project / "p.json"))[0] == 0
    other = project / "other.yaml"
    other.write_text(BACKFILL.format(start="2024-02-01", end="2024-02-01"))
    assert run(project, "apply", str(other), "--auto-approve")[0] == 0
    code, out, err = run(project, "apply", str(project / "p.json"))
    assert code == 0, out + err
    assert run(project, "plan", str(project / "replay.yaml"), "-o", str(project / "r.json"))[0] == 0
    overlap = project / "overlap.yaml"
    overlap.write_text(REPLAY.format(start="2024-01-02", end="2024-01-02").replace("t-replay", "t-other"))
    assert run(project, "apply", str(overlap), "--auto-approve")[0] == 0
    code, out, err = run(project, "apply", str(project / "r.json"))
    assert code == 1
    assert "stale" in err and "REPLAY_20240102_EIA_" in err and "Traceback" not in err


def test_cancel_leaves_no_active_partial_data(project: Path, db_url: str, server: EiaServer) -> None:
    server.fail_next(100, status=500)
    code, _, err = run(project, "apply", str(project / "backfill.yaml"), "--auto-approve")
    assert code == 1
    assert "failure log" in err
    op = json.loads(run(project, "ops", "list", "--json")[1])[0]
    assert op["status"] == "failed"
    log = (project / ".aurumplan" / "logs" / f"failed_records_{op['id']}.jsonl").read_text().splitlines()
    line = json.loads(log[0])
    assert line["dataset"] == "ELEC.DEMAND" and "test-key-abc" not in log[0]
    code, _out, err = run(project, "cancel", op["id"], "--force")
    assert code == 0, err
    assert current(db_url) == []
    server.fail_next(0)


def test_apply_spec_without_terminal_refuses(project: Path) -> None:
    code, _, err = run(project, "apply", str(project / "backfill.yaml"))
    assert code == 1 and "--auto-approve" in err
