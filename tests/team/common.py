"""A throwaway project in a git repository: the examples' config and recordings, specs under plans/."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from aurumplan.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(repo: Path, *args: str) -> str:
    """git with an identity of its own: a fresh machine has none configured."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY}).stdout


def make_repo(root: Path, specs: tuple[str, ...] = ("quickstart.yaml",)) -> Path:
    """`root/origin` with one commit on main (config, recordings, the specs under plans/), cloned to
    `root/work`: the clone has origin/main as a pull request's checkout has."""
    origin = root / "origin"
    (origin / "plans").mkdir(parents=True)
    shutil.copy(EXAMPLES / "aurumplan.yaml", origin / "aurumplan.yaml")
    shutil.copytree(EXAMPLES / "recordings", origin / "recordings")
    for spec in specs:
        shutil.copy(EXAMPLES / spec, origin / "plans" / spec)
    (origin / ".gitignore").write_text(".aurumplan/\nplans-out/\ncomment.md\n")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    commit(origin, "init")
    git(root, "clone", "-q", str(origin), "work")
    return root / "work"


def commit(repo: Path, message: str) -> None:
    git(repo, "commit", "-q", "-m", message)


def run(cwd: Path, *args: str) -> tuple[int, str, str]:
    """The CLI in `cwd` (config found upward from it), as a user runs it there."""
    with contextlib.chdir(cwd):
        res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr
