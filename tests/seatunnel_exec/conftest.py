"""Fixtures: a fake EIA API, a warehouse (SQLite and PostgreSQL), fake SeaTunnel, job factories."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aurumplan.catalog import SourceDef, load_catalog
from aurumplan.config import Config, SeaTunnelConfig
from aurumplan.executors.base import ExtractJob, RetryPolicy, load_id_of
from aurumplan.intervals import to_ts
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.registry import get_driver
from aurumplan.warehouse import LoadInfo, Warehouse, open_warehouse
from tests.doubles.fakeapis import MISSING, EiaServer, Synth
from tests.doubles.seatunnel import FakeZetaServer, install_fake_seatunnel

EIA_KEY = "eia-SECRET-5f0c2a9d41"
OPERATION = "BACKFILL_20241231_EIA_3f9a1c"
SERIES = ("MISO", "PJM")
NODE = "ELEC.DEMAND/extract/00001"  # node ids as the compiler makes them
START, END = to_ts(dt.date(2024, 3, 9)), to_ts(dt.date(2024, 3, 11))


@pytest.fixture
def eia() -> Iterator[EiaServer]:
    """The fake EIA API; two points are missing ("NA" and null), as real EIA-930 data has."""
    data = Synth()
    data.override("eia", "electricity/rto/region-data", "PJM.D", START + 5 * 3600, MISSING)
    data.override("eia", "electricity/rto/region-data", "MISO.D", START + 30 * 3600, None)
    with EiaServer(api_key=EIA_KEY, data=data) as srv:
        yield srv  # type: ignore[misc]


@pytest.fixture
def source(eia: EiaServer) -> SourceDef:
    return load_catalog().source("eia").model_copy(update={"base_url": eia.base_url})


@pytest.fixture
def warehouse(db_url: str) -> Iterator[Warehouse]:
    wh = open_warehouse(db_url)
    yield wh
    wh.close()


@pytest.fixture
def st_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SEATUNNEL_HOME holding the fake client (and no EIA_API_KEY: the executor passes the job's key)."""
    home = tmp_path / "seatunnel"
    install_fake_seatunnel(home)
    monkeypatch.delenv("EIA_API_KEY", raising=False)
    return home


@pytest.fixture
def zeta() -> Iterator[FakeZetaServer]:
    with FakeZetaServer() as srv:
        yield srv


def make_config(tmp_path: Path, db: str, executor: str, **st: Any) -> Config:
    return Config(warehouse=db, executor=executor, logs=str(tmp_path / "logs"), root=str(tmp_path),
                  seatunnel=SeaTunnelConfig(poll_interval=0.05, **st))


JobFactory = Callable[..., ExtractJob]


def build_job(source: SourceDef, warehouse: Warehouse, node: str = NODE, external_id: str | None = None,
              record: Callable[[str], None] | None = None, targets: tuple[tuple[int, int], ...] = (),
              **kw: Any) -> ExtractJob:
    """An ExtractJob of ELEC.DEMAND (2 series, 2 days, 96 rows) with its load staged."""
    ds = source.datasets["ELEC.DEMAND"]
    load_id = load_id_of(OPERATION, node)
    warehouse.stage_load(LoadInfo(load_id, OPERATION, "eia", ds.name, START, END, SERIES, node_id=node))
    request = RequestSpec("eia", ds.name, SERIES, START, END, 96, targets)
    return ExtractJob(OPERATION, node, load_id, source, ds, request, get_driver("eia"), EIA_KEY, 1000,
                      RetryPolicy(max=1, backoff=0.01, max_backoff=0.02), external_id=external_id,
                      record_external_id=record, **kw)


@pytest.fixture
def make_job(source: SourceDef, warehouse: Warehouse) -> JobFactory:
    """build_job for this test's API and warehouse; ids it records are appended to `recorded`."""

    def make(node: str = NODE, external_id: str | None = None, recorded: list[str] | None = None,
             **kw: Any) -> ExtractJob:
        sink = recorded if recorded is not None else []
        return build_job(source, warehouse, node, external_id, sink.append, **kw)

    return make


def fake_state(home: Path, name: str) -> list[dict[str, Any]]:
    p = home / "fake-state" / name
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


def when(started: Callable[[], bool], action: Callable[[], object], timeout: float = 30.0) -> None:
    """Run `action` in a thread once `started()` says the SeaTunnel job was submitted."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not started() and time.monotonic() < deadline:
            time.sleep(0.02)
        action()

    threading.Thread(target=watch, daemon=True).start()
