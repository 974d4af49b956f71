"""Entry point: the `aurumplan` console script.

Three things happen here, before and after click: a Terraform-style single-dash long option
(`-out=plan.json`, which click would read as `-o` with the value `ut=plan.json`) is refused
with the spelling to use, output cut short by its reader (`aurumplan plan … | head`) ends
quietly instead of with a BrokenPipeError, and the console script leaves without tearing the
interpreter down once the command is done (`_leave`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import threading

import click

from aurumplan.cli import emergency, observe, operations, patterns, planning, quality, retention  # noqa: F401  (register their commands)
from aurumplan.cli.app import cli

_TERRAFORM_STYLE = re.compile(r"^-([a-z][a-z-]+)(=.*)?$")


def terraform_style(args: list[str]) -> str | None:
    """The error for the first `-long-option[=value]` argument (before a `--`), else None."""
    for arg in args:
        if arg == "--":
            return None
        m = _TERRAFORM_STYLE.match(arg)
        if m and len(m.group(1)) > 1:
            name, value = m.group(1), (m.group(2) or "")[1:]
            use = f"--{name} {value}".rstrip() if value else f"--{name}"
            if name == "out":
                use = f"-o {value}" if value else "-o FILE"
            return f"Error: '{arg}' is a Terraform-style option; aurumplan spells it '{use}'"
    return None


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    problem = terraform_style(args)
    if problem is not None:
        click.echo(problem, err=True)
        sys.exit(2)
    try:
        cli.main(args=args, prog_name="aurumplan", standalone_mode=True)
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(0)
    except SystemExit as done:
        if argv is None:  # the console script, not a caller that goes on running
            _leave(done.code)
        raise


def _leave(code: str | int | None) -> None:
    """End the process as soon as the command is done: exit functions run and output is flushed, but
    the interpreter does not free every module and object one by one (0.1-0.2 s after an apply; issue
    18). Only when no other thread still runs (one that does is waited for by the normal exit).

    No last garbage collection either (after an apply, median 67-70 ms on SQLite, 88-89 on PostgreSQL;
    bench/RESULTS.md): what it found was disposed engines and compiled statements in reference cycles.
    Every file the library writes is closed by its `with` block, every engine is disposed by its owner,
    and a connection the process still holds is closed by the system, whose database then rolls back
    any open transaction: the state a `kill -9` leaves, which every operation survives
    (docs/architecture.md, "Applying: the commit protocol")."""
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, status 1, as the interpreter does
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
