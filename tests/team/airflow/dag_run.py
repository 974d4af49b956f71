"""Run in the Airflow virtualenv by tests/team/test_airflow.py, from a DAGs folder, with
AURUMPLAN_PROJECT set to the project folder: `python dag_run.py`.

A DAG applies a spec whose first try fails (a recording is held back, as an API error would) and is
retried, waits on the operation with the sensor, applies a saved plan, and applies a spec that cannot
succeed (no recording at all); prints each task's state and tries, and the operation ids the tasks
pushed, as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from aurumplan.integrations.airflow import AurumplanApplyOperator, AurumplanOperationSensor

PROJECT = Path(os.environ["AURUMPLAN_PROJECT"])
PUSHED: dict[str, Any] = {}


def restore(context: Any) -> None:
    """The API answers again by the time the task retries."""
    for p in (PROJECT / "held").iterdir():
        shutil.move(p, PROJECT / "recordings" / "eia" / p.name)


def record(context: Any) -> None:
    ti = context["ti"]
    PUSHED[ti.task_id] = ti.xcom_pull(task_ids=ti.task_id, key="operation_id")


with DAG("aurumplan_backfill", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    apply = AurumplanApplyOperator(task_id="apply", spec="quickstart.yaml", cwd=str(PROJECT), retries=1,
                                   retry_delay=timedelta(seconds=0), on_retry_callback=restore,
                                   on_success_callback=record)
    wait = AurumplanOperationSensor(task_id="wait", cwd=str(PROJECT), poke_interval=1, timeout=60,
                                    operation_id="{{ ti.xcom_pull(task_ids='apply', key='operation_id') }}")
    saved = AurumplanApplyOperator(task_id="apply_saved", plan="fred.json", cwd=str(PROJECT),
                                   on_success_callback=record)
    outside = AurumplanApplyOperator(task_id="apply_outside", spec="outside.yaml", cwd=str(PROJECT),
                                     on_failure_callback=record)
    apply >> wait >> saved

if __name__ == "__main__":
    run = dag.test()
    states = {ti.task_id: {"state": str(ti.state), "try_number": ti.try_number} for ti in run.get_task_instances()}
    print("RESULT " + json.dumps({"run": str(run.state), "tasks": states, "pushed": PUSHED}))
