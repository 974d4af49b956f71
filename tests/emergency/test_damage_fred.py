"""The emergency path on a second source: FRED monthly series with out-of-range values and a lost month.

scan -> quarantine -> recover -> plan + apply -> observations_current equals a run against the correct
upstream -> release changes nothing current (docs/emergency.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurumplan.intervals import fmt_ts, parse_ts
from aurumplan.warehouse import open_warehouse
from tests.apply.common import run
from tests.doubles.fakeapis import ABSENT, FredServer, Synth

ROUTE = "series/observations"
SEED = 4  # its clean months have no outliers by the accuracy rule, so a scan of the truth is empty
MONTHS = 48  # 2020-01 .. 2023-12, two series
BAD = {"UNRATE": ("2021-03-01", "2021-06-01", 150.0), "CPIAUCSL": ("2022-07-01", "2022-08-01", -1.0)}
"""series -> (first bad month, end, the value upstream published): outside the catalog's value_range."""
LOST = ("CPIAUCSL", "2023-02-01", "2023-03-01")
BACKFILL = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: macro, reason: initial load}
spec:
  source: fred
  datasets: [UNRATE, CPIAUCSL]
  window: {start: 2020-01-01, end: 2023-12-31}
  validation: {checks: [accuracy, completeness], threshold: 0.99, onFailure: warn}
"""


def months(start: str, end: str) -> list[int]:
    out, d = [], dt.date.fromisoformat(start)
    while d < dt.date.fromisoformat(end):
        out.append(parse_ts(d.isoformat()))
        d = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return out


def project(folder: Path, db_url: str, base_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aurumplan.yaml").write_text(f"state: '{db_url}'\nwarehouse: '{db_url}'\nsources:\n  fred:\n"
                                           f"    base_url: {base_url}\n    quota: {{per_second: 1000}}\n")
    (folder / "b.yaml").write_text(BACKFILL)
    return folder


@pytest.fixture()
def server() -> Iterator[FredServer]:
    with FredServer(data=Synth(seed=SEED), quota=None, until=dt.date(2025, 1, 1)) as srv:
        yield srv


def test_fred_scan_quarantine_recover_release(tmp_path: Path, db_url: str, server: FredServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRED_API_KEY", "k")
    truth_url = f"sqlite:///{tmp_path / 'truth.db'}"
    truth = project(tmp_path / "truth", truth_url, server.base_url)
    code, out, err = run(truth, "apply", str(truth / "b.yaml"), "--auto-approve")
    assert code == 0, out + err
    expected = open_warehouse(truth_url).current_checksum("fred")
    code, out, err = run(truth, "scan", "--source", "fred", "-o", str(tmp_path / "clean.json"))
    assert code == 0 and json.loads((tmp_path / "clean.json").read_text())["damage"] == [], out + err

    for sid, (s, e, value) in BAD.items():
        for ts in months(s, e):
            server.data.override("fred", ROUTE, sid, ts, value)
    for ts in months(*LOST[1:]):
        server.data.override("fred", ROUTE, LOST[0], ts, ABSENT)
    proj = project(tmp_path / "p", db_url, server.base_url)
    code, out, err = run(proj, "apply", str(proj / "b.yaml"), "--auto-approve", "--json")
    assert code == 0, out + err
    op = json.loads(out)["operation_id"]
    wh = open_warehouse(db_url)
    assert wh.count_current("fred") == 2 * MONTHS - 1

    report = proj / "damage.json"
    code, out, err = run(proj, "scan", "--source", "fred", "--checks", "schema,completeness,accuracy,consistency",
                         "--window", "2020-01-01:2023-12-31", "-o", str(report))
    assert code == 0, out + err
    damage = json.loads(report.read_text())
    found = {(d["series_id"], d["check"]): d for d in damage["damage"]}
    assert set(found) == {("UNRATE", "accuracy"), ("CPIAUCSL", "accuracy"), ("CPIAUCSL", "completeness")}
    for sid, (s, e, _) in BAD.items():
        d = found[(sid, "accuracy")]
        assert d["ranges"] == [[fmt_ts(parse_ts(s)), fmt_ts(parse_ts(e))]] and d["missing"] == []
        assert {ld["operation_id"] for ld in d["loads"]} == {op}
    assert found[(LOST[0], "completeness")]["missing"] == [[fmt_ts(parse_ts(LOST[1])), fmt_ts(parse_ts(LOST[2]))]]

    code, out, err = run(proj, "quarantine", str(report), "--mode", "strict")
    assert code == 0, out + err
    qid = out.split(":")[0]
    hidden = sum(len(months(s, e)) for s, e, _ in BAD.values())
    assert wh.count_current("fred") == 2 * MONTHS - 1 - hidden

    server.data.clear()  # upstream fixed
    code, out, err = run(proj, "recover", str(report), "--out-dir", str(proj / "recovery"))
    assert code == 0, out + err
    specs = sorted((proj / "recovery").glob("*.yaml"))
    assert [p.name for p in specs] == ["replay-001.yaml", "replay-002.yaml", "reprocess-missing.yaml"]
    for path in specs:
        code, out, err = run(proj, "plan", str(path))
        assert code == 0, out + err
        code, out, err = run(proj, "apply", str(path), "--auto-approve")
        assert code == 0, out + err
    assert wh.count_current("fred") == 2 * MONTHS
    assert wh.current_checksum("fred") == expected

    code, out, err = run(proj, "release", qid)
    assert code == 0 and "0 period(s) restored" in out, out + err
    assert wh.current_checksum("fred") == expected
