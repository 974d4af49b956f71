"""Airflow: an operator that applies a spec or a saved plan, and a sensor for an operation's status.

Needs the `aurumplan[airflow]` extra; aurumplan itself never imports this module. The operator pushes
`operation_id` and returns the outcome (XCom `return_value`); it fails the task when the operation
fails, halts at a quality gate, pauses or is cancelled; a retried task resumes the operation its first
try started instead of starting another (aurumplan.integrations.tasks; docs/team-workflow.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from airflow.sdk import BaseOperator, BaseSensorOperator
except ImportError:  # Airflow 2
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]
from airflow.exceptions import AirflowException

from aurumplan.errors import AurumError
from aurumplan.integrations.tasks import SUCCEEDED, operation_status, run_operation

FAILED = ("failed", "halted", "cancelled", "rolled_back")


class AurumplanApplyOperator(BaseOperator):
    """Plan and apply `spec`, or apply the saved `plan` (what a pull request reviewed); paths are
    relative to `cwd`, the project folder (default: the worker's working directory)."""

    template_fields: Sequence[str] = ("spec", "plan", "config", "cwd")

    def __init__(self, *, spec: str | None = None, plan: str | None = None, config: str | None = None,
                 cwd: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if (spec is None) == (plan is None):
            raise ValueError("AurumplanApplyOperator needs spec= or plan=, exactly one")
        self.spec, self.plan, self.config, self.cwd = spec, plan, config, cwd

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            outcome = run_operation(spec=self.spec, plan=self.plan, config=self.config, cwd=self.cwd)
        except AurumError as exc:
            raise AirflowException(f"aurumplan: {exc}") from None
        context["ti"].xcom_push(key="operation_id", value=outcome["operation_id"])
        if outcome["status"] not in SUCCEEDED:
            failures = "; ".join(outcome.get("failures", [])[:3])
            raise AirflowException(f"aurumplan operation {outcome['operation_id']} {outcome['status']}"
                                   + (f": {failures}" if failures else "")
                                   + " (a retry of this task resumes the same operation)")
        return outcome


class AurumplanOperationSensor(BaseSensorOperator):
    """Waits until an operation succeeds; fails when it fails, halts, is cancelled or rolled back."""

    template_fields: Sequence[str] = ("operation_id", "config", "cwd")

    def __init__(self, *, operation_id: str, config: str | None = None, cwd: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.operation_id, self.config, self.cwd = operation_id, config, cwd

    def poke(self, context: Any) -> bool:
        try:
            status = operation_status(self.operation_id, config=self.config, cwd=self.cwd)
        except AurumError as exc:
            raise AirflowException(f"aurumplan: {exc}") from None
        if status in FAILED:
            raise AirflowException(f"aurumplan operation {self.operation_id} is {status}")
        return status == "succeeded"
