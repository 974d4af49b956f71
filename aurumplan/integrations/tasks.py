"""Run a spec or a saved plan as one scheduler task, safe to retry: the core of the Airflow operator.

A retried task must continue the operation its first try started, never start a second one: the
operation is found again by the saved plan's operation id, or by the spec's sha256 (stored with every
operation), and resumed. No scheduler import here, so it is tested without Airflow
(docs/team-workflow.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aurumplan import api
from aurumplan.errors import AurumError

UNFINISHED = ("failed", "halted", "paused", "running")  # what `aurumplan resume` continues
SUCCEEDED = ("succeeded", "no changes")


def run_operation(*, spec: str | Path | None = None, plan: str | Path | None = None,
                  config: str | Path | None = None, cwd: str | Path | None = None) -> dict[str, Any]:
    """Apply `plan` (a saved plan file) or plan and apply `spec`; returns the outcome as plain JSON data.

    `status` is the operation's (`succeeded`, `failed`, `paused`, ...) or `no changes`; `resumed` says a
    previous try's operation was continued, `already` that this plan had already been applied.
    """
    if (spec is None) == (plan is None):
        raise AurumError("give a spec or a saved plan, not both and not neither")
    ctx = api.context(config, cwd)
    if plan is not None:
        data = api.show(ctx.cwd / plan)
        found = api.find_operations(ctx, op_id=data["operation"]["id"])
    else:
        data = api.plan(ctx.cwd / str(spec), ctx).plan
        found = [o for o in api.find_operations(ctx, spec_sha256=data["spec"]["sha256"]) if o["status"] in UNFINISHED]
    unfinished = [o for o in found if o["status"] in UNFINISHED]
    if unfinished:
        return {**api.resume(unfinished[-1]["id"], ctx).to_dict(), "resumed": True, "already": False}
    if found:
        last = found[-1]
        return {"operation_id": last["id"], "status": last["status"], "resumed": False, "already": True,
                "summary": last["summary"]}
    s = data["summary"]
    if not (s["create"] or s["replace"] or s["conflict"]):
        return {"operation_id": None, "status": "no changes", "resumed": False, "already": False,
                "plan_summary": s}
    return {**api.apply_plan(data, ctx).to_dict(), "resumed": False, "already": False}


def operation_status(operation_id: str, *, config: str | Path | None = None,
                     cwd: str | Path | None = None) -> str:
    """The status of one operation; an unknown id is an error (a typo must not wait forever)."""
    found = api.find_operations(api.context(config, cwd), op_id=operation_id)
    if not found:
        raise AurumError(f"no operation {operation_id} in the state",
                             hint="`aurumplan ops list` shows the operations")
    return str(found[-1]["status"])
