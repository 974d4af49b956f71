"""Entry point: the `aurumplan` console script.

Two things happen here, before and after click: a Terraform-style single-dash long option
(`-out=plan.json`, which click would read as `-o` with the value `ut=plan.json`) is refused
with the spelling to use, and output cut short by its reader (`aurumplan plan … | head`) ends
quietly instead of with a BrokenPipeError.
"""

from __future__ import annotations

import os
import re
import sys

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


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
