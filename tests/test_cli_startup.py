"""`aurumplan --help` and `--version` start without importing the library (issue 18: ~0.8 s of imports before)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from click.testing import CliRunner
from aurumplan.cli.main import cli
out = CliRunner().invoke(cli, sys.argv[1:])
assert out.exit_code == 0, out.output
heavy = sorted(m for m in ("sqlalchemy", "httpx", "networkx", "psycopg", "pydantic") if m in sys.modules)
print(",".join(heavy) or "none")
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["init", "--help"]])
def test_help_and_version_leave_heavy_libraries_unimported(args: list[str]) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none"


def test_a_command_still_reaches_the_library_through_the_lazy_api() -> None:
    code = ("import aurumplan.cli.main, aurumplan, sys; from aurumplan import api; "
            "print(api.REPORT_FORMATS, aurumplan.api is sys.modules['aurumplan.api'], 'sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "('markdown', 'json', 'html') True True"
