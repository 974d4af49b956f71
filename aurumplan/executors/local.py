"""The embedded executor: the driver builds each call, httpx fetches it, rows are staged in batches.

This is the per-request and per-record hot path: records stay tuples, a batch is one
transaction, and nothing is held in memory beyond one page and one batch.

A source that cannot be used at all (no key, key rejected, host unreachable) fails its first
node and every later node at once, without another request (docs/sources.md, "When a source fails").
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from aurumplan.errors import TerminalSourceError
from aurumplan.executors.base import Counters, ExtractJob
from aurumplan.executors.http import Limiter, SourceDownError, fetch_page, make_client
from aurumplan.intervals import IntervalSet
from aurumplan.sources.base import Call, Record
from aurumplan.sources.keys import require_key
from aurumplan.warehouse import Warehouse


class LocalExecutor:
    """Runs extract nodes in-process against the warehouse."""

    name = "local"

    def __init__(self, warehouse: Warehouse, limiter: Limiter, root: Path | None = None) -> None:
        self.warehouse = warehouse
        self.limiter = limiter
        self.root = root
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

    def _run(self, job: ExtractJob) -> Counters:
        counters = job.counters
        wanted = frozenset(job.request.series)
        lo, hi = job.request.start, job.request.end
        keep = IntervalSet(job.request.targets).contains if job.request.targets else None
        batch: list[Record] = []
        client = self.client(job)
        call: Call | None = job.driver.first_call(job.source, job.dataset, job.request)
        while call is not None:
            page = fetch_page(client, job.driver, job.source, job.dataset, job.request, call, job.api_key,
                              self.limiter, job.retry, counters, job.stop.is_set)
            records = page.records if job.transform is None else _transformed(page.records, job)
            batch += [r for r in records if r[0] in wanted and lo <= r[1] < hi and (keep is None or keep(r[1]))]
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
