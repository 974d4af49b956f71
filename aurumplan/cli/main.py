"""Entry point: the `aurumplan` console script."""

from __future__ import annotations

from aurumplan.cli import observe, operations, planning, quality  # noqa: F401  (register their commands)
from aurumplan.cli.app import cli


def main() -> None:
    cli(prog_name="aurumplan")


if __name__ == "__main__":
    main()
