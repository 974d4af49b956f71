"""Retention commands: `gc` (delete superseded versions) and `archive restore` (docs/replay.md)."""

from __future__ import annotations

import click

from aurumplan.cli.app import Obj, cli, echo_json, handle_errors, pass_obj
from aurumplan.cli.lazyapi import api


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} B"
    x = float(n)
    for unit in ("KiB", "MiB"):
        x /= 1024
        if x < 1024:
            return f"{x:,.1f} {unit}"
    return f"{x / 1024:,.1f} GiB"


@cli.command()
@click.option("--older-than", required=True, metavar="AGE",
              help="retention: keep every version an operation that ended less than AGE ago may need (90d, 36h)")
@click.option("--dry-run", is_flag=True, help="count what would be deleted; delete nothing")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def gc(obj: Obj, older_than: str, dry_run: bool, as_json: bool) -> None:
    """Delete superseded versions that no rollback can need."""
    out = api.gc(obj.ctx, older_than, dry_run=dry_run)
    if as_json:
        echo_json(out)
        return
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"{verb} {out['rows']:,} superseded version(s), {_size(out['bytes'])} of row data, and "
               f"{out['links']:,} rollback record(s) of rolled-back loads (operations that ended before "
               f"{out['cutoff']}).")
    for d in out["datasets"]:
        click.echo(f"  - {d['source']}/{d['dataset']}: {d['rows']:,} rows, {_size(d['bytes'])}")
    can = "could" if dry_run else "can"
    for lost in out["no_longer_rollbackable"]:
        if lost["archives"]:
            click.echo(f"  {lost['operation']} {can} roll back again only after `aurumplan archive restore` of "
                       f"{', '.join(lost['archives'])}")
        else:
            click.echo(f"  {lost['operation']} {can} no longer roll back (it wrote no archive)")
    kept = out["kept"]
    if kept["not_ended"]:
        ops = ", ".join(f"{k['operation']} ({k['status']})" for k in kept["not_ended"])
        click.echo(f"  kept: versions of operations that can still resume or roll back: {ops}")
    if kept["inside_retention"]:
        click.echo(f"  kept: versions {len(kept['inside_retention'])} operation(s) inside the retention may need")
    if dry_run:
        click.echo("Nothing was deleted (--dry-run).")
    else:
        click.echo("The database reuses the space; VACUUM returns it to the file system.")


@cli.group()
def archive() -> None:
    """Archive files written by a Replay's `archive:`."""


@archive.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def archive_restore(obj: Obj, file: str, as_json: bool) -> None:
    """Put back the replaced versions of FILE that `gc` removed (what is current does not change)."""
    out = api.archive_restore(obj.ctx, file)
    if as_json:
        echo_json(out)
        return
    click.echo(f"Restored {out['restored']:,} of {out['rows']:,} version(s) of {out['dataset']} "
               f"({out['already_present']:,} were still stored). `aurumplan rollback {out['operation_id']}` "
               "can restore them as current again.")
