"""The click group, global options and the one place errors become exit codes."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from aurumplan import __version__
from aurumplan.cli.lazyapi import api
from aurumplan.errors import AurumError

F = TypeVar("F", bound=Callable[..., Any])


class Obj:
    """Per-invocation settings; the Context is loaded lazily so `--help` never touches files."""

    def __init__(self, config: str | None, debug: bool, log_format: str = "human") -> None:
        self.config_path = config
        self.debug = debug
        self.log_format = log_format
        self._ctx: api.Context | None = None

    @property
    def ctx(self) -> api.Context:
        if self._ctx is None:
            self._ctx = api.context(self.config_path)
        return self._ctx


def handle_errors(fn: F) -> F:
    """AurumError -> its message on stderr and exit code; anything else -> one line, exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except AurumError as exc:
            if debug:
                raise
            click.echo(format_error(exc), err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except BrokenPipeError:
            raise  # the reader (`| head`) left: main() ends quietly
        except RecursionError:
            if debug:
                raise
            click.echo("Error: the input is nested too deeply to read", err=True)
            sys.exit(1)
        except OSError as exc:
            if debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"Error: {where}{exc.strerror or exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            if debug:
                raise
            click.echo(f"Error: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
                       err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


_LOCATED = re.compile(r"^\S+:\d+:\d+: ")


def format_error(exc: AurumError) -> str:
    """`FILE:LINE:COL: message` lines stay as they are; other errors read `Error: message`."""
    text = str(exc)
    return text if _LOCATED.match(text) else f"Error: {text}"


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="aurumplan.yaml to use (default: found upward from the working directory; env AURUMPLAN_CONFIG)")
@click.option("--debug", is_flag=True, help="show tracebacks for errors")
@click.option("--log-format", type=click.Choice(["human", "json"]), default="human", show_default=True,
              help="apply/resume progress on stderr: lines for people, or one JSON record a line (docs/operations.md)")
@click.version_option(__version__, prog_name="aurumplan")
@click.pass_context
def cli(ctx: click.Context, config: str | None, debug: bool, log_format: str) -> None:
    """Plan and apply backfills, replays and reprocessing of time-series ingestion."""
    ctx.obj = Obj(config, debug, log_format)


pass_obj = click.make_pass_decorator(Obj)
