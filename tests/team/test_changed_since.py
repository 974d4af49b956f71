"""`plan --changed-since REF`: the specs a pull request adds or changes under plans/, planned together."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.team.common import EXAMPLES, commit, git, make_repo, run


def test_plans_added_and_changed_specs_only(tmp_path: Path) -> None:
    work = make_repo(tmp_path, ("quickstart.yaml", "backfill-fred.yaml"))
    git(work, "checkout", "-q", "-b", "pr")
    (work / "plans" / "eia").mkdir()
    shutil.copy(EXAMPLES / "reprocess-hours.yaml", work / "plans" / "eia" / "reprocess-hours.yaml")
    quick = work / "plans" / "quickstart.yaml"
    quick.write_text(quick.read_text().replace("series: [PJM, MISO, ERCO]", "series: [PJM, MISO]"))
    shutil.copy(EXAMPLES / "backfill-cpi.yaml", work / "notes-not-a-plan.yaml")  # outside plans/
    git(work, "add", "-A")
    commit(work, "pr")
    shutil.copy(EXAMPLES / "backfill-noaa.yaml", work / "plans" / "backfill-noaa.yaml")  # not committed yet

    code, out, err = run(work, "plan", "--changed-since", "origin/main", "-o", "plans-out", "--detailed-exitcode")
    assert code == 2, out + err
    assert sorted(p.name for p in (work / "plans-out").iterdir()) == [
        "backfill-noaa.json", "eia__reprocess-hours.json", "quickstart.json"]
    planned = [line for line in out.splitlines() if line.startswith("== ")]
    assert planned == ["== plans/backfill-noaa.yaml", "== plans/eia/reprocess-hours.yaml", "== plans/quickstart.yaml"]
    quick_plan = json.loads((work / "plans-out" / "quickstart.json").read_text())
    assert quick_plan["summary"]["create"] == 2 * 168
    assert quick_plan["spec"]["file"] == "plans/quickstart.yaml"


def test_base_moving_on_does_not_replan_its_specs(tmp_path: Path) -> None:
    """Specs changed on main after the branch forked are main's business, not this pull request's."""
    work = make_repo(tmp_path)
    git(work, "checkout", "-q", "-b", "pr")
    origin = tmp_path / "origin"
    shutil.copy(EXAMPLES / "backfill-fred.yaml", origin / "plans" / "backfill-fred.yaml")
    git(origin, "add", "-A")
    commit(origin, "main moves on")
    git(work, "fetch", "-q", "origin")
    code, out, _ = run(work, "plan", "--changed-since", "origin/main", "--detailed-exitcode")
    assert code == 0
    assert "No spec under plans changed since origin/main." in out


def test_deleted_spec_plans_nothing_and_a_bad_spec_fails_after_the_others(tmp_path: Path) -> None:
    work = make_repo(tmp_path, ("quickstart.yaml", "backfill-fred.yaml"))
    git(work, "checkout", "-q", "-b", "pr")
    (work / "plans" / "backfill-fred.yaml").unlink()
    (work / "plans" / "bad.yaml").write_text((EXAMPLES / "quickstart.yaml").read_text().replace(
        "ELEC.DEMAND", "ELEC.NOPE"))
    shutil.copy(EXAMPLES / "backfill-cpi.yaml", work / "plans" / "backfill-cpi.yaml")
    code, out, err = run(work, "plan", "--changed-since", "origin/main", "--detailed-exitcode")
    assert code == 1
    assert "plans/bad.yaml:" in err and "ELEC.NOPE" in err and "Traceback" not in err
    assert [line for line in out.splitlines() if line.startswith("== ")] == ["== plans/backfill-cpi.yaml"]


def test_unknown_ref_is_one_line_exit_1(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    code, _, err = run(work, "plan", "--changed-since", "origin/nope", "--detailed-exitcode")
    assert code == 1
    assert err.startswith("Error: --changed-since origin/nope:") and "git fetch" in err
    assert len(err.strip().splitlines()) == 1


def test_spec_and_changed_since_are_exclusive(tmp_path: Path) -> None:
    work = make_repo(tmp_path)
    code, _, err = run(work, "plan", "plans/quickstart.yaml", "--changed-since", "origin/main")
    assert code == 1 and "give no SPEC" in err
