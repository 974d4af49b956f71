"""Apply progress: a rich bar on a terminal, otherwise one log line per progress interval."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from aurumplan.cli.lazyapi import api

Hook = Callable[[str, dict[str, Any]], None]


INTERRUPTED = ("Interrupt received: stopping at the next checkpoint (in-flight requests finish); the operation "
               "is left paused and keeps its leases. Press Ctrl-C again to force (like kill -9: resume recovers).")
FORCED = "Second interrupt: stopping now. `aurumplan resume {op}` continues from the last checkpoint."


@contextmanager
def make_hook(plan: dict[str, Any], interval: float, quiet: bool = False, log_format: str = "human") -> Iterator[Hook]:
    """The apply's progress display, which also says at once what Ctrl-C does; with log_format json,
    one JSON log record a line on stderr instead (docs/operations.md#logs)."""
    if log_format == "json":
        yield _json_lines(interval)
        return
    with _display(plan, interval, quiet) as show:
        def hook(event: str, data: dict[str, Any]) -> None:
            if event == "interrupt":
                click.echo("\n" + (FORCED.format(op=data["operation_id"]) if data.get("force") else INTERRUPTED),
                           err=True)
                return
            show(event, data)

        yield hook


def _json_lines(interval: float) -> Hook:
    """Every event as its log record; progress at most once per interval."""
    lock = threading.Lock()
    last = [float("-inf")]

    def on(event: str, data: dict[str, Any]) -> None:
        if event == "progress":
            with lock:
                now = time.monotonic()
                if now - last[0] < interval:
                    return
                last[0] = now
        click.echo(api.log_line(event, data, as_json=True), err=True)

    return on


@contextmanager
def _display(plan: dict[str, Any], interval: float, quiet: bool = False) -> Iterator[Hook]:
    total = max(int(plan["estimates"]["records"]), 1)
    if quiet:
        yield lambda _e, _d: None
        return
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task(plan["operation"]["id"], total=total)

            def on_tty(event: str, data: dict[str, Any]) -> None:
                if "records" in data and event == "progress":
                    bar.update(task, completed=min(data["records"], total))
                elif event == "node" and data.get("status") == "failed":
                    bar.console.print(f"[red]failed[/red] {data['node']}: {data.get('error', '')}")

            yield on_tty
        return
    lock = threading.Lock()
    last = [time.monotonic()]
    started = time.monotonic()

    def on_log(event: str, data: dict[str, Any]) -> None:
        now = time.monotonic()
        if event == "node" and data.get("status") == "failed":
            click.echo(f"[{now - started:7.1f}s] failed {data['node']}: {data.get('error', '')}", err=True)
            return
        if event != "progress":
            return
        with lock:
            if now - last[0] < interval:
                return
            last[0] = now
        rate = data["records"] / max(now - started, 1e-9)
        click.echo(f"[{now - started:7.1f}s] {data['records']}/{total} records ({rate:,.0f}/s)", err=True)

    yield on_log
