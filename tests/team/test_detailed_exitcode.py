"""`plan --detailed-exitcode` as CI reads it: 0 no changes, 2 changes, 1 error or a plan apply would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aurumplan.cli.main import cli
from aurumplan.intervals import IntervalSet, parse_ts
from aurumplan.state import WatermarkRef, open_state

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: t-exitcode}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO]
  window: {start: 2024-01-01, end: 2024-01-02}
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "aurumplan.yaml").write_text("state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path


def plan(project: Path, spec: str = "spec.yaml") -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--config", str(project / "aurumplan.yaml"), "plan", str(project / spec),
                                   "--detailed-exitcode"], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def load(project: Path, series: str, schema: str = "v1") -> None:
    store = open_state(f"sqlite:///{project / 'state.db'}")
    store.set_watermarks("eia", "ELEC.DEMAND", series, IntervalSet([(parse_ts("2024-01-01"), parse_ts("2024-01-03"))]),
                         WatermarkRef("L1", "OP1", "c0", schema), 48)


def test_changes_exit_2(project: Path) -> None:
    code, out, err = plan(project)
    assert code == 2, err
    assert "Plan: 96 periods to create" in out


def test_no_changes_exit_0(project: Path) -> None:
    load(project, "PJM")
    load(project, "MISO")
    code, out, _ = plan(project)
    assert code == 0
    assert "0 periods to create, 0 to replace, 96 unchanged" in out


@pytest.mark.parametrize("others", [(), ("MISO",)])
def test_conflicts_exit_1_with_or_without_other_changes(project: Path, others: tuple[str, ...]) -> None:
    """Data loaded under another schema version is a `!` conflict: apply refuses the plan, so CI must not
    read it as 0 (no changes) nor 2 (changes to apply)."""
    load(project, "PJM", schema="v0")
    for sid in others:
        load(project, sid)
    code, out, err = plan(project)
    assert code == 1
    assert "! PJM" in out and "loaded as schema v0" in out
    assert "cannot be applied" in err
    assert "Traceback" not in out + err


def test_errors_exit_1(project: Path) -> None:
    (project / "bad.yaml").write_text(SPEC.replace("ELEC.DEMAND", "ELEC.NOPE"))
    code, out, err = plan(project, "bad.yaml")
    assert code == 1
    assert "ELEC.NOPE" in err and "Traceback" not in out + err
    code, _, err = plan(project, "missing.yaml")
    assert code == 1
    assert "missing.yaml" in err
