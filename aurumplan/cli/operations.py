"""Commands that change data: apply, resume, pause, cancel, rollback; and status, ops list."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from aurumplan.cli.app import Obj, cli, echo_json, handle_errors, pass_obj
from aurumplan.cli.lazyapi import api
from aurumplan.cli.progress import make_hook
from aurumplan.errors import AurumError

CONFIRM = "Do you want to perform these actions? Only 'yes' will be accepted"


def _confirm(what: str, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise AurumError(f"refusing to {what} without confirmation: no terminal to ask on; "
                         "review with `aurumplan plan` and pass --auto-approve (e.g. in CI)")
    answer = click.prompt(f"\n{CONFIRM}\n  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        click.echo(f"{what.capitalize()} cancelled.")
        sys.exit(1)


def _summary(result: Any, as_json: bool, log_format: str = "human") -> None:
    """The end-of-run summary on stdout; its failure lines on stderr, unless stderr carries JSON records."""
    data = result.to_dict()
    to_stderr = log_format != "json"
    if as_json:
        echo_json(data)
    else:
        p = data["periods"]
        attempt = data.get("attempt")
        if attempt:
            click.echo(f"\n{data['operation_id']} is attempt {attempt['number']} of {attempt['first']}.")
        click.echo(f"\n{data['operation_id']}: {data['status']}. Periods loaded {p['loaded']}, failed {p['failed']}, "
                   f"skipped {p['skipped']}. {data['records']} records, {data['requests']} requests, "
                   f"{data['throttles']} throttles, {data['retries']} retries, "
                   f"{api.duration_text(data['duration_seconds'])}.")
        for note in data.get("notes") or []:
            click.echo(f"  note: {note}")
        for f in data["failures"][:10]:
            click.echo(f"  failed: {f}", err=to_stderr)
        if data["failures"] and data.get("failure_log"):
            click.echo(f"  failure log: {data['failure_log']} (a Reprocess spec can take it as failedRecords)",
                       err=to_stderr)
        if data["status"] in ("paused", "failed", "halted"):
            click.echo(f"  resume with: aurumplan resume {data['operation_id']}")
    if data["status"] != "succeeded":
        sys.exit(1)


@cli.command()
@click.argument("target", type=click.Path())
@click.option("--auto-approve", is_flag=True, help="apply a spec without asking (CI)")
@click.option("--accept-config-change", is_flag=True,
              help="apply a saved plan although the source settings changed since (recorded in the audit trail)")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.option("--progress-interval", type=float, default=30.0, show_default=True,
              help="seconds between progress lines when not on a terminal")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="serve Prometheus /metrics on 127.0.0.1:PORT while it runs (docs/operations.md)")
@click.option("--wait", "wait", is_flag=True,
              help="queue for ranges another operation leases, served by the spec's priority (docs/operations.md)")
@click.option("--wait-timeout", type=click.FloatRange(min=0), default=3600.0, show_default=True,
              help="with --wait: seconds to wait at most")
@pass_obj
@handle_errors
def apply(obj: Obj, target: str, auto_approve: bool, accept_config_change: bool, as_json: bool,
          progress_interval: float, metrics_port: int | None, wait: bool, wait_timeout: float) -> None:
    """Run a spec (asks first) or a saved plan (was the review; refused if stale, edited or made elsewhere)."""
    saved = api.is_saved_plan(target)
    if saved:
        plan = api.show(target)
    else:
        plan = api.plan(target, obj.ctx, wait=wait).plan
        if not as_json:
            click.echo(api.render(plan), nl=False)
        s = plan["summary"]
        if not (s["create"] or s["replace"]) and not s["conflict"]:
            click.echo("No changes. Nothing to apply.")
            return
        _confirm("apply", auto_approve)
    with api.metrics_server(obj.ctx, metrics_port), make_hook(plan, progress_interval, quiet=as_json,
                                                                log_format=obj.log_format) as hook:
        result = api.apply_plan(plan, obj.ctx, hook, saved=saved, accept_config_change=accept_config_change,
                                wait=wait_timeout if wait else None, spec=None if saved else target)
    _summary(result, as_json, obj.log_format)


@cli.command()
@click.argument("op_id")
@click.option("--concurrency", type=click.IntRange(min=1), help="workers from now on (recorded in the audit trail)")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True),
              help="requests/s from now on; never above the source's quota")
@click.option("--batch-size", type=click.IntRange(min=1), help="records per write batch from now on")
@click.option("--json", "as_json", is_flag=True)
@click.option("--progress-interval", type=float, default=30.0, show_default=True)
@pass_obj
@handle_errors
def resume(obj: Obj, op_id: str, concurrency: int | None, rate_limit: float | None, batch_size: int | None,
           as_json: bool, progress_interval: float) -> None:
    """Continue a paused, failed, halted or interrupted operation and commit what it fetches."""
    plan = api.operation_plan(op_id, obj.ctx)
    with make_hook(plan, progress_interval, quiet=as_json, log_format=obj.log_format) as hook:
        result = api.resume(op_id, obj.ctx, hook, concurrency=concurrency, rate_limit=rate_limit,
                            batch_size=batch_size)
    _summary(result, as_json, obj.log_format)


@cli.command()
@click.argument("op_id")
@pass_obj
@handle_errors
def pause(obj: Obj, op_id: str) -> None:
    """Stop an operation at its next checkpoint; `resume` continues it."""
    click.echo(f"{op_id}: {api.pause(op_id, obj.ctx)}")


@cli.command()
@click.argument("op_id")
@click.option("--force", is_flag=True, help="do not wait for the running apply; clean up now")
@pass_obj
@handle_errors
def cancel(obj: Obj, op_id: str, force: bool) -> None:
    """Stop an operation and discard its uncommitted staged data."""
    out = api.cancel(op_id, obj.ctx, force)
    click.echo(f"{op_id}: {out['message']} ({out['discarded_loads']} staged load(s) discarded)")


@cli.command()
@click.argument("op_id", required=False)
@click.option("--follow", is_flag=True, help="refresh until the operation ends")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def status(obj: Obj, op_id: str | None, follow: bool, interval: float, as_json: bool) -> None:
    """Progress of an operation (or of every active one)."""
    while True:
        info = api.status(op_id, obj.ctx)
        if as_json:
            echo_json(info)
        else:
            for one in info if isinstance(info, list) else [info]:
                click.echo(_status_line(one))
            if isinstance(info, list) and not info:
                click.echo("No active operations.")
        ended = not isinstance(info, list) and info["status"] not in ("running", "planned")
        if not follow or ended or (isinstance(info, list) and not info):
            return
        time.sleep(interval)


def _status_line(s: dict[str, Any]) -> str:
    n = s["nodes"]
    eta = f", ETA {api.duration_text(s['eta_seconds'])}" if s.get("eta_seconds") else ""
    rate = f", {s['rate_per_second']} req/s" if s.get("rate_per_second") else ""
    errs = f", {len(s['errors'])} error(s)" if s["errors"] else ""
    attempt = f" (attempt {s['attempt']['number']} of {s['attempt']['first']})" if s.get("attempt") else ""
    detail = f"\n  {s['detail']}" if s.get("detail") else ""
    return (f"{s['id']}{attempt} [{s['status']}] nodes {n['done']}/{n['total']}, periods {s['periods']['done']}/"
            f"{s['periods']['planned']}, {s['records']} records, {s['requests']} requests, "
            f"{s['throttles']} throttles{errs}{rate}{eta}{detail}")


@cli.group()
def ops() -> None:
    """Operations recorded in the state."""


@ops.command("list")
@click.option("--active", is_flag=True, help="only planned, running or paused operations")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def ops_list(obj: Obj, active: bool, as_json: bool) -> None:
    """Operations, oldest first."""
    rows = api.ops_list(obj.ctx, active)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No operations.")
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["created_at"]))
        linked = f"  (attempt of {r['parent_id']})" if r.get("parent_id") and r["kind"] != "Rollback" else ""
        click.echo(f"{r['id']:<40} {r['kind']:<10} {r['status']:<12} {when}  {r['reason'] or ''}{linked}")


@cli.command()
@click.argument("op_id")
@click.option("--auto-approve", is_flag=True, help="roll back without asking")
@click.option("--mode", type=click.Choice(["controlled", "emergency"]), default="controlled", show_default=True,
              help="controlled runs validation before and after; emergency skips it")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def rollback(obj: Obj, op_id: str, auto_approve: bool, mode: str, as_json: bool) -> None:
    """Restore the versions an operation replaced (and remove what it created), atomically."""
    plan = api.rollback_plan(op_id, obj.ctx)
    if not as_json:
        click.echo(f"Rollback {plan['operation_id']} of {op_id} ({plan['kind']} on '{plan['source']}'):")
        for d in plan["datasets"]:
            first, last = (d["intervals"][0][0], d["intervals"][-1][1]) if d["intervals"] else ("-", "-")
            restores = f"restores {len(d['restores'])} earlier load(s)" if d["restores"] else "removes what it created"
            click.echo(f"  - {d['dataset']}: {len(d['loads'])} load(s), {len(d['series'])} series, "
                       f"{first} .. {last}; {restores}")
    _confirm("roll back", auto_approve)
    out = api.rollback_apply(op_id, obj.ctx, mode)
    if as_json:
        echo_json(out)
    else:
        click.echo(f"Rolled back {op_id}: {out['loads_deactivated']} load(s) deactivated in "
                   f"{api.duration_text(out['duration_seconds'])} ({mode}).")


@cli.command()
@click.argument("spec", type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="folder for the recordings")
@pass_obj
@handle_errors
def record(obj: Obj, spec: str, out: str) -> None:
    """Record a spec's API responses (keys redacted) for offline runs with `recordings:`."""
    res = api.record(spec, obj.ctx, out)
    click.echo(f"Recorded {res['requests']} responses ({res['records']} records) into {res['out']}.")
