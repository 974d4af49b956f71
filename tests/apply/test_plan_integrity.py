"""What was reviewed is what runs: edited, foreign or unsigned plans are refused before any write."""

from __future__ import annotations

import json
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurumplan import __version__
from aurumplan.plan.builder import seal
from aurumplan.state import open_state
from aurumplan.warehouse import open_warehouse
from tests.apply.common import run, write_config
from tests.doubles.fakeapis import EiaServer, Synth

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: integrity}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [CISO]
  window: {start: 2024-01-01, end: 2024-01-07}
  validation: {checks: [schema], threshold: 0.5}
"""


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=3), quota=None, until=1_900_000_000) as srv:
        yield srv


@pytest.fixture()
def proj(tmp_path: Path, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EIA_API_KEY", "k")
    monkeypatch.delenv("AURUMPLAN_PLAN_KEY", raising=False)
    folder = tmp_path / "p"
    write_config(folder, f"sqlite:///{tmp_path / 'db.sqlite'}", server.base_url)
    (folder / "spec.yaml").write_text(SPEC)
    return folder


def saved_plan(proj: Path) -> Path:
    out = proj / "plan.json"
    code, _, err = run(proj, "plan", str(proj / "spec.yaml"), "-o", str(out))
    assert code in (0, 2), err
    return out


def rewrite(path: Path, edit: object) -> None:
    """Edit a plan and recompute its checksum, as someone tampering with it would."""
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    data.pop("plan_id", None)
    data.pop("signature", None)
    path.write_text(seal(data))


def nothing_written(proj: Path) -> bool:
    url = f"sqlite:///{proj.parent / 'db.sqlite'}"
    return not (proj.parent / "db.sqlite").exists() or (
        open_warehouse(url).count_current("eia") == 0 and not open_state(url).list_operations())


def test_widened_window_with_recomputed_checksum_is_refused(proj: Path) -> None:
    plan = saved_plan(proj)

    def widen(data: dict) -> None:  # type: ignore[type-arg]
        node = next(n for n in data["graph"]["nodes"] if n["kind"] == "extract")
        node["window"] = ["2024-01-01T00:00Z", "2025-01-01T00:00Z"]

    rewrite(plan, widen)
    code, out, err = run(proj, "apply", str(plan))
    assert code == 1
    assert "outside the ranges the plan creates or replaces" in out + err
    assert nothing_written(proj)


def test_edited_graph_inside_the_leases_is_refused_by_recompiling(proj: Path) -> None:
    plan = saved_plan(proj)

    def shrink(data: dict) -> None:  # type: ignore[type-arg]
        node = next(n for n in data["graph"]["nodes"] if n["kind"] == "extract")
        node["expected_rows"] = 1

    rewrite(plan, shrink)
    code, out, err = run(proj, "apply", str(plan))
    assert code == 1 and "is not what its own spec compiles to (graph differ)" in out + err
    assert nothing_written(proj)


def test_plan_made_under_another_quota_is_refused_unless_accepted(proj: Path, server: EiaServer) -> None:
    plan = saved_plan(proj)
    write_config(proj, f"sqlite:///{proj.parent / 'db.sqlite'}", server.base_url, quota="{per_second: 5}")
    code, out, err = run(proj, "apply", str(plan))
    assert code == 1 and "source settings changed since plan" in out + err and "quota" in out + err
    assert nothing_written(proj)
    code, out, err = run(proj, "apply", str(plan), "--accept-config-change")
    assert code == 0, out + err
    op = open_state(f"sqlite:///{proj.parent / 'db.sqlite'}").list_operations()[0]
    events = open_state(f"sqlite:///{proj.parent / 'db.sqlite'}").events(op.id)
    assert any(e.kind == "config-change-accepted" and "quota" in e.detail["changes"][0] for e in events)


def test_plan_made_by_another_version_is_refused(proj: Path) -> None:
    plan = saved_plan(proj)
    rewrite(plan, lambda d: d.update(aurumplan_version="0.0.1"))
    code, out, err = run(proj, "apply", str(plan))
    assert code == 1 and f"made by aurumplan 0.0.1; this is {__version__}" in out + err
    assert nothing_written(proj)


@pytest.mark.parametrize("bad", ["BACKFILL_../../../etc/passwd", "BACKFILL_20240101_EIA_abc/../x", "a b"])
def test_path_like_operation_ids_are_refused(proj: Path, bad: str) -> None:
    plan = saved_plan(proj)
    rewrite(plan, lambda d: d["operation"].update(id=bad))
    code, out, err = run(proj, "apply", str(plan))
    assert code == 1 and "is not one aurumplan makes" in out + err
    code, out, err = run(proj, "status", bad)
    assert code == 1 and "invalid operation id" in out + err


def test_signed_plans_only_when_a_plan_key_is_set(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unsigned = saved_plan(proj)
    monkeypatch.setenv("AURUMPLAN_PLAN_KEY", "ci-secret")
    code, out, err = run(proj, "apply", str(unsigned))
    assert code == 1 and "is not signed with AURUMPLAN_PLAN_KEY" in out + err
    signed = saved_plan(proj)
    text = signed.read_text()
    assert '"signature":"' in text and "ci-secret" not in text
    monkeypatch.setenv("AURUMPLAN_PLAN_KEY", "another")
    code, out, err = run(proj, "apply", str(signed))
    assert code == 1 and "does not match" in out + err
    monkeypatch.setenv("AURUMPLAN_PLAN_KEY", "ci-secret")
    code, out, err = run(proj, "apply", str(signed))
    assert code == 0, out + err


def test_a_plan_clipped_at_the_present_still_applies_in_a_later_hour(
        proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A window reaching the present is clipped at the planning hour; the plan records that hour, so
    applying it an hour later runs what was reviewed instead of refusing it as edited."""
    now = time.time()
    day = 86400
    start, end = (time.strftime("%Y-%m-%d", time.gmtime(now + d * day)) for d in (-1, 2))
    (proj / "spec.yaml").write_text(SPEC.replace("2024-01-01", start).replace("2024-01-07", end))
    plan = saved_plan(proj)
    clipped_at = json.loads(plan.read_text())["published_until"]
    assert clipped_at == time.strftime("%Y-%m-%dT%H:00Z", time.gmtime(now))
    later = types.SimpleNamespace(time=lambda: now + 3600)
    monkeypatch.setattr("aurumplan.compile.scope.time", later)
    code, out, err = run(proj, "apply", str(plan), "--auto-approve")
    assert code == 0, out + err
    periods = open_warehouse(f"sqlite:///{proj.parent / 'db.sqlite'}").count_current("eia")
    assert periods == 24 + int(now) % day // 3600


def test_a_plan_of_a_past_window_records_no_clip_hour(proj: Path) -> None:
    assert "published_until" not in json.loads(saved_plan(proj).read_text())
