"""One estimator: the plan's duration (and `status`'s ETA) from the limiter schedule and the source's last runs.

Unit parts: a run's latency is recovered from how long its requests took, the figures of several runs
are their medians, and the views print `about X (quota floor Y; last N runs)`. End to end: against a
local fake API whose quota binds, a second backfill is estimated within 25% of its measured apply.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aurumplan import api
from aurumplan.catalog.estimate import (
    DEFAULT_LATENCY,
    Observed,
    estimate,
    fit_latency,
    observe,
    pace_of,
    remaining,
)
from aurumplan.catalog.pacing import Pace, schedule_seconds
from aurumplan.cli.markdown import render_markdown
from aurumplan.config import Quota
from aurumplan.plan.planfile import read_plan
from aurumplan.plan.render import basis_text, render_plan, summary_line
from aurumplan.state import RunRecord, open_state
from tests.doubles.fakeapis import FredServer, Synth

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(op: str, *, requests: int = 10, span: float = 3.0, began: float | None = 100.0, pre: float = 0.2,
         post: float = 0.1, nodes: int = 2, retries: int = 0, concurrency: int = 2) -> RunRecord:
    first = (began or 100.0) + pre
    return RunRecord(operation_id=op, began=began, created_at=first - 0.05, first_start=first,
                     last_end=first + span, ended=first + span + post, requests=requests, retries=retries,
                     throttles=0, records=100, concurrency=concurrency, rate_limit="auto", extract_nodes=requests,
                     other_nodes=nodes)


@pytest.mark.parametrize(("quota", "concurrency", "latency"), [
    (Quota(per_second=5), 3, 0.4),       # paced evenly, workers busy longer than the spacing
    (Quota(per_second=5), 1, 0.05),      # one worker, short answers
    (Quota(per_minute=6), 1, 0.3),       # a burst, then the minute window
    (Quota(), 4, 0.2),                   # no quota: concurrency x latency is the pace
])
def test_a_runs_latency_is_recovered_from_how_long_its_requests_took(quota: Quota, concurrency: int,
                                                                     latency: float) -> None:
    pace = Pace.of(quota, 0.8)
    span = schedule_seconds(pace, 12, concurrency, latency)
    assert fit_latency(pace, 12, concurrency, span) == pytest.approx(latency, abs=0.002)
    assert fit_latency(pace, 12, concurrency, schedule_seconds(pace, 12, concurrency, 0.0) - 0.5) == 0.0


def test_the_figures_are_the_medians_of_the_last_runs_and_retries_add_requests() -> None:
    pace = Pace.of(Quota(), 0.8)
    spans = [schedule_seconds(pace, 10, 2, lat) for lat in (0.1, 0.3, 5.0)]  # one slow outlier
    runs = [_run("A", span=spans[0], pre=0.2, post=0.1), _run("B", span=spans[1], pre=0.4, post=0.3, retries=2),
            _run("C", span=spans[2], pre=0.3, post=0.2, began=None)]
    seen = observe(runs, Quota(), 0.8)
    assert seen.runs == 3
    assert seen.latency == pytest.approx(0.3, abs=0.002)  # the median: the outlier does not drag it
    assert seen.overhead == pytest.approx(0.3)  # runs without a recorded start give no overhead figure
    assert seen.per_node == pytest.approx(0.1)  # 0.2 s after the last request over 2 nodes
    assert seen.retry_ratio == pytest.approx(2 / 28)
    assert estimate(14, pace, 2, 2, seen) == pytest.approx(0.3 + schedule_seconds(pace, 15, 2, seen.latency) + 0.2)
    assert observe([], Quota(), 0.8) == Observed() and Observed().latency == DEFAULT_LATENCY
    assert estimate(0, pace, 2, 0, seen) == 0.0


def test_a_recorded_source_is_not_paced_by_its_quota() -> None:
    """Recordings spend no quota: the limiter does not wait, and neither does the estimate."""
    assert pace_of(Quota(per_minute=6), 0.8, recorded=True).rate == float("inf")
    assert estimate(10, pace_of(Quota(per_minute=6), 0.8, recorded=True), 1, 2, Observed()) < 2.0
    assert estimate(10, pace_of(Quota(per_minute=6), 0.8), 1, 2, Observed()) > 60.0


def test_the_eta_blends_the_model_with_the_runs_own_pace() -> None:
    pace = Pace.of(Quota(per_second=2), 1.0)  # 2/s: 20 requests left take ~10 s
    seen = Observed(runs=3, latency=0.05, per_node=0.0)
    model = remaining(20, pace, 1, 0, seen)
    assert model == pytest.approx(9.55, abs=0.1)
    assert remaining(20, pace, 1, 0, seen, done=30, elapsed=60.0) == pytest.approx(  # this run went at 0.5/s
        (30 / 33) * 40.0 + (3 / 33) * 10.0)  # 20 more grants 0.5 s apart after the 30th
    burst = Pace.of(Quota(per_minute=6), 0.8)  # 4.8 tokens: 4 at once, the 5th at 2.5 s, the 6th at 15 s
    assert remaining(2, burst, 1, 0, seen, done=4) == pytest.approx(15.05 - 0.2)  # the burst is spent


def test_the_views_say_what_the_estimate_rests_on() -> None:
    assert basis_text(None) == "no earlier runs" and basis_text({"runs": 1}) == "last run"
    assert basis_text(Observed(runs=5).basis()) == "last 5 runs"
    plan = {"summary": {"create": 24, "replace": 0, "unchanged": 0, "conflict": 0},
            "estimates": {"requests": 3, "records": 24, "bytes": 0, "min_duration_seconds": 27.2,
                          "duration_seconds": 35.4, "rate_per_second": 4.0, "days_of_quota": 1,
                          "basis": Observed(runs=5).basis()},
            "operation": {"id": "BACKFILL_20240101_EIA_abcdef", "kind": "Backfill", "source": "eia"},
            "datasets": [], "plan_id": "f" * 64}
    assert summary_line(plan).endswith("3 requests, 24 records, at least 27s.")  # CONTRACT.md's last line
    assert render_plan(plan).endswith("about 35s (quota floor 27s; last 5 runs).\n" + summary_line(plan) + "\n")
    md = render_markdown([("spec.yaml", plan)])
    assert "about 35s (quota floor 27s; last 5 runs)" in md and "| 35s |" in md
    plan["estimates"]["basis"] = Observed().basis()
    assert "(quota floor 27s; no earlier runs)" in render_plan(plan)


def test_the_state_hands_out_the_runs_that_teach_something(db_url: str) -> None:
    """Succeeded, single-run operations that sent requests, newest first, on SQLite and PostgreSQL."""
    store = open_state(db_url)
    try:
        def op(op_id: str, status: str, at: float, requests: int, resumed: bool = False) -> None:
            store.create_operation(op_id, "Backfill", "eia", status="running", now=at)
            store.add_event(op_id, "apply", {"began": at - 0.5}, now=at)
            store.upsert_checkpoint(op_id, "ELEC.DEMAND/extract/00000", status="committed", requests=requests,
                                    started_at=at + 0.1, finished_at=at + 1.1)
            store.upsert_checkpoint(op_id, "ELEC.DEMAND/extract/00001", status="committed", requests=requests,
                                    started_at=at + 0.2, finished_at=at + 2.0)
            store.upsert_checkpoint(op_id, "ELEC.DEMAND/validate", status="staged", finished_at=at + 2.1)
            store.upsert_checkpoint(op_id, "ELEC.DEMAND/commit", status="committed", finished_at=at + 2.3)
            if resumed:
                store.add_event(op_id, "resume", {}, now=at + 3)
            store.update_operation(op_id, status=status, now=at + 2.4,
                                   summary={"retries": 1, "records": 48,
                                            "settings": {"concurrency": 2, "rateLimit": 2.5}})

        op("BACKFILL_20240101_EIA_aaaaaa", "succeeded", 1000.0, 1)
        op("BACKFILL_20240102_EIA_bbbbbb", "failed", 2000.0, 1)
        op("BACKFILL_20240103_EIA_cccccc", "succeeded", 3000.0, 0)   # nothing sent (reused rows)
        op("BACKFILL_20240104_EIA_dddddd", "succeeded", 4000.0, 1, resumed=True)
        op("BACKFILL_20240105_EIA_eeeeee", "succeeded", 5000.0, 2)
        runs = store.recent_runs("eia")
        assert [r.operation_id for r in runs] == ["BACKFILL_20240105_EIA_eeeeee", "BACKFILL_20240101_EIA_aaaaaa"]
        r = runs[0]
        assert (r.began, r.first_start, r.last_end, r.ended) == pytest.approx((4999.5, 5000.1, 5002.0, 5002.4))
        assert (r.requests, r.retries, r.records, r.concurrency, r.rate_limit) == (4, 1, 48, 2, 2.5)
        assert (r.extract_nodes, r.other_nodes) == (2, 2)
        assert store.recent_runs("eia", limit=1) == runs[:1] and store.recent_runs("fred") == []
    finally:
        store.close()


SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: estimate-{name}}}
spec:
  source: fred
  datasets: [DGS10]
  window: {{start: {start}, end: {end}}}
  concurrency: 2
  validation: {{checks: [schema], threshold: 0.5}}
"""


def test_a_second_backfill_is_estimated_within_a_quarter_of_its_apply(tmp_path: Path) -> None:
    """A quota that binds (3/s at headroom 0.8) over 6 requests: the first run teaches the estimator,
    the next window of the same size is estimated from it and applied, timed."""
    with FredServer(data=Synth(seed=3), quota={"per_second": 3}) as srv:
        (tmp_path / "aurumplan.yaml").write_text(
            "state: sqlite:///state.db\nwarehouse: sqlite:///wh.db\nsources:\n  fred:\n"
            f"    base_url: {srv.base_url}\n    quota: {{per_second: 3}}\n    headroom: 0.8\n"
            "    limits: {max_rows: 250}\n")
        ctx = api.context(tmp_path / "aurumplan.yaml", tmp_path)
        os.environ.setdefault(ctx.catalog.source("fred").api_key_env, "test-key")
        figures = []
        for name, start, end in (("first", "2000-01-01", "2003-12-31"), ("next", "2004-01-01", "2007-12-31")):
            (tmp_path / f"{name}.yaml").write_text(SPEC.format(name=name, start=start, end=end))
            planned = api.plan(tmp_path / f"{name}.yaml", ctx)
            began = time.perf_counter()
            assert api.apply_plan(planned.plan, ctx).status == "succeeded"
            figures.append((planned.plan["estimates"], time.perf_counter() - began))
        (cold, _), (warm, measured) = figures
        assert cold["basis"]["runs"] == 0 and warm["basis"]["runs"] == 1
        assert warm["requests"] == 6 and warm["min_duration_seconds"] > 0.7 * measured  # the quota binds
        assert abs(warm["duration_seconds"] - measured) <= 0.25 * measured, (warm, measured)
        assert srv.throttled == 0


def test_status_eta_of_a_running_apply_is_the_time_it_still_takes(tmp_path: Path) -> None:
    """An apply in another process, paced at 1.6 requests/s over 6 requests: once two are answered,
    `status` says how long the rest takes (the estimator, blended with the run's own pace)."""
    with FredServer(data=Synth(seed=3), quota={"per_second": 2}) as srv:
        (tmp_path / "aurumplan.yaml").write_text(
            "state: sqlite:///state.db\nwarehouse: sqlite:///wh.db\nsources:\n  fred:\n"
            f"    base_url: {srv.base_url}\n    quota: {{per_second: 2}}\n    headroom: 0.8\n"
            "    limits: {max_rows: 250}\n")
        (tmp_path / "spec.yaml").write_text(SPEC.format(name="eta", start="2000-01-01", end="2003-12-31")
                                            .replace("concurrency: 2", "concurrency: 1"))
        ctx = api.context(tmp_path / "aurumplan.yaml", tmp_path)
        key = ctx.catalog.source("fred").api_key_env
        cmd = [sys.executable, "-m", "aurumplan.cli.main", "--config", str(tmp_path / "aurumplan.yaml"), "apply",
               str(tmp_path / "spec.yaml"), "--auto-approve"]
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, key: "k"})
        try:
            deadline = time.monotonic() + 30
            shown = None
            while time.monotonic() < deadline and proc.poll() is None:
                if (tmp_path / "state.db").exists():
                    active = api.status(None, ctx)
                    if active and active[0]["nodes"]["by_status"].get("staged", 0) >= 2:
                        shown, at = active[0], time.time()
                        break
                time.sleep(0.05)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, out + err
        assert shown is not None and shown["status"] == "running" and shown["eta_seconds"]
        left = api.status(shown["id"], ctx)["updated_at"] - at  # when its outcome was written
        assert abs(shown["eta_seconds"] - left) <= 0.25 * left, (shown["eta_seconds"], left)


def test_a_saved_plan_applies_after_a_run_in_between_changed_the_estimate(tmp_path: Path) -> None:
    """Estimates follow the state's history, and apply re-plans a saved plan to check it: a run that
    ended in between changes the re-plan's estimate, never whether the saved plan applies."""
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns(".aurumplan"))
    ctx = api.context(dest / "aurumplan.yaml", dest)
    saved = dest / "quickstart.json"
    first = api.plan(dest / "quickstart.yaml", ctx, out=saved)
    assert first.plan["estimates"]["basis"]["runs"] == 0
    other = api.plan(dest / "backfill-eia-price.yaml", ctx)
    assert api.apply_plan(other.plan, ctx).status == "succeeded"
    again = api.plan(dest / "quickstart.yaml", ctx)
    assert again.plan["estimates"]["basis"]["runs"] == 1
    assert again.plan["estimates"] != first.plan["estimates"] and again.text != first.text
    result = api.apply_plan(read_plan(saved), ctx, saved=True)
    assert result.status == "succeeded" and result.operation_id == first.plan["operation"]["id"]
