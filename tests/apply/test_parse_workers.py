"""Parse workers (executors/parsepool.py): pages turned into rows in other processes stage exactly what
the fetching threads stage, and every failure falls back to the in-process path with its own errors."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurumplan.catalog import SourceDef, load_catalog
from aurumplan.executors.base import ExtractJob, RetryPolicy, load_id_of
from aurumplan.executors.local import LocalExecutor
from aurumplan.executors.parsepool import AUTO_MIN_RECORDS, Keep, auto_workers
from aurumplan.intervals import HOUR, parse_ts
from aurumplan.sources import eia
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.registry import get_driver
from aurumplan.warehouse import LoadInfo, Warehouse, open_warehouse
from tests.apply.common import run, write_config
from tests.doubles.fakeapis import EiaServer, Synth
from tests.state.dburl import pg_schema_url

START = parse_ts("2024-01-01")
END = START + 30 * 24 * HOUR
SERIES = ("PJM", "MISO", "ERCO")
KEY = "k-parse"


class _NoLimit:
    def acquire(self) -> None: ...

    def on_throttle(self, retry_after: float | None = None) -> None: ...

    def on_success(self) -> None: ...


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    data = Synth(seed=3)
    data.override("eia", "electricity/rto/region-data", "PJM.D", START + 7 * HOUR, None)  # a missing value
    with EiaServer(data=data, quota=None, until=END + 400 * 24 * HOUR) as srv:
        yield srv


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 500 rows (the first call asks for them; the worker follows the offsets the API gives)."""
    monkeypatch.setattr(eia, "PAGE", 500)


@pytest.fixture()
def source(server: EiaServer) -> SourceDef:
    src = load_catalog().source("eia").model_copy(update={"base_url": server.base_url})
    return src


@pytest.fixture()
def warehouse(db_url: str) -> Iterator[Warehouse]:
    wh = open_warehouse(db_url)
    yield wh
    wh.close()


def _job(source: SourceDef, warehouse: Warehouse, node: str, batch: int = 700,
         targets: tuple[tuple[int, int], ...] = ()) -> ExtractJob:
    """ELEC.DEMAND of 3 series over 30 days (2,160 rows in pages of 500), batches of `batch` rows:
    batches and pages do not line up."""
    ds = source.datasets["ELEC.DEMAND"]
    lid = load_id_of("OP_PARSE", node)
    warehouse.stage_load(LoadInfo(lid, "OP_PARSE", "eia", ds.name, START, END, SERIES, node_id=node))
    request = RequestSpec("eia", ds.name, SERIES, START, END, 2160, targets)
    return ExtractJob("OP_PARSE", node, lid, source, ds, request, get_driver("eia"), KEY, batch,
                      RetryPolicy(max=2, backoff=0.01, max_backoff=0.02))


def _rows(warehouse: Warehouse, load_id: str) -> list[tuple[object, ...]]:
    with warehouse.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT series_id, period, value, unit, attributes FROM observations WHERE load_id = :l "
            "ORDER BY series_id, period"), {"l": load_id})]


def _pooled(warehouse: Warehouse) -> LocalExecutor:
    executor = LocalExecutor(warehouse, _NoLimit(), parse_workers=1)
    assert executor.pool is not None and executor.pool.wait_ready(60) and not executor.pool.broken
    return executor


def test_workers_stage_the_same_rows_checksum_and_batches(source: SourceDef, warehouse: Warehouse) -> None:
    plain = LocalExecutor(warehouse, _NoLimit())
    pooled = _pooled(warehouse)
    try:
        a, b = _job(source, warehouse, "n/a"), _job(source, warehouse, "n/b")
        ca, cb = plain.run_extract(a), pooled.run_extract(b)
        assert pooled.pool is not None and pooled.pool.served == cb.requests == 5  # every page went to a worker
    finally:
        plain.close()
        pooled.close()
    assert (ca.records, cb.records) == (2160, 2160)
    rows_a, rows_b = _rows(warehouse, a.load_id), _rows(warehouse, b.load_id)
    assert rows_a == rows_b and len(rows_b) == 2160 and any(r[2] is None for r in rows_b)
    la, lb = warehouse.load(a.load_id), warehouse.load(b.load_id)
    assert la is not None and lb is not None
    assert (lb.records, lb.checksum) == (la.records, la.checksum) == warehouse.load_stats(b.load_id)


def test_a_page_is_kept_in_key_order() -> None:
    """The node's records of a page come out by series, then period (SQLite inserts those faster),
    filtered as before; two records at one key keep the page's order (the insert then refuses the load)."""
    page = [(sid, START + h * HOUR, float(h), "MWh", None)
            for h in (2, 0, 1, 30 * 24) for sid in ("PJM", "ERCO", "TVA")]
    page.append(("ERCO", START, -1.0, "MWh", None))
    kept = Keep(frozenset(SERIES), START, END).records(page)
    assert [(r[0], (r[1] - START) // HOUR) for r in kept] == [
        ("ERCO", 0), ("ERCO", 0), ("ERCO", 1), ("ERCO", 2), ("PJM", 0), ("PJM", 1), ("PJM", 2)]
    assert [r[2] for r in kept if r[0] == "ERCO" and r[1] == START] == [0.0, -1.0]


def test_targets_keep_only_the_gaps(source: SourceDef, warehouse: Warehouse) -> None:
    """A Backfill node bridging loaded periods stages only its targets, with workers as without."""
    gaps = ((START, START + 48 * HOUR), (START + 200 * HOUR, START + 230 * HOUR))
    plain, pooled = LocalExecutor(warehouse, _NoLimit()), _pooled(warehouse)
    try:
        a, b = _job(source, warehouse, "t/a", targets=gaps), _job(source, warehouse, "t/b", targets=gaps)
        plain.run_extract(a)
        pooled.run_extract(b)
    finally:
        plain.close()
        pooled.close()
    rows = _rows(warehouse, b.load_id)
    assert rows == _rows(warehouse, a.load_id) and len(rows) == 3 * 78


def test_a_page_the_worker_cannot_parse_is_retried_as_without_workers(source: SourceDef, warehouse: Warehouse,
                                                                        server: EiaServer) -> None:
    """A truncated 200 fails in the worker; the fetching thread parses it, gets the driver's own
    transient error, and the retry loop sends the call again."""
    pooled = _pooled(warehouse)
    server.malformed_next(1)
    try:
        job = _job(source, warehouse, "m/a")
        counters = pooled.run_extract(job)
    finally:
        pooled.close()
    assert counters.retries == 1 and counters.requests == 6 and counters.records == 2160
    assert len(_rows(warehouse, job.load_id)) == 2160


def test_a_killed_worker_leaves_its_pages_to_the_fetching_threads(source: SourceDef, warehouse: Warehouse) -> None:
    pooled = _pooled(warehouse)
    assert pooled.pool is not None
    for proc in pooled.pool.processes:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    try:
        job = _job(source, warehouse, "k/a")
        counters = pooled.run_extract(job)
    finally:
        pooled.close()
    assert pooled.pool.broken and counters.records == 2160
    load = warehouse.load(job.load_id)
    assert load is not None and (load.records, load.checksum) == warehouse.load_stats(job.load_id)


def test_workers_only_for_operations_large_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    assert auto_workers(AUTO_MIN_RECORDS - 1, None) == 0
    assert auto_workers(AUTO_MIN_RECORDS, None) == 3
    assert auto_workers(10, 2) == 2 and auto_workers(10**7, 0) == 0
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert auto_workers(10**7, None) == 0


SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: t-parse}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {start: 2024-01-01, end: 2024-01-31}
  concurrency: 3
  batchSize: 700
  validation: {threshold: 0.5}
"""


def test_apply_with_workers_makes_the_same_data_current(tmp_path: Path, db_url: str, server: EiaServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole apply through the CLI, `parse_workers: 1` against `parse_workers: 0`, each in its own
    database of the kind under test."""
    monkeypatch.setenv("EIA_API_KEY", KEY)
    current = []
    with contextlib.ExitStack() as stack:
        second = (f"sqlite:///{tmp_path / 'pooled.db'}" if db_url.startswith("sqlite")
                  else stack.enter_context(contextlib.contextmanager(pg_schema_url)()))
        for workers, url in ((0, db_url), (1, second)):
            project = tmp_path / f"p{workers}"
            write_config(project, url, server.base_url)
            cfg = project / "aurumplan.yaml"
            cfg.write_text(f"parse_workers: {workers}\n" + cfg.read_text())
            (project / "spec.yaml").write_text(SPEC)
            code, out, err = run(project, "apply", str(project / "spec.yaml"), "--auto-approve")
            assert code == 0, out + err
            eng = sa.create_engine(url)
            with eng.connect() as c:
                current.append([tuple(r) for r in c.execute(sa.text(
                    "SELECT series_id, period, value, unit FROM observations_current ORDER BY series_id, period"))])
            eng.dispose()
    assert current[0] == current[1] and len(current[1]) == 31 * 72  # the window ends with its last day
