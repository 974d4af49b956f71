"""The embedded executor: the driver builds each call, httpx fetches it, rows are staged in batches.

This is the per-request and per-record hot path: records stay tuples, a batch is one
transaction, and nothing is held in memory beyond one page and one batch. With parse workers
(executors/parsepool.py) the pages are decoded and turned into rows in other processes.

A source that cannot be used at all (no key, key rejected, host unreachable) fails its first
node and every later node at once, without another request (docs/sources.md, "When a source fails").
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import httpx

from aurumplan.errors import TerminalSourceError
from aurumplan.executors.base import Counters, ExtractJob
from aurumplan.executors.http import Limiter, SourceDownError, fetch_page, make_client
from aurumplan.executors.parsepool import Keep, ParsePool, Prepared, PreparedPage, Staging
from aurumplan.sources.base import Call, Page, Record
from aurumplan.sources.keys import require_key
from aurumplan.warehouse import Warehouse
from aurumplan.warehouse.rows import MASK, ROW_WIDTH


class LocalExecutor:
    """Runs extract nodes in-process against the warehouse."""

    name = "local"

    def __init__(self, warehouse: Warehouse, limiter: Limiter, root: Path | None = None,
                 parse_workers: int = 0, pool: ParsePool | None = None) -> None:
        """`pool`: workers a caller started ahead (and closes); else `parse_workers` of our own."""
        self.warehouse = warehouse
        self.limiter = limiter
        self.root = root
        self._own_pool = pool is None and parse_workers > 0
        self.pool = pool if pool is not None else ParsePool(parse_workers) if parse_workers > 0 else None
        self._clients: dict[str, httpx.Client] = {}
        self._clients_lock = threading.Lock()
        self._down: dict[str, TerminalSourceError] = {}

    def client(self, job: ExtractJob) -> httpx.Client:
        """The source's one client (its connection pool), shared by every worker: the lock stops
        workers that start together from each building one and leaking all but the last."""
        key = job.source.name
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = make_client(job.source, job.retry.timeout, self.root)
            return self._clients[key]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()
        if self.pool is not None and self._own_pool:
            self.pool.close()

    def cancel(self, job: ExtractJob) -> None:
        job.stop.set()

    def check_source(self, job: ExtractJob) -> None:
        """Fail at once where the source already failed as a whole, or has no key to send."""
        down = self._down.get(job.source.name)
        if down is not None:
            raise TerminalSourceError(str(down))
        if job.api_key is None and not job.source.recordings:
            require_key(job.source)

    def run_extract(self, job: ExtractJob) -> Counters:
        self.check_source(job)
        try:
            return self._run(job)
        except SourceDownError as exc:
            with self._clients_lock:
                self._down.setdefault(job.source.name, exc)
            raise

    @staticmethod
    def _keep(job: ExtractJob) -> Keep:
        r = job.request
        return Keep(frozenset(r.series), r.start, r.end, tuple(r.targets) if r.targets else ())

    def _run(self, job: ExtractJob) -> Counters:
        if self.pool is not None and job.transform is None:
            return self._run_pooled(job, self.pool)
        counters = job.counters
        keep = self._keep(job)
        batch: list[Record] = []
        client = self.client(job)
        call: Call | None = job.driver.first_call(job.source, job.dataset, job.request)
        while call is not None:
            page = fetch_page(client, job.driver, job.source, job.dataset, job.request, call, job.api_key,
                              self.limiter, job.retry, counters, job.stop.is_set)
            batch += keep.records(page.records if job.transform is None else _transformed(page.records, job))
            while len(batch) >= job.batch_size:
                self._flush(job, batch[:job.batch_size], counters)
                del batch[:job.batch_size]
            call = page.next_call
        if batch:
            self._flush(job, batch, counters)
        return counters

    def _flush(self, job: ExtractJob, batch: list[Record], counters: Counters) -> None:
        self.warehouse.write_records(job.load_id, job.source.name, job.dataset.name, batch)
        counters.records += len(batch)
        if job.on_progress is not None:
            job.on_progress(counters)

    def _run_pooled(self, job: ExtractJob, pool: ParsePool) -> Counters:
        """The same pages, batches and transactions, with each page's rows built by a parse worker."""
        counters = job.counters
        staging = Staging(job.driver.name, job.source, job.dataset, job.request, self._keep(job),
                          self.warehouse.sqlite)
        sent = pool.staging(staging)
        rows = Prepared()
        client = self.client(job)
        call: Call | None = job.driver.first_call(job.source, job.dataset, job.request)
        size, width = job.batch_size, ROW_WIDTH
        while call is not None:
            page: Page = fetch_page(client, job.driver, job.source, job.dataset, job.request, call, job.api_key,
                                    self.limiter, job.retry, counters, job.stop.is_set,
                                    parse=partial(pool.prepare, sent, call))
            got = page.prepared if isinstance(page, PreparedPage) else staging.values(page.records)
            rows.flat += got.flat
            rows.hashes += got.hashes
            while len(rows.hashes) >= size:
                self._flush_values(job, rows.flat[:size * width], sum(rows.hashes[:size]), size, counters)
                del rows.flat[:size * width], rows.hashes[:size]
            call = page.next_call
        if rows.hashes:
            self._flush_values(job, rows.flat, sum(rows.hashes), len(rows.hashes), counters)
        return counters

    def _flush_values(self, job: ExtractJob, flat: list[object], total: int, n: int, counters: Counters) -> None:
        self.warehouse.write_values(job.load_id, job.source.name, job.dataset.name, flat, total & MASK)
        counters.records += n
        if job.on_progress is not None:
            job.on_progress(counters)


def _transformed(records: list[Record], job: ExtractJob) -> list[Record]:
    """The user's transform over each record; one returning None drops the record."""
    assert job.transform is not None
    src, ds = job.source.name, job.dataset.name
    out: list[Record] = []
    for sid, period, value, unit, attrs in records:
        row = job.transform({"source": src, "dataset": ds, "series_id": sid, "period": period,
                             "value": value, "unit": unit, "attributes": attrs})
        if row is not None:
            out.append((row.get("series_id", sid), int(row.get("period", period)), row.get("value"),
                        row.get("unit", unit), row.get("attributes", attrs)))
    return out
