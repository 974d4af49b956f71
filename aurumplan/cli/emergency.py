"""Emergency commands (runbook section 4): stop, freeze, unfreeze. docs/emergency.md walks them."""

from __future__ import annotations

import click

from aurumplan import api
from aurumplan.cli.app import Obj, cli, echo_json, handle_errors, pass_obj


@cli.command()
@click.option("--all", "all_sources", is_flag=True, help="every source")
@click.option("--source", default=None, help="only this source's operations")
@click.option("--reason", required=True, help="why (recorded in the audit trail)")
@click.option("--cancel", is_flag=True, help="cancel instead of pause (staged data is discarded)")
@click.option("--include-critical", is_flag=True, help="also stop operations with priority: high")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def stop(obj: Obj, all_sources: bool, source: str | None, reason: str, cancel: bool, include_critical: bool,
         as_json: bool) -> None:
    """Pause (or cancel) every active operation, or a source's, at its next checkpoint."""
    if all_sources == (source is not None):
        raise click.UsageError("give exactly one of --all or --source S")
    out = api.stop(obj.ctx, source=source, reason=reason, cancel=cancel, include_critical=include_critical)
    if as_json:
        echo_json(out)
        return
    scope = f"source '{source}'" if source else "every source"
    verb = "cancelled" if cancel else "paused"
    click.echo(f"Emergency stop {out['stop_id']} of {scope}: {reason}")
    for s in out["stopped"]:
        click.echo(f"  {verb} {s['operation_id']} ({s['source']}, was {s['was']}); to continue: {s['resume']}")
    for s in out["already"]:
        click.echo(f"  {s['operation_id']} already {s['status']}")
    for s in out["kept"]:
        click.echo(f"  kept {s['operation_id']} running (priority: {s['priority']}; --include-critical stops it)")
    if not (out["stopped"] or out["already"] or out["kept"]):
        click.echo("  no active operations; applies starting in the next seconds are stopped too")


@cli.command()
@click.argument("source")
@click.option("--reason", required=True, help="why (shown to everyone refused)")
@pass_obj
@handle_errors
def freeze(obj: Obj, source: str, reason: str) -> None:
    """Refuse every write to a source, for everyone, until `unfreeze`; running applies pause."""
    out = api.freeze(obj.ctx, source, reason)
    if not out["new"]:
        click.echo(f"'{source}' was already frozen by {out['by']}: {out['reason']}")
    else:
        click.echo(f"Froze '{source}': {reason}")
    for op in out["running"]:
        click.echo(f"  {op} pauses at its next checkpoint")


@cli.command()
@click.argument("source")
@pass_obj
@handle_errors
def unfreeze(obj: Obj, source: str) -> None:
    """Lift a source's freeze; paused operations wait for `resume`."""
    out = api.unfreeze(obj.ctx, source)
    click.echo(f"Unfroze '{source}' (was: {out['lifted']})")
    for op in out["paused"]:
        click.echo(f"  paused: {op} (continue with: aurumplan resume {op})")
