"""Emergency commands (runbook section 4): stop, freeze, scan, quarantine, recover. docs/emergency.md walks them."""

from __future__ import annotations

import click

from aurumplan.cli.app import Obj, cli, echo_json, handle_errors, pass_obj
from aurumplan.cli.lazyapi import api


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


@cli.command()
@click.option("--source", required=True, help="source name from the catalog, e.g. eia")
@click.option("--checks", default="all", show_default=True,
              help="comma-separated: schema, completeness, accuracy, consistency, or all")
@click.option("--window", default=None, help="START:END dates, END inclusive (default: everything current)")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="damage report (JSON) to write")
@click.option("--json", "as_json", is_flag=True, help="also print the report")
@pass_obj
@handle_errors
def scan(obj: Obj, source: str, checks: str, window: str | None, output: str, as_json: bool) -> None:
    """Scan current data with the quality checks and write a damage report."""
    report = api.scan(obj.ctx, source, window=window, checks=[c for c in checks.split(",") if c.strip()],
                      out=output)
    if as_json:
        echo_json(report)
        return
    click.echo(f"Damage report {report['id']} of '{source}': {report['periods']} damaged period(s) in "
               f"{len(report['damage'])} finding(s); written to {output}")
    for d in report["damage"][:20]:
        ops = sorted({ld["operation_id"] for ld in d["loads"]})
        first, last = d["ranges"][0][0], d["ranges"][-1][1]
        wrote = f" written by {', '.join(ops)}" if ops else ""
        gone = f", {len(d['missing'])} missing range(s)" if d["missing"] else ""
        click.echo(f"  {d['dataset']} {d['series_id']} {d['check']}: {d['periods']} period(s) {first} .. {last}"
                   f"{wrote}{gone}: {d['findings'][0] if d['findings'] else ''}")
    if report["damage"]:
        click.echo(f"Next: aurumplan quarantine {output}  and  aurumplan recover {output} --out-dir recovery/")


@cli.command()
@click.argument("report", type=click.Path(exists=True, dir_okay=False))
@click.option("--mode", type=click.Choice(["strict", "flag"]), default="strict", show_default=True,
              help="strict: hide the damaged versions; flag: keep them, marked in attributes")
@pass_obj
@handle_errors
def quarantine(obj: Obj, report: str, mode: str) -> None:
    """Hide a damage report's versions from observations_current (reversible with `release`)."""
    out = api.quarantine(obj.ctx, report, mode)
    click.echo(f"{out['quarantine_id']}: {out['periods']} period(s) quarantined ({mode}) in {out['ranges']} range(s) "
               f"of damage report {out['report_id']}; undo with: aurumplan release {out['quarantine_id']}")


@cli.command()
@click.argument("quarantine_id")
@pass_obj
@handle_errors
def release(obj: Obj, quarantine_id: str) -> None:
    """Undo a quarantine: hidden versions come back where nothing newer became current."""
    out = api.release(obj.ctx, quarantine_id)
    click.echo(f"Released {quarantine_id}: {out['restored']} period(s) restored, {out['kept_newer']} kept their "
               "newer version")


@cli.command()
@click.argument("report", type=click.Path(exists=True, dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="folder for the recovery specs")
@pass_obj
@handle_errors
def recover(obj: Obj, report: str, out_dir: str) -> None:
    """Write reviewable recovery specs for a damage report; review them, then plan and apply."""
    out = api.recover(obj.ctx, report, out_dir)
    click.echo(f"Wrote {len(out['files'])} file(s) for damage report {out['report_id']} into {out['out_dir']}:")
    for f in out["files"]:
        click.echo(f"  {f}")
    click.echo("Review them, then: aurumplan plan SPEC ; aurumplan apply SPEC (rollbacks.sh lines one by one)")
