"""The quality gate in apply: bad staged data never becomes current."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurumplan.intervals import HOUR, parse_ts
from aurumplan.testing.fakeapis import EiaServer, Synth
from aurumplan.warehouse import open_warehouse
from tests.apply.common import run, write_config

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: gate}}
spec:
  source: eia
  datasets: [{datasets}]
  series: [PJM, MISO]
  window: {{start: 2024-01-01, end: 2024-01-02}}
  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.05s}}
  validation: {{checks: [accuracy], threshold: 0.99, onFailure: {on_failure}}}
"""


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    data = Synth(seed=9)
    start = parse_ts("2024-01-01")
    for h in range(0, 48, 2):  # every other hour of PJM net generation is absurd: 24 of 96 rows out of range
        data.override("eia", "electricity/rto/region-data", "PJM.NG", start + h * HOUR, 9e9)
    with EiaServer(data=data, quota=None, until=1_900_000_000) as srv:
        yield srv


def project(tmp_path: Path, db_url: str, server: EiaServer, datasets: str, on_failure: str) -> Path:
    write_config(tmp_path, db_url, server.base_url)
    (tmp_path / "spec.yaml").write_text(SPEC.format(datasets=datasets, on_failure=on_failure))
    return tmp_path


def ops(project: Path) -> list[dict]:
    return json.loads(run(project, "ops", "list", "--json")[1])


@pytest.mark.usefixtures("monkeypatch")
def test_halt_keeps_current_unchanged_and_operation_resumable(tmp_path: Path, db_url: str, server: EiaServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path, db_url, server, "ELEC.NETGEN", "halt")
    wh = open_warehouse(db_url)
    before = wh.current_checksum()
    code, _, err = run(proj, "apply", str(proj / "spec.yaml"), "--auto-approve")
    assert code == 1 and "below the threshold" in err
    assert wh.current_checksum() == before
    op = ops(proj)[0]
    assert op["status"] == "halted"
    staged = [ld for ld in wh.loads_for_operation(op["id"]) if ld.status == "staged"]
    assert staged and sum(ld.records for ld in staged) == 96  # kept for inspection
    served = server.requests
    code, out, err = run(proj, "resume", op["id"])  # resumable: the halted ranges are fetched again, then judged
    assert code == 1 and "below the threshold" in err
    assert "fetched again, not validated again" in out
    assert server.requests > served
    assert wh.current_checksum() == before
    assert ops(proj)[0]["status"] == "halted"


def test_warn_records_and_commits(tmp_path: Path, db_url: str, server: EiaServer,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path, db_url, server, "ELEC.NETGEN", "warn")
    code, out, err = run(proj, "apply", str(proj / "spec.yaml"), "--auto-approve")
    assert code == 0, out + err
    assert open_warehouse(db_url).count_current("eia") == 96


def test_rollback_undoes_the_operations_earlier_commits(tmp_path: Path, db_url: str, server: EiaServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path, db_url, server, "ELEC.DEMAND, ELEC.NETGEN", "rollback")
    wh = open_warehouse(db_url)
    before = wh.current_checksum()
    code, _, err = run(proj, "apply", str(proj / "spec.yaml"), "--auto-approve")
    assert code == 1 and "below the threshold" in err
    assert wh.current_checksum() == before
    statuses = {o["kind"]: o["status"] for o in ops(proj)}
    assert statuses["Backfill"] == "rolled_back"
    code, out, _ = run(proj, "plan", str(proj / "spec.yaml"))
    assert "0 unchanged" in out  # nothing of the operation is left in the watermarks either
