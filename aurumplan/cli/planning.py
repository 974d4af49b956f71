"""Commands that read and plan: init, validate, plan, show, graph, gaps, state, schema."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from aurumplan import TEAM_DB_URL
from aurumplan.cli.app import Obj, cli, echo_json, format_error, handle_errors, pass_obj
from aurumplan.cli.lazyapi import api
from aurumplan.cli.markdown import render_markdown
from aurumplan.errors import AurumError
from aurumplan.hashing import canonical_json
from aurumplan.plan.render import render_plan


@cli.command()
@click.option("--team", is_flag=True,
              help="also PostgreSQL settings, plans/, JSON schemas, the GitHub workflow and pre-commit config")
@click.option("--state-url", default=TEAM_DB_URL, show_default=True, help="with --team: the shared state")
@click.option("--warehouse-url", default=TEAM_DB_URL, show_default=True, help="with --team: the warehouse")
@click.option("--hooks-repo", default="https://github.com/aurumplan/aurumplan", show_default=True,
              help="with --team: the git repository pre-commit gets aurumplan's hook from")
@handle_errors
def init(team: bool, state_url: str, warehouse_url: str, hooks_repo: str) -> None:
    """Write an aurumplan.yaml here (unless present) and create the state."""
    if team:
        made = api.init_team(state_url=state_url, warehouse_url=warehouse_url, hooks_repo=hooks_repo)
        for rel in made["written"]:
            click.echo(f"wrote {rel}")
        for rel in made["kept"]:
            click.echo(f"kept existing {rel}")
        click.echo(f"State ready at {made['state']}. Next: `pre-commit install`, commit, and add the secrets the "
                   "workflow names (docs/team-workflow.md).")
        return
    out = api.init()
    verb = "Wrote" if out["config_written"] == "true" else "Kept existing"
    click.echo(f"{verb} {out['config']}; state ready at {out['state']}.")


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="print problems as JSON")
@pass_obj
@handle_errors
def validate(obj: Obj, specs: tuple[str, ...], as_json: bool) -> None:
    """Check specs against the schema, the catalog and the config; changes nothing."""
    problems = api.validate(specs, obj.ctx)
    if as_json:
        echo_json({"valid": not problems, "problems": [str(p) for p in problems]})
    else:
        for p in problems:
            click.echo(str(p), err=True)
        if not problems:
            click.echo(f"{len(specs)} spec(s) valid.")
    if problems:
        sys.exit(1)


@cli.command()
@click.argument("spec", required=False, type=click.Path())
@click.option("-o", "--out", type=click.Path(),
              help="save the plan to this file (with --changed-since: a folder, one PLAN.json per spec)")
@click.option("--json", "as_json", is_flag=True, help="print the plan artifact as JSON")
@click.option("--detailed-exitcode", is_flag=True,
              help="exit 0 no changes, 2 changes, 1 error or conflicts (docs/team-workflow.md)")
@click.option("--refresh-from", type=click.Path(dir_okay=False),
              help="re-plan a saved plan's spec and report which of its ranges changed")
@click.option("--changed-since", metavar="REF",
              help="plan every spec under --plans-dir added or changed since this git ref (a pull request's base)")
@click.option("--plans-dir", default="plans", show_default=True, type=click.Path(file_okay=False),
              help="where --changed-since looks for specs")
@click.option("--full", is_flag=True, help="list every series instead of the first six")
@pass_obj
@handle_errors
def plan(obj: Obj, spec: str | None, out: str | None, as_json: bool, detailed_exitcode: bool,
         refresh_from: str | None, changed_since: str | None, plans_dir: str, full: bool) -> None:
    """Show what apply would do; -o saves the plan for `apply PLAN`."""
    if changed_since is not None:
        if spec or refresh_from:
            raise AurumError("--changed-since plans the specs git reports: give no SPEC and no --refresh-from")
        code = _plan_changed(obj, changed_since, plans_dir, out, as_json, full)
        sys.exit(code if detailed_exitcode or code == 1 else 0)
    if not spec:
        raise AurumError("plan needs a SPEC file, or --changed-since REF to plan the specs changed since a git ref")
    if refresh_from:
        planned, changed = api.refresh_plan(refresh_from, spec, obj.ctx, out)
        if not as_json:
            for c in changed:
                click.echo(f"~ {c['dataset']} {c['series']}: changed since the saved plan ({c['detail']})")
    else:
        planned = api.plan(spec, obj.ctx, out)
    if as_json:
        click.echo(canonical_json(planned.plan))
    else:
        click.echo(text_view(planned.plan, full), nl=False)
        if out:
            click.echo(f"\nSaved the plan to {out}. Apply it with: aurumplan apply {out}")
    if detailed_exitcode:
        sys.exit(detailed_exit(planned.plan))


def _plan_changed(obj: Obj, ref: str, plans_dir: str, out: str | None, as_json: bool, full: bool) -> int:
    """Plan each changed spec (one bad spec does not hide the others' plans); the detailed exit code of all."""
    folder = Path(plans_dir).resolve()
    specs = api.changed_specs(ref, folder, obj.ctx.cwd)
    if not specs:
        if as_json:
            echo_json({})
        else:
            click.echo(f"No spec under {plans_dir} changed since {ref}.")
        return 0
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
    codes, plans = [], {}
    for path in specs:
        shown = os.path.relpath(path, obj.ctx.cwd)
        target = Path(out) / plan_file_name(path, folder) if out else None
        try:
            planned = api.plan(shown, obj.ctx, target)
        except AurumError as exc:
            click.echo(format_error(exc), err=True)
            codes.append(1)
            continue
        plans[shown] = planned.plan
        if not as_json:
            click.echo(f"== {shown}")
            click.echo(text_view(planned.plan, full))
            if target:
                click.echo(f"Saved the plan to {target}.\n")
        codes.append(detailed_exit(planned.plan))
    if as_json:
        click.echo(canonical_json(plans))
    elif out:
        click.echo(f"Saved {len(plans)} plan(s) to {out}. Apply each with: aurumplan apply {out}/NAME.json")
    return 1 if 1 in codes else max(codes)


def plan_file_name(spec: Path, folder: Path) -> str:
    """plans/eia/backfill.yaml -> eia__backfill.json: one flat folder of plans, easy to upload and apply."""
    return "__".join(spec.relative_to(folder).with_suffix("").parts) + ".json"


def text_view(plan_data: dict[str, Any], full: bool = False) -> str:
    """The terminal view; `full` lists every series of an action instead of the first six and `+N`."""
    if not full:
        return render_plan(plan_data)
    expanded = {**plan_data, "datasets": [
        {**ds, "actions": [{**a, "series": [",".join(a["series"])]} for a in ds["actions"]]}
        for ds in plan_data["datasets"]]}
    return render_plan(expanded)


def detailed_exit(plan_data: dict[str, Any]) -> int:
    """CI's reading of a plan: 1 when apply would refuse it (conflicts), 2 changes, 0 none.

    A plan of only `!` conflicts must not read as "no changes": its apply fails (docs/team-workflow.md).
    """
    summary = plan_data["summary"]
    if summary.get("conflict"):
        name = plan_data["operation"]["id"]
        click.echo(f"Error: plan {name} has {summary['conflict']} conflicting period(s) (!) and cannot be "
                   "applied: resolve them (see the reasons above) and plan again", err=True)
        return 1
    return 2 if summary["create"] or summary["replace"] else 0


@cli.command()
@click.argument("plan_files", metavar="PLAN...", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="print the plan artifact")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="markdown: one pull-request comment for all the plans, under GitHub's size limit")
@click.option("--full", is_flag=True, help="list every series instead of the first six")
@handle_errors
def show(plan_files: tuple[str, ...], as_json: bool, fmt: str, full: bool) -> None:
    """Render saved plans (a folder stands for the *.json plans in it)."""
    paths = [p for f in plan_files for p in (sorted(Path(f).glob("*.json")) if Path(f).is_dir() else [Path(f)])]
    plans = [(str(p), api.show(p)) for p in paths]
    if fmt == "markdown":
        click.echo(render_markdown([(p["spec"].get("file"), p) for _, p in plans]), nl=False)
        return
    for _, data in plans:
        if as_json or fmt == "json":
            click.echo(canonical_json(data))
        else:
            click.echo(text_view(data, full), nl=False)


@cli.command()
@click.argument("spec", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "json"]), default="dot", show_default=True)
@pass_obj
@handle_errors
def graph(obj: Obj, spec: str, fmt: str) -> None:
    """The compiled job graph of a spec."""
    click.echo(api.graph(spec, obj.ctx, fmt), nl=False)


@cli.command()
@click.option("--source", required=True, help="source name, e.g. eia")
@click.option("--dataset", help="only this dataset")
@click.option("--days", type=click.IntRange(1, 36600), help="the last N days (default 90)")
@click.option("--window", help="START:END dates, e.g. 2024-01-01:2024-12-31 (END inclusive)")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def gaps(obj: Obj, source: str, dataset: str | None, days: int | None, window: str | None, as_json: bool) -> None:
    """Missing intervals (not loaded, or hidden by a quarantine), series with the same gaps on one line."""
    if days and window:
        raise click.UsageError("give --days or --window, not both")
    rows = api.gaps(obj.ctx, source, dataset=dataset, days=days, window=window)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"No gaps for '{source}' in the window.")
    for r in rows:
        ranges = ", ".join(f"{a} .. {b}" for a, b in r["intervals"][:3])
        more = f" (+{r['ranges'] - 3} more)" if r["ranges"] > 3 else ""
        series = ",".join(r["series"][:6]) + (f",+{len(r['series']) - 6}" if len(r["series"]) > 6 else "")
        held = "; ".join(f"{q['periods']} quarantined by {q['quarantine_id']}" for q in r["quarantined"])
        click.echo(f"{r['dataset']:<20} {series:<30} {r['periods']:>8} {r['grain']} periods  {ranges}{more}"
                   + (f"  ({held})" if held else ""))


@cli.group()
def state() -> None:
    """Inspect the state store; break a stale lease."""


@state.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def state_list(obj: Obj, as_json: bool) -> None:
    """Loaded intervals per source, dataset and series."""
    rows = api.state_list(obj.ctx)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("The state holds no loaded data yet.")
    for r in rows:
        first, last = r["intervals"][0][0], r["intervals"][-1][1]
        click.echo(f"{r['source']:<6} {r['dataset']:<20} {r['series']:<28} {first} .. {last}  "
                   f"{r['ranges']} range(s), {r['records']} records, {len(r['loads'])} load(s)")


@state.command("show")
@click.option("--source", help="only leases of this source")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def state_show(obj: Obj, source: str | None, as_json: bool) -> None:
    """The store: url, serial, operations, live leases, applies waiting for them (in the order served)."""
    info = api.state_show(obj.ctx, source)
    if as_json:
        echo_json(info)
        return
    click.echo(f"state: {info['url']}  serial {info['serial']}  operations {info['operations']}")
    for lease in info["leases"]:
        click.echo(f"lease {lease['id']}: {lease['operation_id']} {lease['source']}/{lease['dataset']}/"
                   f"{lease['series_id']} {lease['interval'][0]} .. {lease['interval'][1]} "
                   f"host {lease['host']} pid {lease['pid']} age {lease['age_seconds']}s")
    for n, w in enumerate(info.get("waiters") or [], 1):
        click.echo(f"waiting #{n}: {w['operation_id']} priority {w['priority']} for {w['ranges']} range(s) of "
                   f"{w['source']}, {w['waiting_seconds']}s, host {w['host']} pid {w['pid']}")


@state.command("unlock")
@click.argument("lease_id", required=False)
@click.option("--operation", "operation", metavar="OP_ID", help="break every lease of this (dead) operation")
@click.option("--force", is_flag=True, help="really break it (its holder must be dead)")
@pass_obj
@handle_errors
def state_unlock(obj: Obj, lease_id: str | None, operation: str | None, force: bool) -> None:
    """Break a stale lease by id, or all leases of a dead operation."""
    out = api.state_unlock(obj.ctx, lease_id, force, operation=operation)
    if operation:
        click.echo(f"{out['leases_broken']} lease(s) of {operation} broken ({out['status']}).")
    else:
        click.echo(f"Lease {lease_id} broken.")


@cli.command()
@click.option("--out", default="schemas", show_default=True, type=click.Path(file_okay=False))
@handle_errors
def schema(out: str) -> None:
    """Regenerate the JSON schemas (and docs/spec-reference.md) from the models."""
    for p in api.write_schemas(out):
        click.echo(f"wrote {p}")



@cli.command("compile")
@click.argument("spec", type=click.Path())
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="folder for the job configs")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def compile_cmd(obj: Obj, spec: str, out_dir: str, as_json: bool) -> None:
    """Write the SeaTunnel job configs (HOCON .conf and JSON) of a spec, one per extract node."""
    jobs = api.compile_jobs(spec, obj.ctx, out_dir)
    if as_json:
        echo_json(jobs)
    else:
        for j in jobs:
            click.echo(f"{j['conf']}  ({j['requests']} Http source(s))")
        click.echo(f"Wrote {len(jobs)} SeaTunnel job(s) to {out_dir}.")
    if any(j["problems"] for j in jobs):
        for j in jobs:
            for p in j["problems"]:
                click.echo(f"{j['conf']}: {p}", err=True)
        sys.exit(1)


@cli.group()
def quotas() -> None:
    """Source quotas and rate limits."""


@quotas.command("validate")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 32), default=None,
              help="workers to check against the quotas (default: the specs' own, else 3)")
@click.option("--spec", "specs", multiple=True, type=click.Path(), help="also check this spec's plan (repeatable)")
@pass_obj
@handle_errors
def quotas_validate(obj: Obj, fmt: str, concurrency: int | None, specs: tuple[str, ...]) -> None:
    """Check quotas, rate limits and concurrency for consistency; exit 1 on an error."""
    reports = api.quotas_check(obj.ctx, concurrency, specs)
    if fmt == "json":
        echo_json(reports)
    else:
        for r in reports:
            quota = ", ".join(f"{k}={v:g}" for k, v in r["quota"].items()) or "none"
            rate = f"{r['effective_rate']:.3g} req/s" if r["effective_rate"] else "unlimited"
            budget = (f"; {r['day_budget_requests_per_day']:g} requests/day"
                      if r["day_budget_requests_per_day"] is not None else "")
            click.echo(f"{'ok ' if r['ok'] else 'ERR'} {r['source']:<6} quota {quota}; headroom {r['headroom']:g}; "
                       f"effective {rate} ({r['rate_origin']}); concurrency {r['concurrency']}{budget}")
            if r["planned_requests"] is not None:
                click.echo(f"      planned: {r['planned_requests']} requests, {r['days_needed']} day(s) of quota, "
                           f"about {r['estimated_seconds']:g}s")
            for w in r["windows"]:
                used = f"{w['at_effective_rate']:g}" if w["at_effective_rate"] is not None else "all"
                click.echo(f"      {w['window']}: {w['allowed']:g} allowed; the effective rate uses {used}")
            for e in r["errors"]:
                click.echo(f"      error: {e}", err=True)
            for w in r["warnings"]:
                click.echo(f"      warning: {w}")
    if not all(r["ok"] for r in reports):
        sys.exit(1)
