"""scan -> quarantine -> recover -> plan/apply -> release, against a local API that published bad values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa

from aurumplan.intervals import fmt_ts
from aurumplan.state import open_state
from aurumplan.warehouse import open_warehouse
from tests.apply.common import run
from tests.doubles.fakeapis import ABSENT, EiaServer, Synth
from tests.emergency.common import project

SEED = 8
JAN10 = 1704844800  # 2024-01-10T00:00Z
JAN20 = 1705708800  # 2024-01-20T00:00Z
HOUR = 3600
ROUTE = "electricity/rto/region-data"  # ELEC.DEMAND in the fake API
ALL = 3 * 31 * 24
CORRUPT = {"CISO": (JAN10, JAN10 + 36 * HOUR), "ERCO": (JAN20 + 5 * HOUR, JAN20 + 11 * HOUR)}
GONE = ("PJM", JAN20, JAN20 + 4 * HOUR)
BACKFILL = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: january, reason: initial load}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [CISO, ERCO, PJM]
  window: {start: 2024-01-01, end: 2024-01-31}
  validation: {checks: [accuracy, completeness], threshold: 0.99, onFailure: warn}
"""


def corrupt(data: Synth) -> None:
    """Upstream publishes negative demand for part of the month, and drops four hours of PJM."""
    for sid, (s, e) in CORRUPT.items():
        for ts in range(s, e, HOUR):
            data.override("eia", ROUTE, f"{sid}.D", ts, -5000.0)
    for ts in range(GONE[1], GONE[2], HOUR):
        data.override("eia", ROUTE, f"{GONE[0]}.D", ts, ABSENT)


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=SEED), quota=None, until=1_900_000_000) as srv:
        yield srv


def truth(tmp_path: Path, server: EiaServer) -> str:
    """observations_current of a run against the correct upstream."""
    url = f"sqlite:///{tmp_path / 'truth.db'}"
    proj = project(tmp_path / "truth", url, server.base_url)
    (proj / "b.yaml").write_text(BACKFILL)
    code, out, err = run(proj, "apply", str(proj / "b.yaml"), "--auto-approve")
    assert code == 0, out + err
    return open_warehouse(url).current_checksum("eia", "ELEC.DEMAND")


def loaded(tmp_path: Path, db_url: str, server: EiaServer) -> tuple[Path, str]:
    proj = project(tmp_path / "p", db_url, server.base_url)
    corrupt(server.data)
    (proj / "b.yaml").write_text(BACKFILL)
    code, out, err = run(proj, "apply", str(proj / "b.yaml"), "--auto-approve", "--json")
    assert code == 0, out + err
    return proj, json.loads(out)["operation_id"]


def test_scan_quarantine_recover_release_end_to_end(tmp_path: Path, db_url: str, server: EiaServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    expected = truth(tmp_path, server)
    proj, op = loaded(tmp_path, db_url, server)
    wh = open_warehouse(db_url)
    assert wh.count_current("eia") == ALL - 4

    report = proj / "damage.json"
    code, out, err = run(proj, "scan", "--source", "eia", "--checks", "schema,completeness,accuracy,consistency",
                         "--window", "2024-01-01:2024-01-31", "-o", str(report))
    assert code == 0 and "Damage report" in out, out + err
    damage = json.loads(report.read_text())
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "damage-report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(damage)
    bad = {(d["series_id"], d["check"]): d for d in damage["damage"]}
    for sid, (s, e) in CORRUPT.items():
        d = bad[(sid, "accuracy")]
        assert d["ranges"] == [[fmt_ts(s), fmt_ts(e)]] and d["periods"] == (e - s) // HOUR and d["missing"] == []
        assert {ld["operation_id"] for ld in d["loads"]} == {op}
    gone = bad[(GONE[0], "completeness")]
    assert gone["missing"] == [[fmt_ts(GONE[1]), fmt_ts(GONE[2])]] and gone["loads"] == []
    assert set(bad) == {("CISO", "accuracy"), ("ERCO", "accuracy"), ("PJM", "completeness")}

    code, out, err = run(proj, "quarantine", str(report), "--mode", "strict")
    assert code == 0, out + err
    qid = out.split(":")[0]
    hidden = sum((e - s) // HOUR for s, e in CORRUPT.values())
    assert wh.count_current("eia") == ALL - 4 - hidden
    ops = {o["id"]: o for o in json.loads(run(proj, "ops", "list", "--json")[1])}
    assert ops[qid]["kind"] == "Quarantine" and ops[qid]["status"] == "succeeded"

    server.data.clear()  # upstream fixed
    code, out, err = run(proj, "recover", str(report), "--out-dir", str(proj / "recovery"))
    assert code == 0, out + err
    specs = sorted((proj / "recovery").glob("*.yaml"))
    assert [p.name for p in specs] == ["replay-001.yaml", "replay-002.yaml", "reprocess-missing.yaml"]
    assert all(damage["id"] in p.read_text() for p in specs)
    assert wh.count_current("eia") == ALL - 4 - hidden  # recover applies nothing
    for path in specs:
        code, out, err = run(proj, "plan", str(path))
        assert code == 0, out + err
        code, out, err = run(proj, "apply", str(path), "--auto-approve")
        assert code == 0, out + err
    # the Reprocess also derives the day's ELEC.DEMAND.DAILY (a cascade the truth run has no reason for)
    assert wh.current_checksum("eia", "ELEC.DEMAND") == expected

    code, out, err = run(proj, "release", qid)
    assert code == 0 and "0 period(s) restored" in out, out + err
    assert wh.current_checksum("eia", "ELEC.DEMAND") == expected
    code, out, err = run(proj, "release", qid)
    assert code == 1 and "already released" in err
    kinds = [e.kind for e in open_state(db_url).emergency_log("eia")]
    assert kinds == ["quarantine", "recover", "release"]


def test_flag_quarantine_marks_rows_and_release_restores_them(tmp_path: Path, db_url: str, server: EiaServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj, _ = loaded(tmp_path, db_url, server)
    wh = open_warehouse(db_url)
    before = wh.current_checksum("eia")
    report = proj / "damage.json"
    code, out, err = run(proj, "scan", "--source", "eia", "--checks", "accuracy", "-o", str(report))
    assert code == 0, out + err
    code, out, err = run(proj, "quarantine", str(report), "--mode", "flag")
    assert code == 0, out + err
    qid = out.split(":")[0]
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        marked = conn.execute(sa.text("SELECT value FROM observations_current WHERE attributes LIKE :q"),
                              {"q": f'%"quarantine": "{qid}"%'}).all()
    engine.dispose()
    assert len(marked) == sum((e - s) // HOUR for s, e in CORRUPT.values())
    assert all(v == -5000.0 for (v,) in marked)
    code, out, err = run(proj, "release", qid)
    assert code == 0, out + err
    assert wh.current_checksum("eia") == before


def test_damage_report_errors_are_one_line(tmp_path: Path, server: EiaServer) -> None:
    proj = project(tmp_path / "p", f"sqlite:///{tmp_path / 'x.db'}", server.base_url)
    (proj / "bad.json").write_text("{}")
    code, _, err = run(proj, "quarantine", str(proj / "bad.json"))
    assert code == 1 and "not a damage report" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(proj, "release", "QUARANTINE_NOPE")
    assert code == 1 and "QUARANTINE_NOPE" in err


def test_recover_rolls_back_an_operation_that_replaced_good_versions(tmp_path: Path, db_url: str,
                                                                     server: EiaServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj = project(tmp_path / "p", db_url, server.base_url)
    (proj / "b.yaml").write_text(BACKFILL)
    assert run(proj, "apply", str(proj / "b.yaml"), "--auto-approve")[0] == 0
    wh = open_warehouse(db_url)
    good = wh.current_checksum("eia", "ELEC.DEMAND")
    corrupt(server.data)
    replay = BACKFILL.replace("kind: Backfill", "kind: Replay").replace("name: january", "name: bad-replay") \
        .replace("window: {start: 2024-01-01, end: 2024-01-31}", "window: {start: 2024-01-10, end: 2024-01-11}\n"
                 "  type: correction")
    (proj / "r.yaml").write_text(replay)
    code, out, err = run(proj, "apply", str(proj / "r.yaml"), "--auto-approve", "--json")
    assert code == 0, out + err
    bad_op = json.loads(out)["operation_id"]
    report = proj / "damage.json"
    assert run(proj, "scan", "--source", "eia", "--checks", "accuracy", "--window", "2024-01-01:2024-01-31",
               "-o", str(report))[0] == 0
    code, out, err = run(proj, "recover", str(report), "--out-dir", str(proj / "rec"))
    assert code == 0, out + err
    assert sorted(p.name for p in (proj / "rec").iterdir()) == ["rollbacks.sh"]
    lines = [ln for ln in (proj / "rec" / "rollbacks.sh").read_text().splitlines() if not ln.startswith("#")]
    assert lines == [f"aurumplan rollback {bad_op}"]
    assert run(proj, "rollback", bad_op, "--auto-approve")[0] == 0
    assert wh.current_checksum("eia", "ELEC.DEMAND") == good
