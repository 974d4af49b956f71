"""The examples run offline: every example spec applies from examples/recordings with no key and no network.

This is the README's promise (`cd examples && aurumplan apply quickstart.yaml --auto-approve` works on a
machine with nothing configured), extended to one spec per source. A request the recordings do not hold
must fail as one clear line naming it, never with a traceback and never showing a key.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurumplan.catalog import load_catalog
from aurumplan.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SECRET = "k-offline-secret-0042"

# spec -> (source, records it loads): every series over its whole window, so a partial recording fails.
SPECS = {
    "quickstart.yaml": ("eia", 3 * 168),                  # 3 BAs x 7 days x 24 h
    "backfill-eia.yaml": ("eia", 3 * 168 + 14 * 168),     # demand + 14 respondent.fuel series of ELEC.GEN
    "backfill-fred.yaml": ("fred", 2 * 120),              # 2 series x 10 years x 12 months
    "backfill-cpi.yaml": ("cpi", 2 * 240),                # 2 series x 20 years x 12 months
    "backfill-noaa.yaml": ("noaa", 4 * 366),              # 4 station.datatype series x 366 days of 2024
    "backfill-iso.yaml": ("iso", 4 * (91 * 24 - 1)),      # 4 load areas x Q1 2024 EPT hours (spring forward)
    "reprocess-hours.yaml": ("eia", 12 * 7 + 7 * 7 + 12),  # 10-16 UTC: 12 BAs' demand, 7 net generation; 12 daily
    "reprocess-failed.yaml": ("eia", 2 * 6 + 2 * 6 + 2),   # the failure log: 2 BAs x 6 h, 2 fuels x 6 h; 2 daily
    "reprocess-timezone.yaml": ("iso", 10 * 5),           # 10 load areas x local hours 0-3 with hour 1 twice
    "backfill-eia-price.yaml": ("eia", 8 * 24),           # 8 state.sector series x 24 months
}

# Replays (and the incremental refresh) change what is loaded: on the empty state of a fresh copy they plan
# nothing and apply cleanly.
REPLAYS = ["replay-eia.yaml", "replay-schema.yaml", "quality-profile.yaml", "replay-algorithm.yaml",
           "reprocess-fred-incremental.yaml", "replay-algorithm-file.yaml"]

OUTSIDE = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: outside-recordings, reason: "A window the recordings do not hold"}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {start: 2023-06-01, end: 2023-06-02}
"""


def _refuse_network(*_: Any, **__: Any) -> None:
    raise AssertionError("an offline example opened a network connection")


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/ with no key, no AURUMPLAN_* override and every socket connect refused."""
    for var in {s.api_key_env for s in load_catalog().sources.values()}:
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("AURUMPLAN_")]:
        monkeypatch.delenv(var)
    monkeypatch.setattr(socket.socket, "connect", _refuse_network)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse_network)
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns(".aurumplan"))
    monkeypatch.chdir(dest)
    return dest


def run(project: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--config", str(project / "aurumplan.yaml"), *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def loaded(project: Path, source: str) -> list[dict[str, Any]]:
    code, out, _ = run(project, "state", "list", "--json")
    assert code == 0
    return [e for e in json.loads(out) if e["source"] == source]


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_example_applies_offline_without_keys(project: Path, spec: str) -> None:
    source, records = SPECS[spec]
    started = time.monotonic()
    code, out, err = run(project, "apply", str(project / spec), "--auto-approve")
    assert code == 0, out + err
    # Replayed responses spend no quota: PJM's 6 requests a minute must not pace reprocess-timezone (2m15s).
    assert time.monotonic() - started < 60
    code, ops_out, _ = run(project, "ops", "list", "--json")
    ops = json.loads(ops_out)
    assert [(op["source"], op["status"]) for op in ops] == [(source, "succeeded")]
    series = loaded(project, source)
    assert series, f"nothing loaded for {source}"
    assert sum(e["records"] for e in series) == records
    assert all(e["ranges"] == 1 for e in series), "a series was loaded with holes"


def test_every_example_is_covered() -> None:
    """A new example spec needs its recordings and a line here, or this fails."""
    specs = {p.name for p in EXAMPLES.glob("*.yaml")} - {"aurumplan.yaml"}
    assert specs == set(SPECS) | set(REPLAYS)


@pytest.mark.parametrize("spec", REPLAYS)
def test_replay_example_applies_offline_on_empty_state(project: Path, spec: str) -> None:
    code, out, err = run(project, "apply", str(project / spec), "--auto-approve")
    assert code == 0, out + err
    assert "Nothing to apply" in out


def test_schema_example_migrates_the_price_backfill_and_passes_its_gate(project: Path) -> None:
    """examples/replay-schema.yaml after backfill-eia-price.yaml: every row rewritten to v2, gate passed."""
    assert run(project, "apply", "backfill-eia-price.yaml", "--auto-approve")[0] == 0
    code, out, err = run(project, "apply", "replay-schema.yaml", "--auto-approve")
    assert code == 0, out + err
    assert "192 records, 0 requests" in out  # the stored rows are migrated: nothing is fetched
    ops = json.loads(run(project, "ops", "list", "--json")[1])
    assert [op["status"] for op in ops] == ["succeeded"] * 2
    replay = next(op["id"] for op in ops if op["kind"] == "Replay")
    report = json.loads(run(project, "report", replay, "--json")[1])
    assert [(q["dataset"], q["passed"]) for q in report["quality"]] == [("ELEC.PRICE", True)]
    (effect,) = report["migration"]
    assert (effect["migrated"], effect["dropped"], effect["versions"]) == (192, 0, {"v1 -> v2": 192})
    assert effect["units"] == {"cents per kilowatt-hour -> dollars per kilowatt-hour": 192}
    assert effect["attributes_added"] == {"sector": 192, "state": 192}


def test_quickstart_then_backfill_eia_share_the_recordings(project: Path) -> None:
    """The README order: quickstart first, then the bigger EIA example fetches only what is new."""
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    code, out, err = run(project, "apply", "backfill-eia.yaml", "--auto-approve")
    assert code == 0, out + err
    assert "2352 records, 2 requests" in out  # ELEC.GEN only: the demand week is already loaded
    assert [op["status"] for op in json.loads(run(project, "ops", "list", "--json")[1])] == ["succeeded"] * 2


def test_quality_profile_example_passes_its_gate_after_quickstart(project: Path) -> None:
    """quality-profile.yaml re-judges the quickstart week with aurumplan.yaml's enhanced_validation profile
    and its checks/ script; the report names the profile and scores the script beside the built-in checks."""
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    code, out, err = run(project, "apply", "quality-profile.yaml", "--auto-approve")
    assert code == 0, out + err
    op = next(o for o in json.loads(run(project, "ops", "list", "--json")[1]) if o["kind"] == "Replay")
    assert op["status"] == "succeeded"
    report = json.loads(run(project, "report", op["id"], "--format", "json")[1])
    (gate,) = report["quality"]
    assert (gate["profile"], gate["threshold"], gate["passed"]) == ("enhanced_validation", 0.97, True)
    assert gate["checks"]["checks/demand_plausible.py"] == 1.0


def test_request_outside_the_recordings_fails_in_one_line_without_the_key(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", SECRET)
    (project / "outside.yaml").write_text(OUTSIDE)
    code, out, err = run(project, "apply", "outside.yaml", "--auto-approve")
    assert code == 1
    text = out + err
    miss = [line for line in text.splitlines() if "no recorded response in" in line]
    assert miss, text
    assert all("GET /v2/electricity/rto/region-data/data?" in line and "start=2023-06-01T01" in line
               for line in miss)
    assert "Traceback" not in text
    assert all("aurumplan record SPEC --out" in line for line in miss), text
    logs = "".join(p.read_text() for p in (project / ".aurumplan" / "logs").glob("*.jsonl"))
    for where in (text, logs):
        assert SECRET not in where
        assert "api_key" not in where
    assert [op["status"] for op in json.loads(run(project, "ops", "list", "--json")[1])] == ["failed"]
    assert loaded(project, "eia") == []


def _current(project: Path) -> list[tuple[Any, ...]]:
    """The current EIA demand rows, as the warehouse serves them."""
    from aurumplan.warehouse import open_warehouse
    with open_warehouse(f"sqlite:///{project / '.aurumplan' / 'warehouse.db'}") as wh:
        return [(r.series_id, r.period, r.value, r.unit, json.dumps(r.attributes, sort_keys=True))
                for r in wh.read_rows("eia", "ELEC.DEMAND")]


def test_algorithm_example_replaces_outliers_flags_them_and_rolls_back_exactly(project: Path) -> None:
    """examples/replay-algorithm.yaml after the quickstart passes its gate; with a tight threshold values are
    replaced and flagged, the report names the algorithm, and a rollback restores every row as it was."""
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    before = _current(project)
    code, out, err = run(project, "apply", "replay-algorithm.yaml", "--auto-approve")
    assert code == 0, out + err
    assert _current(project) == before  # the recorded week has no spike beyond 3.5 MADs
    tight = (project / "replay-algorithm.yaml").read_text().replace("threshold: 3.5", "threshold: 1.0")
    tight = tight.replace("validation: {threshold: 0.95, onFailure: rollback}", "validation: {threshold: 0.0}")
    (project / "tight.yaml").write_text(tight)
    code, out, err = run(project, "apply", "tight.yaml", "--auto-approve")
    assert code == 0, out + err
    after = _current(project)
    flagged = [r for r in after if "outlier_replacement@1" in r[4]]
    assert flagged and len(after) == len(before)
    old = {(r[0], r[1]): r[2] for r in before}
    for sid, period, value, _, attrs in flagged:
        assert json.loads(attrs)["original"] == old[(sid, period)] != value
    op = json.loads(run(project, "ops", "list", "--json")[1])[-1]["id"]
    code, report, _ = run(project, "report", op)
    assert "`outlier_replacement` version 1" in report and '"threshold": 1.0' in report
    code, out, err = run(project, "rollback", op, "--auto-approve")
    assert code == 0, out + err
    assert _current(project) == before


def test_incremental_example_refreshes_only_what_fred_revised_and_passes_its_gate(project: Path) -> None:
    """examples/reprocess-fred-incremental.yaml after backfill-fred.yaml: planning asks FRED's vintage dates and
    real-time rows (recorded discovery requests) and replaces only the 9 revised months, each plan line naming
    the vintage dates that chose it; the gate passes and the values change only there."""
    assert run(project, "apply", "backfill-fred.yaml", "--auto-approve")[0] == 0
    before = _fred(project)
    code, out, err = run(project, "plan", "reprocess-fred-incremental.yaml")
    assert code == 0, out + err
    assert "2024-07-01T00:00Z .. 2024-12-01T00:00Z  5 periods  (revised since 2025-02-01 (FRED vintage dates " \
           "2025-02-12); replaces load" in out
    assert "(revised since 2025-02-01 (FRED vintage dates 2025-02-12, 2025-03-12)" in out
    assert "2024-10-01T00:00Z .. 2025-01-01T00:00Z  3 periods  (revised since 2025-02-01 (FRED vintage dates " \
           "2025-02-07)" in out
    code, out, err = run(project, "apply", "reprocess-fred-incremental.yaml", "--auto-approve")
    assert code == 0, out + err
    assert "9 records, 2 requests" in out
    op = next(o for o in json.loads(run(project, "ops", "list", "--json")[1]) if o["kind"] == "Reprocess")
    assert op["status"] == "succeeded"
    report = json.loads(run(project, "report", op["id"], "--json")[1])
    assert [(q["dataset"], q["passed"]) for q in report["quality"]] == [("CPIAUCSL", True), ("UNRATE", True)]
    after = _fred(project)
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == [("CPIAUCSL", f"2024-{m:02d}-01") for m in range(7, 13)] + \
        [("UNRATE", f"2024-{m}-01") for m in (10, 11, 12)]


def _fred(project: Path) -> dict[tuple[str, str], Any]:
    """The current FRED values by (series, period day)."""
    from aurumplan.intervals import fmt_ts
    from aurumplan.warehouse import open_warehouse
    with open_warehouse(f"sqlite:///{project / '.aurumplan' / 'warehouse.db'}") as wh:
        return {(r.series_id, fmt_ts(r.period)[:10]): r.value
                for ds in ("CPIAUCSL", "UNRATE") for r in wh.read_rows("fred", ds)}


def test_incremental_discovery_outside_the_recordings_fails_planning_in_one_line(project: Path) -> None:
    """Another `since` asks FRED something the recordings do not hold: one line naming the request, no key."""
    assert run(project, "apply", "backfill-fred.yaml", "--auto-approve")[0] == 0
    other = (project / "reprocess-fred-incremental.yaml").read_text().replace("2025-02-01", "2025-01-01")
    (project / "other.yaml").write_text(other)
    code, out, err = run(project, "plan", "other.yaml")
    assert code == 1
    (line,) = [x for x in err.splitlines() if x.strip()]
    assert "cannot ask fred which CPIAUCSL observations changed since 2025-01-01" in line
    assert "GET /fred/series/vintagedates?" in line and "realtime_start=2025-01-01" in line
    assert "record it from a live plan" in line and "api_key" not in line and "Traceback" not in out + err
