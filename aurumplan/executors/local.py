"""The embedded executor: the driver builds each call, httpx fetches it, rows are staged in batches.

This is the per-request and per-record hot path: records stay tuples, a batch is one
transaction, and nothing is held in memory beyond one page and one batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from aurumplan.executors.base import Counters, ExtractJob
from aurumplan.executors.http import Limiter, fetch_page, make_client
from aurumplan.intervals import IntervalSet
from aurumplan.sources.base import Record
from aurumplan.warehouse import Warehouse


class LocalExecutor:
    """Runs extract nodes in-process against the warehouse."""

    name = "local"

    def __init__(self, warehouse: Warehouse, limiter: Limiter, root: Path | None = None) -> None:
        self.warehouse = warehouse
        self.limiter = limiter
        self.root = root
        self._clients: dict[str, httpx.Client] = {}

    def client(self, job: ExtractJob) -> httpx.Client:
        key = job.source.name
        if key not in self._clients:
            self._clients[key] = make_client(job.source, job.retry.timeout, self.root)
        return self._clients[key]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    def cancel(self, job: ExtractJob) -> None:
        job.stop.set()

    def run_extract(self, job: ExtractJob) -> Counters:
        counters = Counters()
        src, ds = job.source.name, job.dataset.name
        wanted = set(job.request.series)
        lo, hi = job.request.start, job.request.end
        keep = IntervalSet(job.request.targets).contains if job.request.targets else None
        batch: list[tuple[Any, ...]] = []
        client = self.client(job)
        call = job.driver.first_call(job.source, job.dataset, job.request)
        while call is not None:
            page = fetch_page(client, job.driver, job.source, job.dataset, job.request, call, job.api_key,
                              self.limiter, job.retry, counters, job.stop.is_set)
            for rec in page.records:
                row = _row(src, ds, rec, job)
                if row is None or row[2] not in wanted or not lo <= row[3] < hi or (keep and not keep(row[3])):
                    continue
                batch.append(row)
                if len(batch) >= job.batch_size:
                    self._flush(job, batch, counters)
                    batch = []
            call = page.next_call
        if batch:
            self._flush(job, batch, counters)
        return counters

    def _flush(self, job: ExtractJob, batch: list[tuple[Any, ...]], counters: Counters) -> None:
        self.warehouse.write_batch(job.load_id, batch)
        counters.records += len(batch)
        if job.on_progress is not None:
            job.on_progress(counters)


def _row(source: str, dataset: str, rec: Record, job: ExtractJob) -> tuple[Any, ...] | None:
    sid, period, value, unit, attrs = rec
    if job.transform is None:
        return (source, dataset, sid, period, value, unit, attrs)
    out = job.transform({"source": source, "dataset": dataset, "series_id": sid, "period": period,
                         "value": value, "unit": unit, "attributes": attrs})
    if out is None:
        return None
    return (source, dataset, out.get("series_id", sid), int(out.get("period", period)), out.get("value"),
            out.get("unit", unit), out.get("attributes", attrs))
