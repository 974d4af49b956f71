"""`aurumplan plan` reads a SQLite state through sqlite3 (state/litereader.py): the same answers as the store.

The store and the reader run the same SQL (state/reads.py); these tests fill a state through the store's
own writes and check that every read planning makes gives equal records both ways, that a plan made
through either is the same plan, and that a file the reader cannot use as it is goes to the store.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurumplan import api
from aurumplan.cli.main import cli
from aurumplan.errors import SchemaVersionError
from aurumplan.intervals import IntervalSet
from aurumplan.plan.make import plan_spec
from aurumplan.state import SCHEMA_VERSION, SqlStateStore, WatermarkRef, open_state
from aurumplan.state.litereader import LiteReader, open_lite
from tests.paths import ROOT

H = 3600


def _filled(url: str) -> SqlStateStore:
    """A state with watermarks of two loads, operations of every outcome, checkpoints, events, leases and
    freezes."""
    store = open_state(url)
    a, b = WatermarkRef("L1", "OP1", "c1", "v1"), WatermarkRef("L2", "OP2")
    store.set_watermarks("eia", "D", "S1", IntervalSet([(0, 2 * H), (5 * H, 6 * H)]), a, 3)
    store.set_watermarks("eia", "D", "S2", IntervalSet([(0, H)]), a, 1)
    store.set_watermarks("eia", "D", "S2", IntervalSet([(H, 3 * H)]), b, 2)
    store.set_watermarks("eia", "E", "S1", IntervalSet([(0, 4 * H)]), b, 4)
    store.set_watermarks("fred", "D", "S1", IntervalSet([(0, H)]), a, 1)
    for i, (status, kind) in enumerate([("succeeded", "Backfill"), ("failed", "Backfill"), ("succeeded", "Replay"),
                                        ("succeeded", "Rollback"), ("paused", "Backfill"),
                                        ("succeeded", "Reprocess")]):
        op = f"OP{i}"
        store.create_operation(op, kind, "eia", spec="s", spec_sha256="same" if i < 4 else "other",
                               labels={"team": "grid"}, now=100.0 + i, parent_id="OP1" if i == 2 else None)
        store.update_operation(op, status=status, summary={"records": 10 * i, "retries": i,
                                                           "settings": {"concurrency": 2, "rateLimit": "5/s"}},
                               now=200.0 + i, event=("resume" if i == 5 else "apply", {"began": 150.0 + i}))
        store.upsert_checkpoint(op, "D/S1/0", status="committed", requests=3 + i, records=5, started_at=160.0 + i,
                                finished_at=170.0 + i)
        store.upsert_checkpoint(op, "D/S2/0", status="committed", requests=0, records=0, started_at=161.0,
                                finished_at=171.0)
        store.upsert_checkpoint(op, "D/validate", status="committed", requests=0, finished_at=180.0 + i)
        store.upsert_checkpoint(op, "D/commit", status="committed", requests=0, finished_at=190.0 + i)
    store.acquire_leases("OP4", [("eia", "D", "S1", 0, H)], "host", 1, now=1000.0)
    store.acquire_leases("OP1", [("eia", "D", "S2", 0, H)], "host", 2, ttl_seconds=30, now=1000.0)
    store.acquire_leases("OP0", [("eia", "E", "S1", 0, H)], "host", 3, ttl_seconds=30, now=1000.0)
    store.release_leases("OP0")
    store.freeze("eia", "bad upstream data", "ops@grid", now=900.0)
    store.freeze("cpi", "late release", "ops@grid", now=901.0)
    return store


def test_every_read_of_planning_equals_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = _filled(url)
    reader = open_lite(url)
    assert isinstance(reader, LiteReader)
    for args in [("eia",), ("eia", "D"), ("eia", "D", ["S2"]), ("eia", None, ["S1", "S9"]), ("eia", "D", []),
                 ("noaa",)]:
        assert reader.watermarks(*args) == store.watermarks(*args), args  # type: ignore[arg-type]
    got = reader.watermarks("eia")
    assert got[("D", "S2")].items() == ((0, H, WatermarkRef("L1", "OP1", "c1", "v1")), (H, 3 * H,
                                                                                      WatermarkRef("L2", "OP2")))
    for now in (1000.0, 1010.0, 1100.0):
        for active in (True, False):
            assert reader.leases(active, now) == store.leases(active, now), (active, now)
    live = reader.leases(True, 1010.0)
    assert [(x.operation_id, x.paused) for x in live] == [("OP4", True), ("OP1", False)]
    assert [x.operation_id for x in reader.leases(True, 1100.0)] == ["OP4"]  # OP1's lease ran out
    assert reader.attempts_of_spec("same") == store.attempts_of_spec("same")
    assert [(o.id, o.status, o.plan) for o in reader.attempts_of_spec("same")] == [
        ("OP0", "succeeded", None), ("OP1", "failed", None), ("OP2", "succeeded", None)]
    assert reader.attempts_of_spec("none") == []
    for limit in (1, 2, 5):
        assert reader.recent_runs("eia", limit) == store.recent_runs("eia", limit)
    runs = reader.recent_runs("eia")
    assert [r.operation_id for r in runs] == ["OP2", "OP0"]  # OP5 resumed, OP1 failed, OP3 a rollback
    assert (runs[0].requests, runs[0].extract_nodes, runs[0].other_nodes, runs[0].began) == (5, 1, 2, 152.0)
    assert reader.recent_runs("fred") == []
    for source in (None, "eia", "fred"):
        assert reader.freezes(source) == store.freezes(source)
    assert [(f.source, f.reason, f.by) for f in reader.freezes()] == [("cpi", "late release", "ops@grid"),
                                                                      ("eia", "bad upstream data", "ops@grid")]
    reader.close()
    store.close()


def test_a_plan_through_the_reader_is_the_plan_through_the_store(tmp_path: Path) -> None:
    project = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", project, ignore=shutil.ignore_patterns(".aurumplan"))
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        assert runner.invoke(cli, ["apply", "quickstart.yaml", "--auto-approve"]).exit_code == 0
        ctx = api.context()
        assert isinstance(api.open_plan_reader(ctx), LiteReader)
        for spec in ("quickstart.yaml", "backfill-eia.yaml", "replay-eia.yaml"):
            store, reader = api.open_reader(ctx), open_lite(ctx.config.state_url)
            assert isinstance(store, SqlStateStore) and reader is not None
            through_store = plan_spec(spec, ctx.catalog, store, cwd=project)
            through_reader = plan_spec(spec, ctx.catalog, reader, cwd=project)
            assert through_reader.text == through_store.text
            assert through_reader.plan["estimates"] == through_store.plan["estimates"]
            store.close()
            reader.close()


def test_a_file_the_reader_cannot_use_goes_to_the_store(tmp_path: Path) -> None:
    assert open_lite("postgresql+psycopg://u@h/db") is None
    assert open_lite("sqlite:///:memory:") is None
    assert open_lite(f"sqlite:///{tmp_path / 'missing.db'}") is None
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, but long enough to have a header page of sorts" * 20)
    assert open_lite(f"sqlite:///{junk}") is None
    partial = tmp_path / "partial.db"
    with sqlite3.connect(partial) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    assert open_lite(f"sqlite:///{partial}") is None
    open_state(f"sqlite:///{partial}").close()  # the store adds the missing tables, then the reader can read it
    assert isinstance(open_lite(f"sqlite:///{partial}"), LiteReader)


def test_a_state_newer_than_this_code_is_refused_by_the_reader_as_by_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    open_state(url).close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SchemaVersionError) as lite:
        open_lite(url)
    with pytest.raises(SchemaVersionError) as full:
        open_state(url)
    assert str(lite.value) == str(full.value)
