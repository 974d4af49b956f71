"""The console script ends without tearing the interpreter down (cli/main.py `_leave`): its exit status,
its whole output and its exit functions are those of a normal exit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurumplan.cli.main import cli
from tests.paths import ROOT

SCRIPT = Path(sys.executable).with_name("aurumplan")


def aurumplan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_status_and_output_as_a_normal_exit(tmp_path: Path) -> None:
    done = aurumplan("--version")
    assert done.returncode == 0 and done.stdout.startswith("aurumplan, version")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: aurumplan/v1\nkind: Backfil\n")
    done = aurumplan("validate", str(bad))
    assert done.returncode == 1 and "bad.yaml:2" in done.stderr and "Traceback" not in done.stderr
    assert aurumplan("no-such-command").returncode == 2


def test_a_long_output_arrives_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan's JSON (kilobytes, held in the buffer when stdout is a pipe) is flushed before the process ends."""
    project = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", project, ignore=shutil.ignore_patterns(".aurumplan"))
    done = aurumplan("plan", "backfill-eia.yaml", "--json", cwd=project)
    assert done.returncode in (0, 2), done.stderr
    monkeypatch.chdir(project)
    expected = CliRunner().invoke(cli, ["plan", "backfill-eia.yaml", "--json"])
    assert json.loads(done.stdout) == json.loads(expected.stdout)
    assert len(done.stdout) > 4096  # held in the pipe buffer until flushed


def test_exit_functions_run(tmp_path: Path) -> None:
    """Exit functions (logging's flush, temporary folders' cleanup) run before the process ends."""
    marker = tmp_path / "ran"
    code = ("import atexit, sys; from aurumplan.cli.main import main; "
            f"atexit.register(lambda: open({str(marker)!r}, 'w').write('yes')); sys.argv = ['aurumplan', '--version']; "
            "main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("aurumplan, version")
    assert marker.read_text() == "yes"
