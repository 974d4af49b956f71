"""What the apply tests share: a project pointing at a local API server, and the CLI as a user runs it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from aurumplan.cli.main import cli


def write_config(folder: Path, db_url: str, base_url: str, quota: str = "{per_second: 1000}") -> Path:
    """aurumplan.yaml with state and warehouse in db_url and eia served by a local server."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "aurumplan.yaml"
    path.write_text(f"state: '{db_url}'\nwarehouse: '{db_url}'\nsources:\n  eia:\n    base_url: {base_url}\n"
                    f"    quota: {quota}\n")
    return path


def run(project: Path, *args: str) -> tuple[int, str, str]:
    """`aurumplan --config PROJECT/aurumplan.yaml ARGS`: exit code, stdout, stderr; bugs re-raised."""
    res = CliRunner().invoke(cli, ["--config", str(project / "aurumplan.yaml"), *args])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr
