"""`init --team`, the pre-commit hook, editor schemas and shell completion, as a team sets them up."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.state.dburl import pg_schema_url, pg_unreachable
from tests.team.common import EXAMPLES, run

ROOT = EXAMPLES.parent
BIN = Path(sys.executable).parent
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)


def check_jsonschema(schema: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """Validated as editors load YAML: unquoted dates stay strings."""
    return subprocess.run([str(BIN / "check-jsonschema"), "--schemafile", str(schema), *map(str, files)],
                          capture_output=True, text=True)


def init_team(tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    db = f"sqlite:///{tmp_path / 'team.db'}"
    return run(tmp_path, "init", "--team", "--state-url", db, "--warehouse-url", db, *extra)


def test_init_team_writes_the_project_and_keeps_what_exists(tmp_path: Path) -> None:
    code, out, err = init_team(tmp_path)
    assert code == 0, err
    for rel in ("aurumplan.yaml", "plans/backfill-eia-demand-2024-01.yaml", ".github/workflows/aurumplan.yml",
                ".pre-commit-config.yaml", ".gitignore", "schemas/operation.schema.json", "schemas/config.schema.json"):
        assert f"wrote {rel}" in out
    assert "State ready at sqlite:///" in out
    assert (tmp_path / "team.db").exists()
    assert (tmp_path / ".github/workflows/aurumplan.yml").read_text() == \
        (EXAMPLES / "github-actions" / "aurumplan.yml").read_text()
    hooks = YAML(typ="safe").load((tmp_path / ".pre-commit-config.yaml").read_text())
    assert hooks["repos"][0]["hooks"] == [{"id": "aurumplan-validate"}]
    assert run(tmp_path, "validate", "plans/backfill-eia-demand-2024-01.yaml")[0] == 0

    (tmp_path / "aurumplan.yaml").write_text("state: sqlite:///mine.db\n")
    code, out, _ = init_team(tmp_path)
    assert code == 0 and "kept existing aurumplan.yaml" in out
    assert (tmp_path / "aurumplan.yaml").read_text() == "state: sqlite:///mine.db\n"


def test_init_team_config_is_postgresql_without_a_password(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "init", "--team", "--state-url", "postgresql+psycopg://aurumplan@127.0.0.1:1/x")
    assert code == 1
    assert "the state is not ready" in err and "Traceback" not in err
    config = YAML(typ="safe").load((tmp_path / "aurumplan.yaml").read_text())
    assert config["state"] == "postgresql+psycopg://aurumplan@127.0.0.1:1/x"
    assert config["warehouse"].startswith("postgresql+psycopg://")


def test_init_team_refuses_to_write_a_password(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "init", "--team", "--state-url", "postgresql+psycopg://u:s3cret@db/x")
    assert code == 1 and "--state-url has a password" in err and "s3cret" not in err
    assert not (tmp_path / "aurumplan.yaml").exists()


@pytest.mark.postgres
def test_init_team_on_postgresql(tmp_path: Path) -> None:
    if pg_unreachable():
        pytest.fail(f"PostgreSQL unreachable: {pg_unreachable()}")
    for url in pg_schema_url():
        code, out, err = run(tmp_path, "init", "--team", "--state-url", url, "--warehouse-url", url)
        assert code == 0, err
        code, out, _ = run(tmp_path, "state", "show", "--json")
        assert code == 0 and '"initialized": true' in out


def shipped_specs() -> list[Path]:
    return sorted(p for p in [*EXAMPLES.glob("*.yaml"), *(ROOT / "plans").glob("*.yaml"),
                              *(ROOT / "aurumplan" / "integrations" / "templates").glob("*spec.yaml")]
                  if p.name != "aurumplan.yaml")


def test_every_example_names_its_schema_for_editors() -> None:
    for path in [*EXAMPLES.glob("*.yaml"), ROOT / "aurumplan" / "integrations" / "templates" / "example-spec.yaml"]:
        m = SCHEMA_LINE.search(path.read_text())
        assert m, f"{path} has no yaml-language-server line"
        base = (ROOT / "plans") if path.name == "example-spec.yaml" else path.parent  # where init writes it
        target = ROOT / "schemas" / Path(m.group(1)).name
        assert (base / m.group(1)).resolve() == target.resolve(), path


def test_json_schemas_validate_every_shipped_spec_with_unquoted_dates() -> None:
    specs = shipped_specs()
    assert sum(bool(re.search(r"(start|end|date): 20\d\d-\d\d-\d\d\b", p.read_text())) for p in specs) >= 10
    done = check_jsonschema(ROOT / "schemas" / "operation.schema.json", *specs)
    assert done.returncode == 0, done.stdout + done.stderr
    done = check_jsonschema(ROOT / "schemas" / "config.schema.json", EXAMPLES / "aurumplan.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_json_schema_rejects_a_misspelt_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "quickstart.yaml").read_text().replace("window:", "windwo:"))
    assert check_jsonschema(ROOT / "schemas" / "operation.schema.json", bad).returncode == 1


def hook() -> dict[str, object]:
    [found] = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return found


def test_pre_commit_hook_checks_only_specs_under_plans() -> None:
    files = re.compile(str(hook()["files"]))
    assert files.search("plans/backfill.yaml") and files.search("plans/eia/replay.yml")
    assert not files.search("aurumplan.yaml") and not files.search(".github/workflows/aurumplan.yml")


def test_pre_commit_hook_fails_a_bad_spec(tmp_path: Path) -> None:
    """The hook's entry as pre-commit runs it: the changed files appended, in the repository root."""
    init_team(tmp_path)
    good = "plans/backfill-eia-demand-2024-01.yaml"
    bad = tmp_path / "plans" / "bad.yaml"
    bad.write_text((tmp_path / good).read_text().replace("datasets: [ELEC.DEMAND]", "datasets: [ELEC.DEMANDS]"))
    entry = [str(BIN / w) if w == "aurumplan" else w for w in shlex.split(str(hook()["entry"]))]

    def pre_commit(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*entry, *files], cwd=tmp_path, capture_output=True, text=True)

    done = pre_commit(good, "plans/bad.yaml")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("plans/bad.yaml:11:14: spec.datasets: unknown dataset") and "ELEC.DEMANDS" in line
    assert pre_commit(good).returncode == 0


def test_shell_completion_is_clicks() -> None:
    """docs/team-workflow.md: `eval "$(_AURUMPLAN_COMPLETE=bash_source aurumplan)"`."""
    env = {"_AURUMPLAN_COMPLETE": "bash_complete", "COMP_WORDS": "aurumplan pl", "COMP_CWORD": "1", "PATH": str(BIN)}
    done = subprocess.run([str(BIN / "aurumplan")], env=env, capture_output=True, text=True)
    assert "plain,plan" in done.stdout.splitlines()
    source = subprocess.run([str(BIN / "aurumplan")], env={"_AURUMPLAN_COMPLETE": "bash_source"},
                            capture_output=True, text=True)
    assert "complete -o nosort -F _aurumplan_completion aurumplan" in source.stdout
