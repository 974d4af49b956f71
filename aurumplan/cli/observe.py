"""Fleet observability commands: metrics, serve, health, cost, trends, dashboard, alerts (docs/observability.md)."""

from __future__ import annotations

import sys
import time

import click

from aurumplan import api
from aurumplan.cli.app import Obj, cli, echo_json, handle_errors, pass_obj
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
@pass_obj
@handle_errors
def serve(obj: Obj, metrics_port: int | None, metrics_host: str) -> None:
    """Run the /metrics exporter until interrupted."""
    if metrics_port is None:
        raise AurumError("nothing to serve: give --metrics-port N")
    with api.metrics_server(obj.ctx, metrics_port, metrics_host) as bound:
        click.echo(f"Serving metrics on http://{bound[0]}:{bound[1]}/metrics", err=True)
        while True:
            time.sleep(3600)


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
