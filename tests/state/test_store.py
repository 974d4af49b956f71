"""Opening the state: version gate, serial, operations and checkpoints, no password in errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from aurumplan.errors import OperationError, SchemaVersionError, StateError
from aurumplan.intervals import IntervalSet
from aurumplan.state import SCHEMA_VERSION, WatermarkRef, open_state

PASSWORD = "s3cr3t-Pw"


def _with_password(url: str) -> str:
    """The same database with a password in the URL (PostgreSQL trust auth ignores it)."""
    return url.replace("postgres@", f"postgres:{PASSWORD}@") if url.startswith("postgresql") else url


def _set_version(url: str, version: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = :v WHERE key = 'schema_version'"), {"v": str(version)})
    engine.dispose()


def test_newer_schema_is_refused_with_upgrade_hint_and_no_password(db_url: str) -> None:
    url = _with_password(db_url)
    open_state(url).close()
    _set_version(db_url, SCHEMA_VERSION + 1)
    with pytest.raises(SchemaVersionError) as err:
        open_state(url)
    message = str(err.value)
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this aurumplan understands ({SCHEMA_VERSION})" \
        in message
    assert "upgrade aurumplan" in message
    assert PASSWORD not in message


def test_reopening_keeps_lineage_and_create_false_needs_a_store(db_url: str) -> None:
    with pytest.raises(StateError, match="no aurumplan state"):
        open_state(db_url, create=False)
    first = open_state(db_url)
    lineage = first.lineage()
    first.close()
    again = open_state(db_url, create=False)
    assert again.lineage() == lineage and len(lineage) == 36
    again.close()


def test_unreachable_database_is_one_line_without_password() -> None:
    with pytest.raises(StateError) as err:
        open_state(f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/test?connect_timeout=2")
    message = str(err.value)
    assert PASSWORD not in message and "***" in message
    assert "\n" not in message and message.startswith("cannot use database postgresql+psycopg://postgres:***@")


def test_sqlite_parent_folders_are_created(tmp_path) -> None:
    store = open_state(f"sqlite:///{tmp_path / '.aurumplan' / 'deep' / 'state.db'}")
    assert (tmp_path / ".aurumplan" / "deep" / "state.db").exists()
    store.close()


def test_serial_rises_with_every_committed_change(db_url: str) -> None:
    store = open_state(db_url)
    seen = [store.serial()]
    store.create_operation("BACKFILL_1", "Backfill", "eia")
    seen.append(store.serial())
    store.update_operation("BACKFILL_1", status="running")
    seen.append(store.serial())
    store.upsert_checkpoint("BACKFILL_1", "n1", status="running")
    seen.append(store.serial())
    seen.append(store.set_watermarks("eia", "D", "S", IntervalSet([(0, 3600)]), WatermarkRef("L1", "BACKFILL_1")))
    seen.append(store.remove_watermarks("eia", "D", "S", IntervalSet([(0, 1800)])))
    seen.append(store.serial())
    assert seen == [0, 1, 2, 3, 4, 5, 5]
    with pytest.raises(OperationError):
        store.update_operation("NOPE", status="failed")
    assert store.serial() == 5
    store.close()


def test_operations_listed_oldest_first_and_filtered_by_activity(db_url: str) -> None:
    store = open_state(db_url)
    store.create_operation("B", "Backfill", "eia", reason="first", labels={"ticket": "OPS-1"}, now=100.0)
    store.create_operation("A", "Replay", "eia", reason="second", spec="kind: Replay", now=200.0)
    store.create_operation("C", "Rollback", "eia", parent_id="A", now=300.0)
    store.update_operation("B", status="succeeded", summary={"requests": 3, "records": 72}, now=400.0)
    with pytest.raises(OperationError, match="already exists"):
        store.create_operation("A", "Replay", "eia")
    assert [o.id for o in store.list_operations()] == ["B", "A", "C"]
    assert [o.id for o in store.list_operations(active_only=True)] == ["A", "C"]
    b = store.get_operation("B")
    assert (b.status, b.summary, b.labels, b.reason, b.updated_at) == (
        "succeeded", {"requests": 3, "records": 72}, {"ticket": "OPS-1"}, "first", 400.0)
    assert store.get_operation("C").parent_id == "A"
    with pytest.raises(OperationError, match="no operation X"):
        store.get_operation("X")
    with pytest.raises(ValueError, match="status"):
        store.update_operation("B", status="done")
    store.close()


def test_checkpoints_upsert_and_quality_results(db_url: str) -> None:
    store = open_state(db_url)
    store.create_operation("OP", "Backfill", "eia")
    store.upsert_checkpoint("OP", "eia/ELEC.DEMAND/PJM/0", status="running", external_id="job-7", attempts=1)
    done = store.upsert_checkpoint("OP", "eia/ELEC.DEMAND/PJM/0", status="staged", records=24,
                                   detail={"pages": 2})
    assert (done.status, done.records, done.external_id, done.attempts, done.detail) == (
        "staged", 24, "job-7", 1, {"pages": 2})
    store.upsert_checkpoint("OP", "a-first", status="pending")
    assert [c.node_id for c in store.checkpoints("OP")] == ["a-first", "eia/ELEC.DEMAND/PJM/0"]
    with pytest.raises(TypeError, match="unknown"):
        store.upsert_checkpoint("OP", "n", colour="red")
    store.add_quality_result("OP", "ELEC.DEMAND", 0.97, True, detail={"completeness": 1.0})
    store.add_quality_result("OP", "ELEC.GEN", 0.5, False, node_id="n2")
    results = store.quality_results("OP")
    assert [(r.dataset, r.score, r.passed) for r in results] == [("ELEC.DEMAND", 0.97, True),
                                                                 ("ELEC.GEN", 0.5, False)]
    assert results[0].detail == {"completeness": 1.0}
    store.close()
