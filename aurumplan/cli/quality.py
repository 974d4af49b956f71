"""`check`, `coverage` and `report`: quality and coverage of what is loaded, and what an operation did."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from aurumplan.cli.app import Obj, cli, echo_json, handle_errors, pass_obj
from aurumplan.cli.lazyapi import LazyChoice, api


def _split(values: Iterable[str]) -> list[str]:
    """Repeated and comma-separated option values as one list."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _one_narrowing(series: tuple[str, ...], operation: str | None) -> None:
    if series and operation:
        raise click.UsageError("give --series or --operation, not both: each narrows what is expected")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _finding(check: str, f: dict[str, Any]) -> str:
    shown = ", ".join(f"{s}..{e}" for s, e in f["periods"][:3])
    more = " ..." if len(f["periods"]) > 3 or f.get("truncated") else ""
    where = f" [{shown}{more}]" if shown else ""
    return f"{check}: {f['series_id']}: {f['message']}{where}"


def render_check(out: dict[str, Any], max_findings: int = 10) -> str:
    """The terminal view of `check`: per dataset its score, per-check scores and first findings."""
    w = out["window"]
    lines = [f"Quality of '{out['source']}' {w[0]} .. {w[1]} ({', '.join(out['checks'])}), "
             f"threshold {_pct(out['threshold'])}", ""]
    for d in out["datasets"]:
        verdict = "passed" if d["passed"] else "FAILED"
        lines.append(f"{d['dataset']}  {_pct(d['score'])}  {verdict}  ({d['expected']['text']})")
        lines.append("  " + "  ".join(f"{k} {_pct(c['score'])}" for k, c in d["checks"].items()))
        findings = [(k, f) for k, c in d["checks"].items() for f in c["findings"]]
        lines += [f"  - {_finding(k, f)}" for k, f in findings[:max_findings]]
        if len(findings) > max_findings:
            lines.append(f"  ... {len(findings) - max_findings} more findings (--json lists them all)")
    not_loaded = [s["dataset"] for s in out["skipped"]]
    if not_loaded:
        lines.append(f"Not judged (nothing loaded): {', '.join(not_loaded)}")
    if not out["datasets"]:
        lines.append(f"No data loaded for source '{out['source']}': nothing to judge.")
    elif out["passed"]:
        lines.append(f"Passed: every dataset scores at least {_pct(out['threshold'])} (lowest {_pct(out['score'])}).")
    else:
        low = [f"{d['dataset']} {_pct(d['score'])}" for d in out["datasets"] if not d["passed"]]
        lines.append(f"FAILED: below {_pct(out['threshold'])}: {', '.join(low)}.")
    return "\n".join(lines)


@cli.command()
@click.option("--source", required=True, help="source name from the catalog, e.g. eia")
@click.option("--window", "--date-range", "window", required=True,
              help="START:END dates, END inclusive (2024-01-01:2024-12-31), or START..END datetimes, END exclusive")
@click.option("--dataset", default=None, help="only this dataset (default: every dataset with data loaded)")
@click.option("--checks", multiple=True,
              help="comma-separated: completeness, accuracy, consistency, schema, or all (default)")
@click.option("--series", multiple=True,
              help="comma-separated series to judge (default: the catalog's and any others loaded, as coverage)")
@click.option("--operation", "operation", default=None, metavar="OP",
              help="judge only the series this operation loaded (instead of --series)")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.95, show_default=True,
              help="exit 1 when a dataset scores below this")
@click.option("--max-findings", type=click.IntRange(0), default=10, show_default=True,
              help="findings shown per dataset")
@click.option("--json", "as_json", is_flag=True, help="print the full result as JSON")
@pass_obj
@handle_errors
def check(obj: Obj, source: str, window: str, dataset: str | None, checks: tuple[str, ...],
          series: tuple[str, ...], operation: str | None, threshold: float, max_findings: int,
          as_json: bool) -> None:
    """Data quality of what is loaded in a window; exit 1 below the threshold (for CI)."""
    _one_narrowing(series, operation)
    out = api.check(obj.ctx, source, window, dataset, _split(checks) or None, series=_split(series) or None,
                    threshold=threshold, operation=operation)
    if as_json:
        echo_json(out)
    else:
        click.echo(render_check(out, max_findings))
    if not out["passed"]:
        sys.exit(1)


@cli.command()
@click.option("--source", required=True, help="source name from the catalog, e.g. eia")
@click.option("--monthly", is_flag=True, help="one bucket per month instead of per day")
@click.option("--dataset", default=None, help="only this dataset")
@click.option("--window", default=None, help="START:END: every dataset over this window (default: what is loaded)")
@click.option("--series", multiple=True,
              help="comma-separated series to count (default: the catalog's and any others loaded, as check)")
@click.option("--operation", "operation", default=None, metavar="OP",
              help="count only the series this operation loaded (instead of --series)")
@click.option("--table", "as_table", is_flag=True, help="also list each bucket's counts (always with --monthly)")
@click.option("--json", "as_json", is_flag=True, help="print buckets and totals as JSON")
@pass_obj
@handle_errors
def coverage(obj: Obj, source: str, monthly: bool, dataset: str | None, window: str | None,
             series: tuple[str, ...], operation: str | None, as_table: bool, as_json: bool) -> None:
    """Loaded records per day (or month) against what is expected (the series check judges), as a heat strip."""
    _one_narrowing(series, operation)
    out = api.coverage(obj.ctx, source, monthly, dataset, window=window, series=_split(series) or None,
                       operation=operation)
    if as_json:
        echo_json(out)
        return
    rows: list[dict[str, Any]] = out["rows"]
    if not rows:
        click.echo(f"No data loaded for source '{source}'" + (f" dataset '{dataset}'." if dataset else "."))
        return
    name_w = max(len(r["dataset"]) for r in rows)
    width = max(20, shutil.get_terminal_size((120, 24)).columns - name_w - 30)
    click.echo(api.coverage_strip(rows, width=width))
    for d in out["datasets"]:
        if d.get("expected_series"):
            click.echo(f"{d['dataset']}: {d['expected_series']['text']}")
    if as_table or monthly:
        click.echo("")
        click.echo(f"{'dataset':<{name_w}}  {'bucket':<10}  {'records':>10}  {'expected':>10}  share")
        for r in rows:
            click.echo(f"{r['dataset']:<{name_w}}  {r['bucket']:<10}  {r['records']:>10,}  {r['expected']:>10,}  "
                       f"{_pct(r['share'])}")


_EXT = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".html": "html", ".htm": "html"}


@cli.command()
@click.argument("op_id")
@click.option("--format", "fmt", type=LazyChoice(lambda: api.REPORT_FORMATS), default=None,
              help="default: from the -o file's extension, else markdown")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="write to FILE, not stdout")
@click.option("--json", "as_json", is_flag=True, help="same as --format json")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True,
              help="largest changes and slowest nodes listed")
@pass_obj
@handle_errors
def report(obj: Obj, op_id: str, fmt: str | None, output: str | None, as_json: bool, top: int) -> None:
    """What an operation did, with figures; for a Replay or Reprocess, before and after."""
    fmt = "json" if as_json else fmt or (_EXT.get(Path(output).suffix.lower()) if output else None) or "markdown"
    text = api.report(obj.ctx, op_id, fmt, top_n=top)
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"Wrote the {fmt} report of {op_id} to {output}.")
