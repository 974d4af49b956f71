"""The local executor's HTTP side: one client per source, and pages freed as soon as they are parsed."""

from __future__ import annotations

import gc
import threading
import weakref
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from aurumplan.catalog import load_catalog
from aurumplan.errors import SourceError, TransientSourceError
from aurumplan.executors.base import Counters, RetryPolicy
from aurumplan.executors.http import fetch_page
from aurumplan.executors.local import LocalExecutor
from aurumplan.intervals import HOUR, parse_ts
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.eia import DRIVER
from tests.doubles.fakeapis import EiaServer


class _NoLimit:
    def acquire(self) -> None: ...

    def on_throttle(self, retry_after: float | None = None) -> None: ...

    def on_success(self) -> None: ...


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


def test_a_parsed_page_is_freed_without_waiting_for_the_cycle_collector() -> None:
    """Memory stays flat as volume grows only if each page's body goes when its records are taken:
    httpx ties a response and its stream in a reference cycle, which only a (rare) full collection
    frees, so a million-row load held dozens of pages at once."""
    sent: list[weakref.ref[httpx.Response]] = []

    class Client(httpx.Client):
        def send(self, request: httpx.Request, **kw: Any) -> httpx.Response:
            response = super().send(request, **kw)
            sent.append(weakref.ref(response))
            return response

    start = parse_ts("2024-01-01")
    with EiaServer(api_key="k", until=start + 400 * 24 * HOUR, quota=None) as srv, Client(timeout=30) as client:
        src = load_catalog().source("eia").model_copy(update={"base_url": srv.base_url})
        ds = src.datasets["ELEC.DEMAND"]
        req = RequestSpec("eia", "ELEC.DEMAND", ("PJM", "MISO"), start, start + 3000 * HOUR, 6000)
        call = DRIVER.first_call(src, ds, req)
        gc.disable()
        try:
            pages = records = 0
            while call is not None:
                page = fetch_page(client, DRIVER, src, ds, req, call, "k", _NoLimit(), RetryPolicy(),
                                  Counters(), lambda: False)
                records += len(page.records)
                call = page.next_call
                pages += 1
                del page
                assert all(ref() is None for ref in sent), f"page {pages} still held after parsing"
        finally:
            gc.enable()
    assert (pages, records) == (2, 6000)


def test_each_request_counts_once_by_how_it_ended() -> None:
    """aurumplan_requests_total{outcome} (docs/operations.md#metrics): ok, throttled, retried, failed add
    up to the requests sent, whatever mix of answers the API gave."""
    start = parse_ts("2024-01-01")
    with EiaServer(api_key="k", until=start + 400 * 24 * HOUR, quota=None) as srv, httpx.Client(timeout=30) as client:
        src = load_catalog().source("eia").model_copy(update={"base_url": srv.base_url})
        ds = src.datasets["ELEC.DEMAND"]
        req = RequestSpec("eia", "ELEC.DEMAND", ("PJM",), start, start + 24 * HOUR, 24)
        call = DRIVER.first_call(src, ds, req)
        policy = RetryPolicy(max=2, backoff=0.0, max_backoff=0.0)

        def fetch(counters: Counters) -> None:
            fetch_page(client, DRIVER, src, ds, req, call, "k", _NoLimit(), policy, counters, lambda: False,
                       sleep=lambda _s: None)

        c = Counters()
        srv.fail_next(1, status=429)
        srv.fail_next(1, status=503)
        fetch(c)
        assert c.outcomes == {"throttled": 1, "retried": 1, "ok": 1} and c.requests == 3 == srv.requests
        srv.fail_next(3, status=503)
        with pytest.raises(TransientSourceError):
            fetch(c)
        assert c.outcomes == {"throttled": 1, "retried": 3, "ok": 1, "failed": 1} and c.requests == 6
        srv.fail_next(1, status=403)  # permanent: not sent again
        with pytest.raises(SourceError):
            fetch(c)
        assert c.outcomes["failed"] == 2 and sum(c.outcomes.values()) == c.requests == 7 == srv.requests
