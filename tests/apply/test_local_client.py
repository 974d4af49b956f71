"""The local executor's HTTP client: one per source, however many workers start at once."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from aurumplan.catalog import load_catalog
from aurumplan.executors.base import RetryPolicy
from aurumplan.executors.local import LocalExecutor


def test_workers_starting_together_share_one_client() -> None:
    """Without it each worker built its own client (its own TLS setup and connection pool) and all
    but the last leaked, never closed."""
    source = load_catalog().source("eia")
    job: Any = SimpleNamespace(source=source, retry=RetryPolicy())
    executor = LocalExecutor(warehouse=None, limiter=None)  # type: ignore[arg-type]
    gate = threading.Barrier(8)
    got: list[object] = []

    def worker() -> None:
        gate.wait()
        got.append(executor.client(job))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len({id(c) for c in got}) == 1
    client = got[0]
    executor.close()
    assert client.is_closed  # type: ignore[attr-defined]
