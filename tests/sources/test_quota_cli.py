"""`quotas validate`, `validate` and `plan` agree on quotas: one message, the flags given, budgets per day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurumplan.cli.main import cli

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: t-quota}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM]
  window: {{start: 2024-01-01, end: 2024-01-31}}
  concurrency: 3
  rateLimit: {rate}
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "aurumplan.yaml").write_text("state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\n")
    return tmp_path


def run(project: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--config", str(project / "aurumplan.yaml"), *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def test_a_rate_above_the_quota_is_refused_everywhere_with_one_message(project: Path) -> None:
    spec = project / "spec.yaml"
    spec.write_text(SPEC.format(rate=6))
    message = "rateLimit 6/s sends 6 requests per_second, above the quota of 5"
    code, _, err = run(project, "quotas", "validate", "--spec", str(spec))
    assert code == 1 and message in err
    code, out, err = run(project, "validate", str(spec))
    assert code == 1 and f"{spec}:10:14: spec.rateLimit: {message}" in out + err
    code, out, err = run(project, "plan", str(spec))
    assert code == 1 and message in out + err
    spec.write_text(SPEC.format(rate=2.4))  # inside the quota (2.4 x 3600 < 9000): accepted
    assert run(project, "validate", str(spec))[0] == 0


def test_quotas_validate_honours_concurrency_and_reads_day_budgets(project: Path) -> None:
    spec = project / "spec.yaml"
    spec.write_text(SPEC.format(rate="auto"))
    code, out, _ = run(project, "quotas", "validate", "--format", "json", "--concurrency", "2", "--spec", str(spec))
    reports = {r["source"]: r for r in json.loads(out)}
    assert code == 0 and reports["eia"]["concurrency"] == 2
    assert reports["eia"]["planned_requests"] == 1 and reports["eia"]["days_needed"] == 1
    assert reports["cpi"]["day_budget_requests_per_day"] == 400
    code, out, _ = run(project, "quotas", "validate", "--spec", str(spec))
    assert "concurrency 3" in out  # the spec's own without the flag
    assert "cpi" in out and "400 requests/day" in out


def test_plan_estimate_is_not_zero_for_a_minute_quota(project: Path) -> None:
    (project / "spec.yaml").write_text(SPEC.format(rate="auto").replace("2024-01-01", "2018-01-01"))
    (project / "aurumplan.yaml").write_text(
        "state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\nsources:\n  eia:\n"
        "    quota: {per_minute: 6}\n")
    code, out, _ = run(project, "plan", str(project / "spec.yaml"), "--json")
    plan = json.loads(out)
    n = plan["estimates"]["requests"]
    assert code in (0, 2) and n > 5
    assert plan["estimates"]["min_duration_seconds"] == pytest.approx((n - 4.8) / 0.08, abs=1.0)
    assert plan["estimates"]["duration_seconds"] >= plan["estimates"]["min_duration_seconds"]
