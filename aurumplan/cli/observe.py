"""Fleet observability commands: metrics, serve, health, cost, trends, dashboard, alerts (docs/observability.md)."""

from __future__ import annotations

import time

import click

from aurumplan import api
from aurumplan.cli.app import Obj, cli, handle_errors, pass_obj
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
