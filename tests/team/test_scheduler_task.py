"""The scheduler task core (aurumplan.integrations.tasks): a retried task resumes its operation, never a duplicate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aurumplan.errors import AurumError
from aurumplan.integrations.tasks import operation_status, run_operation
from tests.team.common import EXAMPLES, run


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """The examples' config and recordings, with quickstart's one cassette put aside in `held/`."""
    shutil.copy(EXAMPLES / "aurumplan.yaml", tmp_path / "aurumplan.yaml")
    shutil.copytree(EXAMPLES / "recordings", tmp_path / "recordings")
    shutil.copy(EXAMPLES / "quickstart.yaml", tmp_path / "quickstart.yaml")
    (tmp_path / "held").mkdir()
    cassette = next(p for p in (tmp_path / "recordings" / "eia").glob("*region_data*")
                    if "start=2024-01-01T01&end=2024-01-08T00" in p.read_text())
    shutil.move(cassette, tmp_path / "held" / cassette.name)
    return tmp_path


def restore(project: Path) -> None:
    for p in (project / "held").iterdir():
        shutil.move(p, project / "recordings" / "eia" / p.name)


def ops(project: Path) -> list[tuple[str, str]]:
    return [(o["id"], o["status"]) for o in json.loads(run(project, "ops", "list", "--json")[1])]


def test_retried_spec_task_resumes_the_failed_operation(project: Path) -> None:
    first = run_operation(spec="quickstart.yaml", cwd=project)
    assert first["status"] == "failed" and first["resumed"] is False
    restore(project)  # what a retry after a transient error sees: the API answers now
    second = run_operation(spec="quickstart.yaml", cwd=project)
    assert (second["operation_id"], second["resumed"]) == (first["operation_id"], True)
    assert second["status"] == "succeeded" and second["records"] == 504
    assert ops(project) == [(first["operation_id"], "succeeded")]  # the same operation, no second one
    assert sum(e["records"] for e in json.loads(run(project, "state", "list", "--json")[1])
               if e["dataset"] == "ELEC.DEMAND") == 504
    third = run_operation(spec="quickstart.yaml", cwd=project)
    assert third["status"] == "no changes" and ops(project) == [(first["operation_id"], "succeeded")]


def test_saved_plan_task_applies_once(project: Path) -> None:
    restore(project)
    assert run(project, "plan", "quickstart.yaml", "-o", "plan.json")[0] == 0
    first = run_operation(plan=project / "plan.json", cwd=project)
    again = run_operation(plan=project / "plan.json", cwd=project)
    assert first["status"] == again["status"] == "succeeded"
    assert (again["operation_id"], again["already"]) == (first["operation_id"], True)
    assert ops(project) == [(first["operation_id"], "succeeded")]
    assert operation_status(first["operation_id"], cwd=project) == "succeeded"


def test_unknown_operation_and_bad_arguments_are_errors(project: Path) -> None:
    with pytest.raises(AurumError, match="no operation NOPE"):
        operation_status("NOPE", cwd=project)
    with pytest.raises(AurumError, match="not both"):
        run_operation(spec="quickstart.yaml", plan="plan.json", cwd=project)


def test_importing_aurumplan_imports_no_airflow() -> None:
    code = ("import sys, aurumplan, aurumplan.api, aurumplan.integrations, aurumplan.integrations.tasks, "
            "aurumplan.cli.main; print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
