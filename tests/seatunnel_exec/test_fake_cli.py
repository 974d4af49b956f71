"""The fake seatunnel.sh rejects what the real client rejects, with the real exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(home / "bin" / "seatunnel.sh"), *args], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    p = tmp_path / "job.conf"
    p.write_text('env { job.mode = "BATCH" }\nsource { Http { url = "http://127.0.0.1:9/" } }\nsink { Jdbc {} }\n')
    return p


def test_a_variable_value_with_a_space_is_a_usage_error(st_home: Path, conf: Path) -> None:
    """seatunnel.sh passes $@ unquoted: `a=b c` splits and `c` is a stray main parameter."""
    done = run(st_home, "--config", str(conf), "-m", "local", "-i", "a=b c")
    assert done.returncode == 234 and "main parameter 'c'" in done.stderr


@pytest.mark.parametrize(("args", "code"), [
    (["-m", "yarn"], 234), (["-h"], 234), (["--bogus"], 234), (["-i", "table_name=x"], 1)])
def test_bad_arguments(st_home: Path, conf: Path, args: list[str], code: int) -> None:
    assert run(st_home, "--config", str(conf), *args).returncode == code


def test_missing_config_file_fails_with_exit_1(st_home: Path, tmp_path: Path) -> None:
    done = run(st_home, "--config", str(tmp_path / "nope.conf"), "-m", "local")
    assert done.returncode == 1 and "Can't find config file" in done.stdout


def test_status_of_an_unknown_job_fails(st_home: Path) -> None:
    assert run(st_home, "-j", "1234").returncode == 1
