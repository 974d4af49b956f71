"""Fleet observability commands: metrics, serve, health, cost, trends, dashboard, alerts (docs/operations.md)."""

from __future__ import annotations

import csv
import io
import sys
import time
from typing import Any

import click

from aurumplan.cli.app import Obj, cli, echo_json, handle_errors, pass_obj
from aurumplan.cli.lazyapi import api
from aurumplan.errors import AurumError

PORT = click.IntRange(0, 65535)


@cli.command()
@pass_obj
@handle_errors
def metrics(obj: Obj) -> None:
    """Print the fleet's metrics in Prometheus text format (for node_exporter's textfile collector)."""
    click.echo(api.metrics_text(obj.ctx), nl=False)


@cli.command()
@click.option("--metrics-port", type=PORT, default=None, help="serve /metrics on this port")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="address to serve /metrics on")
@click.option("--alerts", "with_alerts", is_flag=True, help="evaluate the alert rules of aurumplan.yaml")
@click.option("--interval", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="seconds between alert evaluations")
@pass_obj
@handle_errors
def serve(obj: Obj, metrics_port: int | None, metrics_host: str, with_alerts: bool, interval: float) -> None:
    """Run the /metrics exporter and/or the alert evaluator until interrupted."""
    if metrics_port is None and not with_alerts:
        raise AurumError("nothing to serve: give --metrics-port N, --alerts, or both")
    evaluator = api.alerter(obj.ctx) if with_alerts else None
    with api.metrics_server(obj.ctx, metrics_port, metrics_host) as bound:
        if bound:
            click.echo(f"Serving metrics on http://{bound[0]}:{bound[1]}/metrics", err=True)
        while True:
            if evaluator is not None:
                for line in api.alerts_evaluate(obj.ctx, evaluator):
                    click.echo(line, err=True)
            time.sleep(interval)


@cli.command()
@click.option("--source", "sources", multiple=True, help="check only this source (repeatable)")
@click.option("--offline", is_flag=True, help="do not call the source APIs")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def health(obj: Obj, sources: tuple[str, ...], offline: bool, as_json: bool) -> None:
    """State, warehouse, each API reachable with its key accepted, quota left today; exit 1 when something is down."""
    out = api.health(obj.ctx, list(sources) or None, offline)
    if as_json:
        echo_json(out)
    else:
        for c in out["checks"]:
            click.echo(f"{'ok' if c['ok'] else 'DOWN':<5} {c['name']:<16} {c['detail']}")
    if not out["ok"]:
        sys.exit(1)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:g}" if isinstance(v, float) else str(v)


COST_COLUMNS = ["operations", "requests", "bytes", "records", "duration_seconds", "cpu_seconds", "quota_days",
                "cost"]


@cli.command()
@click.option("--range", "range_", required=True, help="START:END dates (END included), or 7d / 12h")
@click.option("--group-by", type=click.Choice(["kind", "source", "owner"]), default="kind", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@pass_obj
@handle_errors
def cost(obj: Obj, range_: str, group_by: str, fmt: str) -> None:
    """API calls, bytes, records, wall and CPU time, quota-days and money per kind, source or owner (prices:
    aurumplan.yaml costs:)."""
    out = api.cost(obj.ctx, range_, group_by)
    if fmt == "json":
        echo_json(out)
        return
    columns = [group_by, *COST_COLUMNS]
    rows = [*out["rows"], out["total"]]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
        return
    click.echo(_table(rows, columns))
    click.echo(f"(cost in {out['currency']})")


TREND_COLUMNS = ["kind", "source", "operations", "ended", "avg_duration_seconds", "p95_duration_seconds",
                 "error_rate", "retry_rate", "records_per_second", "requests_per_second"]


@cli.command()
@click.option("--range", "range_", default="7d", show_default=True, help="7d / 12h / 30m, or START:END dates")
@click.option("--source", default=None, help="only this source")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
@handle_errors
def trends(obj: Obj, range_: str, source: str | None, as_json: bool) -> None:
    """Average and p95 duration, error rate and throughput per kind and source."""
    out = api.trends(obj.ctx, range_, source)
    if as_json:
        echo_json(out)
    elif not out["rows"]:
        click.echo("No operations in the range.")
    else:
        click.echo(_table(out["rows"], TREND_COLUMNS))


@cli.command()
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="the HTML file to write")
@click.option("--cost-range", default="30d", show_default=True, help="range of the cost table")
@click.option("--trends-range", default="7d", show_default=True, help="range of the trends table")
@click.option("--group-by", type=click.Choice(["kind", "source", "owner"]), default="kind", show_default=True)
@click.option("--probe", is_flag=True, help="call each source's API for the health table (default: offline checks)")
@pass_obj
@handle_errors
def dashboard(obj: Obj, out: str, cost_range: str, trends_range: str, group_by: str, probe: bool) -> None:
    """Write one self-contained HTML page of the fleet: active operations, failures, health, cost, trends."""
    res = api.dashboard(obj.ctx, out, cost_range, trends_range, group_by, probe)
    click.echo(f"Wrote {res['out']} ({res['operations']} operations, {'healthy' if res['healthy'] else 'DOWN'}).")


@cli.group()
def alerts() -> None:
    """Alert rules and channels of aurumplan.yaml (`serve --alerts` evaluates them)."""


@alerts.command("test")
@click.option("--channel", required=True, help="a channel named under alerts.channels")
@pass_obj
@handle_errors
def alerts_test(obj: Obj, channel: str) -> None:
    """Send a test notification to one channel."""
    click.echo(f"Sent a test notification to {api.alerts_test(obj.ctx, channel)}.")


@cli.command()
@click.argument("op_id")
@click.option("--json", "as_json", is_flag=True, help="the records as JSON lines, as written")
@pass_obj
@handle_errors
def logs(obj: Obj, op_id: str, as_json: bool) -> None:
    """What apply, resume and rollback did to an operation: its action log, oldest first."""
    for rec in api.logs(op_id, obj.ctx):
        click.echo(api.format_record(rec, as_json))
