"""The Airflow operator and sensor in a real Airflow: a DAG run with `dag.test()`, a retried task included.

Airflow lives in its own virtualenv (`.venv-airflow`, made by .ci/run; AURUMPLAN_AIRFLOW_VENV elsewhere):
its pins are not aurumplan's. Without it the test is skipped on a developer machine and fails in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.team.common import EXAMPLES, run

VENV = Path(os.environ.get("AURUMPLAN_AIRFLOW_VENV", EXAMPLES.parent / ".venv-airflow"))
DAG = Path(__file__).parent / "airflow" / "dag_run.py"


@pytest.fixture()
def airflow_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{VENV} is missing: .ci/run creates it (pip install apache-airflow -e .)")
        pytest.skip(f"no Airflow virtualenv at {VENV} (python3 -m venv {VENV.name} && "
                    f"{VENV.name}/bin/pip install apache-airflow -e .)")
    return python


def test_dag_applies_retries_into_the_same_operation_and_senses_it(tmp_path: Path, airflow_python: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("aurumplan.yaml", "quickstart.yaml", "backfill-fred.yaml"):
        shutil.copy(EXAMPLES / name, project / name)
    shutil.copytree(EXAMPLES / "recordings", project / "recordings")
    (project / "held").mkdir()
    cassette = next(p for p in (project / "recordings" / "eia").glob("*region_data*")
                    if "start=2024-01-01T01&end=2024-01-08T00" in p.read_text())
    shutil.move(cassette, project / "held" / cassette.name)  # the first try of `apply` fails on it
    assert run(project, "plan", "backfill-fred.yaml", "-o", "fred.json")[0] == 0
    (project / "outside.yaml").write_text((EXAMPLES / "quickstart.yaml").read_text().replace(
        "{start: 2024-01-01, end: 2024-01-07}", "{start: 2023-06-01, end: 2023-06-02}"))
    (tmp_path / "dags").mkdir()
    shutil.copy(DAG, tmp_path / "dags" / DAG.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AURUMPLAN_"))}
    env.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AURUMPLAN_PROJECT": str(project)})
    airflow = airflow_python.parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, timeout=240)
    done = subprocess.run([str(airflow_python), str(tmp_path / "dags" / DAG.name)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["run"] == "failed"  # apply_outside's operation failed, so did its task
    assert result["tasks"]["apply"] == {"state": "success", "try_number": 2}
    assert result["tasks"]["wait"]["state"] == result["tasks"]["apply_saved"]["state"] == "success"
    assert result["tasks"]["apply_outside"] == {"state": "failed", "try_number": 1}
    ops = {o["id"]: o["status"] for o in json.loads(run(project, "ops", "list", "--json")[1])}
    pushed = result["pushed"]
    assert ops == {pushed["apply"]: "succeeded", pushed["apply_saved"]: "succeeded", pushed["apply_outside"]: "failed"}
    assert result["pushed"]["apply_saved"] == json.loads((project / "fred.json").read_text())["operation"]["id"]
