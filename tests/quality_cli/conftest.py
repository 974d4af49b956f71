"""A project on SQLite and PostgreSQL (tests/state/dburl.py) whose data comes in through the real apply
path, from the local fake EIA server: three ELEC.DEMAND series, hourly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurumplan.cli import quality  # noqa: F401  (registers check, coverage, report)
from aurumplan.cli.main import cli
from tests.doubles.fakeapis import EiaServer, Synth
from tests.state.dburl import db_url, pytest_collection_modifyitems, pytest_terminal_summary

__all__ = ["db_url", "pytest_collection_modifyitems", "pytest_terminal_summary"]

ROUTE = "electricity/rto/region-data"

BACKFILL = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: qc-backfill, owner: tests}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  window: {{start: {start}, end: {end}}}
  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.02s}}
  validation: {{threshold: 0.5}}
"""

REPLAY = """\
apiVersion: aurumplan/v1
kind: Replay
metadata: {{name: qc-replay, reason: "fix <b>PJM</b> & co"}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  window: {{start: {start}, end: {end}}}
  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.02s}}
  validation: {{threshold: {threshold}}}
"""


class Project:
    """A project folder with its config, and the CLI run against it."""

    def __init__(self, root: Path, db_url: str, server: EiaServer) -> None:
        self.root, self.db_url, self.server = root, db_url, server

    def run(self, *args: str) -> tuple[int, str, str]:
        res = CliRunner().invoke(cli, ["--config", str(self.root / "aurumplan.yaml"), *args])
        if res.exception and not isinstance(res.exception, SystemExit):
            raise res.exception
        return res.exit_code, res.stdout, res.stderr

    def json(self, *args: str) -> Any:
        _code, out, err = self.run(*args)  # check --json exits 1 on a failed check, still printing JSON
        assert "Traceback" not in err, err
        return json.loads(out)

    def apply(self, template: str, **fields: Any) -> str:
        """Apply a spec through the CLI; returns the id of the operation it created."""
        spec = self.root / f"spec-{len(list(self.root.glob('spec-*')))}.yaml"
        spec.write_text(template.format(**fields))
        _code, out, err = self.run("apply", str(spec), "--auto-approve")  # a halted apply exits 1
        ops = self.json("ops", "list", "--json")
        assert ops, out + err
        return str(ops[-1]["id"])

    def revise(self, series: str, period: str, value: Any) -> None:
        """From now on the API serves `value` for that hourly point of ELEC.DEMAND."""
        self.server.data.override("eia", ROUTE, f"{series}.D", period, value)


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=11), quota=None, until=1_900_000_000) as srv:
        yield srv


@pytest.fixture()
def project(tmp_path: Path, db_url: str, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("EIA_API_KEY", "test-key-qc")
    (tmp_path / "aurumplan.yaml").write_text(
        f"state: '{db_url}'\nwarehouse: '{db_url}'\nsources:\n  eia:\n    base_url: {server.base_url}\n"
        "    quota: {per_second: 1000}\n    datasets:\n      ELEC.DEMAND: {series: [PJM, MISO, ERCO]}\n")
    return Project(tmp_path, db_url, server)


@pytest.fixture()
def backfilled(project: Project) -> tuple[Project, str]:
    """Three days (2024-01-01..03) of the three series, committed."""
    op = project.apply(BACKFILL, start="2024-01-01", end="2024-01-03")
    assert project.json("status", op, "--json")["status"] == "succeeded"
    return project, op
