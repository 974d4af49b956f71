"""examples/github-actions/aurumplan.yml: valid for GitHub, and its shell steps work on a real git repository.

The steps run as GitHub runs them (`bash -eo pipefail`), with `${{ }}` expressions given the values of a
pull request, and a stand-in `gh` that keeps comments and artifacts in folders instead of GitHub.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.team.common import EXAMPLES, commit, git, make_repo, run

WORKFLOW = EXAMPLES / "github-actions" / "aurumplan.yml"
BIN = Path(sys.executable).parent

FAKE_GH = r'''#!/usr/bin/env python3
"""gh as the workflow uses it: comments and artifacts are files under $GH_HOME; every call is logged."""
import json, os, shutil, sys
from pathlib import Path
home, args = Path(os.environ["GH_HOME"]), sys.argv[1:]
with open(home / "calls.jsonl", "a") as log:
    log.write(json.dumps(args) + "\n")
comments = home / "comments"
comments.mkdir(exist_ok=True)
if args[:1] == ["api"] and "-X" in args:
    method, url = args[args.index("-X") + 1], args[args.index("-X") + 2]
    body = Path(args[args.index("-F") + 1].split("@", 1)[1]).read_text()
    cid = url.rsplit("/", 1)[1] if method == "PATCH" else str(len(list(comments.iterdir())) + 1)
    (comments / cid).write_text(body)
elif args[:1] == ["api"] and args[1].endswith("/comments"):
    for c in sorted(comments.iterdir()):
        if c.read_text().startswith("<!-- aurumplan-plan -->"):
            print(c.name)
elif args[:1] == ["api"] and args[1].endswith("/artifacts"):
    for a in sorted((home / "artifacts").iterdir()):
        print(a.name)
elif args[:2] == ["run", "list"]:
    print(os.environ.get("GH_RUN_ID", ""))
elif args[:2] == ["run", "download"]:
    name, dest = args[args.index("-n") + 1], Path(args[args.index("-D") + 1])
    for f in (home / "artifacts" / name).iterdir():
        shutil.copy(f, dest / f.name)
else:
    sys.exit(f"fake gh: unexpected {args}")
'''


def load_workflow() -> dict[str, Any]:
    return YAML(typ="safe").load(WORKFLOW.read_text())


def test_workflow_is_valid_for_github() -> None:
    """Checked offline against the GitHub workflow schema that check-jsonschema vendors."""
    done = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           str(WORKFLOW)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_merge_applies_the_reviewed_artifact_never_a_new_plan() -> None:
    jobs = load_workflow()["jobs"]
    apply_steps = " ".join(s.get("run", "") for s in jobs["apply"]["steps"])
    assert "aurumplan plan" not in apply_steps
    assert "aurumplan apply \"$p\" --auto-approve" in apply_steps
    assert jobs["apply"]["concurrency"] == {"group": "aurumplan-apply-production", "cancel-in-progress": False}
    assert jobs["apply"]["environment"] == "production"


VALUES = {
    "secrets.AURUMPLAN_STATE_URL": "", "secrets.AURUMPLAN_WAREHOUSE_URL": "", "github.base_ref": "main",
    "github.token": "t0ken", "github.event.pull_request.number": "7", "github.workflow": "aurumplan",
    **{f"secrets.{k}": "" for k in ("EIA_API_KEY", "FRED_API_KEY", "BLS_API_KEY", "NOAA_TOKEN", "ISO_API_KEY")},
}


def step(job: str, name: str) -> dict[str, Any]:
    return next(s for s in load_workflow()["jobs"][job]["steps"] if s.get("name") == name)


def run_step(job: str, name: str, cwd: Path, gh_home: Path, values: dict[str, str]) -> tuple[int, str, dict[str, str]]:
    """One `run:` step in `cwd` with the workflow's, the job's and the step's env; returns its outputs."""
    wf = load_workflow()
    env_items = {**wf.get("env", {}), **wf["jobs"][job].get("env", {}), **step(job, name).get("env", {})}

    def value(text: str) -> str:
        return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", lambda m: values[m.group(1)], str(text))

    outputs = cwd.parent / f"output-{job}"
    outputs.write_text("")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AURUMPLAN_")},
           **{k: value(v) for k, v in env_items.items()}, "GH_HOME": str(gh_home), "GITHUB_OUTPUT": str(outputs),
           "GITHUB_REPOSITORY": "acme/energy-plans", "PATH": f"{gh_home / 'bin'}:{BIN}:{os.environ['PATH']}"}
    env.update({k: v for k, v in values.items() if k.startswith("GH_")})
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step(job, name)["run"]],
                          cwd=cwd, env=env, capture_output=True, text=True)
    found = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
    return done.returncode, done.stdout + done.stderr, found


@pytest.fixture()
def gh_home(tmp_path: Path) -> Path:
    home = tmp_path / "gh"
    (home / "bin").mkdir(parents=True)
    (home / "artifacts").mkdir()
    gh = home / "bin" / "gh"
    gh.write_text(FAKE_GH)
    gh.chmod(0o755)
    return home


def test_pull_request_plan_comment_then_apply_on_merge(tmp_path: Path, gh_home: Path) -> None:
    work = make_repo(tmp_path)
    git(work, "checkout", "-q", "-b", "pr")
    shutil.copy(EXAMPLES / "backfill-fred.yaml", work / "plans" / "backfill-fred.yaml")
    git(work, "add", "-A")
    commit(work, "backfill FRED")
    head = git(work, "rev-parse", "HEAD").strip()
    values = {**VALUES, "github.event.pull_request.head.sha": head}

    code, log, out = run_step("plan", "Plan the changed specs", work, gh_home, values)
    assert code == 0, log
    assert out["exitcode"] == "2"
    assert [p.name for p in (work / "plans-out").iterdir()] == ["backfill-fred.json"]
    assert "plans/backfill-fred.yaml" in (work / "comment.md").read_text()

    for _ in range(2):  # a second push updates the same comment
        code, log, _ = run_step("plan", "Post or update the plan comment", work, gh_home, values)
        assert code == 0, log
    assert [c.name for c in (gh_home / "comments").iterdir()] == ["1"]
    calls = [json.loads(line) for line in (gh_home / "calls.jsonl").read_text().splitlines()]
    assert [c[2] for c in calls if "-X" in c] == ["POST", "PATCH"]
    assert (gh_home / "comments" / "1").read_text() == (work / "comment.md").read_text()

    assert run_step("plan", "Fail on an error or conflicts", work, gh_home,
                    {**values, "steps.plan.outputs.exitcode": "2"})[0] == 0
    assert run_step("plan", "Fail on an error or conflicts", work, gh_home,
                    {**values, "steps.plan.outputs.exitcode": "1"})[0] == 1

    shutil.copytree(work / "plans-out", gh_home / "artifacts" / "aurumplan-plans-7")  # upload-artifact
    reviewed = json.loads((work / "plans-out" / "backfill-fred.json").read_text())["operation"]["id"]
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "-m", "merge", "pr")
    git(tmp_path, "clone", "-q", str(work), "runner")  # the apply job's fresh checkout
    runner = tmp_path / "runner"

    code, log, _ = run_step("apply", "Download the reviewed plans", runner, gh_home, {**values, "GH_RUN_ID": "41"})
    assert code == 0, log
    code, log, _ = run_step("apply", "Apply the reviewed plans", runner, gh_home, values)
    assert code == 0, log
    ops = json.loads(run(runner, "ops", "list", "--json")[1])
    assert [(op["id"], op["status"]) for op in ops] == [(reviewed, "succeeded")]


def test_apply_without_a_successful_plan_run_fails(tmp_path: Path, gh_home: Path) -> None:
    work = make_repo(tmp_path)
    values = {**VALUES, "github.event.pull_request.head.sha": "0" * 40, "GH_RUN_ID": ""}
    code, log, _ = run_step("apply", "Download the reviewed plans", work, gh_home, values)
    assert code == 1
    assert "no successful plan run" in log


def test_no_changed_spec_comments_so_and_applies_nothing(tmp_path: Path, gh_home: Path) -> None:
    work = make_repo(tmp_path)
    git(work, "checkout", "-q", "-b", "pr")
    values = {**VALUES, "github.event.pull_request.head.sha": git(work, "rev-parse", "HEAD").strip()}
    code, log, out = run_step("plan", "Plan the changed specs", work, gh_home, values)
    assert code == 0, log
    assert out["exitcode"] == "0"
    assert "No spec to plan." in (work / "comment.md").read_text()
    code, log, _ = run_step("apply", "Apply the reviewed plans", work, gh_home, values)
    assert code == 0 and "No plan to apply." in log
