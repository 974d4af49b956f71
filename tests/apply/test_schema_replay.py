"""Schema correction end to end, on SQLite and PostgreSQL, from the examples' recordings (no network).

A schema_correction Replay rewrites the stored rows through migrate(), which sees each record whole,
and stamps them with its schemaVersion; a plain correction Replay may not silently revert them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.apply.common import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

CORRECTION = """\
apiVersion: aurumplan/v1
kind: Replay
metadata: {{name: fix-price, reason: "EIA revised prices"}}
spec:
  source: eia
  datasets: [ELEC.PRICE]
  window: {{start: 2023-01-01, end: 2024-12-31}}
  type: correction
{extra}"""

V3 = """\
apiVersion: aurumplan/v1
kind: Replay
metadata: {name: price-v3, reason: "v3: what migrate() is given"}
spec:
  source: eia
  datasets: [ELEC.PRICE]
  series: [CA.RES]
  window: {start: 2023-01-01, end: 2023-03-31}
  type: schema_correction
  schemaVersion: v3
  migration: transforms/v3_seen.py
"""

SEEN = '''\
def migrate(record):
    """Keep what the record held when it arrived, to be read back from the warehouse."""
    attributes = dict(record["attributes"])
    attributes["seen"] = {k: record[k] for k in ("source", "dataset", "series_id", "period", "unit",
                                                   "schema_version")}
    attributes["seen"]["value"] = record["value"]
    attributes["seen"]["sector_before"] = attributes.get("sector")
    return {**record, "attributes": attributes}
'''


@pytest.fixture()
def project(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The examples folder with state and warehouse in db_url; eia answers from its recordings."""
    monkeypatch.delenv("EIA_API_KEY", raising=False)
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns(".aurumplan"))
    (dest / "aurumplan.yaml").write_text(f"state: '{db_url}'\nwarehouse: '{db_url}'\n"
                                         "sources:\n  eia:\n    recordings: recordings/eia\n")
    monkeypatch.chdir(dest)
    return dest


def _current(db_url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT c.series_id, c.period, c.value, c.unit, c.attributes, l.schema_version, l.operation_id "
                "FROM observations_current c JOIN loads l ON l.load_id = c.load_id "
                "WHERE c.dataset = 'ELEC.PRICE' ORDER BY c.series_id, c.period")).mappings().all()
    finally:
        engine.dispose()
    return [dict(r) for r in rows]


def _ops(project: Path) -> list[dict[str, Any]]:
    return list(json.loads(run(project, "ops", "list", "--json")[1]))


def _apply(project: Path, spec: str) -> str:
    code, out, err = run(project, "apply", spec, "--auto-approve")
    assert code == 0, out + err
    return out


def test_schema_correction_rewrites_stored_rows_and_a_plain_correction_may_not_revert_them(
        project: Path, db_url: str) -> None:
    out = _apply(project, "backfill-eia-price.yaml")
    assert "succeeded" in out  # ELEC.PRICE passes the default gate: units are spelt as EIA returns them
    backfill = _ops(project)[0]["id"]
    (gate,) = json.loads(run(project, "report", backfill, "--json")[1])["quality"]
    assert gate["passed"] and gate["checks"]["schema"] == 1.0
    v1 = _current(db_url)
    assert len(v1) == 192 and {r["schema_version"] for r in v1} == {"v1"}
    assert {r["unit"] for r in v1} == {"cents per kilowatt-hour"}

    out = _apply(project, "replay-schema.yaml")
    assert "Estimates: 0 requests" in out and "192 records, 0 requests" in out  # planned and done: no fetch
    v2 = _current(db_url)
    assert {r["schema_version"] for r in v2} == {"v2"}
    assert {r["unit"] for r in v2} == {"dollars per kilowatt-hour"}
    assert [r["value"] for r in v2] == pytest.approx([r["value"] / 100 for r in v1])
    ca_res = next(r for r in v2 if r["series_id"] == "CA.RES")
    assert json.loads(ca_res["attributes"]) == {"sector": "residential", "state": "CA"}
    state = [e for e in json.loads(run(project, "state", "list", "--json")[1]) if e["dataset"] == "ELEC.PRICE"]
    assert len(state) == 8 and all(load.startswith("REPLAY_") for e in state for load in e["loads"])
    assert "already at schema v2" in run(project, "plan", "replay-schema.yaml")[1]  # a second run: nothing

    (project / "fix.yaml").write_text(CORRECTION.format(extra=""))
    code, out, _ = run(project, "plan", "fix.yaml", "--detailed-exitcode")
    assert code == 1
    assert out.count("! ") == 3 and "loaded at schema v2 by REPLAY_" in out
    assert "add schemaVersion: v1 to revert it knowingly" in out
    code, out, err = run(project, "apply", "fix.yaml", "--auto-approve")
    assert code == 1 and "Traceback" not in out + err
    assert _current(db_url) == v2  # refused: nothing changed

    (project / "fix.yaml").write_text(CORRECTION.format(extra="  schemaVersion: v1\n"))
    _apply(project, "fix.yaml")
    back = _current(db_url)
    assert {r["schema_version"] for r in back} == {"v1"}
    assert [(r["series_id"], r["value"], r["unit"]) for r in back] == \
        [(r["series_id"], r["value"], r["unit"]) for r in v1]


def test_migrate_gets_the_stored_record_whole(project: Path, db_url: str) -> None:
    _apply(project, "backfill-eia-price.yaml")
    _apply(project, "replay-schema.yaml")
    (project / "transforms" / "v3_seen.py").write_text(SEEN)
    (project / "v3.yaml").write_text(V3)
    _apply(project, "v3.yaml")
    rows = [r for r in _current(db_url) if r["schema_version"] == "v3"]
    assert len(rows) == 3
    seen = json.loads(rows[0]["attributes"])["seen"]
    assert seen == {"source": "eia", "dataset": "ELEC.PRICE", "series_id": "CA.RES", "period": 1672531200,
                    "unit": "dollars per kilowatt-hour", "schema_version": "v2", "value": rows[0]["value"],
                    "sector_before": "residential"}


def test_rolling_back_a_migration_restores_the_v1_rows_and_their_version(project: Path, db_url: str) -> None:
    _apply(project, "backfill-eia-price.yaml")
    v1 = _current(db_url)
    _apply(project, "replay-schema.yaml")
    replay = next(op["id"] for op in _ops(project) if op["kind"] == "Replay")
    code, out, err = run(project, "rollback", replay, "--auto-approve")
    assert code == 0, out + err
    assert _current(db_url) == v1
    (project / "fix.yaml").write_text(CORRECTION.format(extra=""))
    code, out, _ = run(project, "plan", "fix.yaml", "--detailed-exitcode")
    assert code == 2 and "! " not in out  # the rows are v1 again: a plain correction may replace them


def test_a_migration_that_raises_fails_in_one_line_and_changes_nothing(project: Path, db_url: str) -> None:
    _apply(project, "backfill-eia-price.yaml")
    v1 = _current(db_url)
    (project / "transforms" / "broken.py").write_text(
        "def migrate(record):\n    return {**record, 'value': record['attributes']['price']}\n")
    (project / "broken.yaml").write_text((project / "replay-schema.yaml").read_text().replace(
        "transforms/v2_migration.py", "transforms/broken.py"))
    code, out, err = run(project, "apply", "broken.yaml", "--auto-approve")
    assert code == 1 and "Traceback" not in out + err
    assert "migrate() failed on CA.COM at 2023-01-01T00:00Z: TypeError:" in out + err
    assert _current(db_url) == v1
