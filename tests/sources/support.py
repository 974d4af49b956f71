"""Running a driver's request through every page over real HTTP, as the executor's loop does."""

from __future__ import annotations

from typing import Any

import httpx

from aurumplan.catalog import SourceDef, load_catalog
from aurumplan.intervals import IntervalSet, parse_ts
from aurumplan.sources.base import Driver, Record, RequestSpec

KEY = "sekrit-key-0123456789"


def source(name: str, base_url: str, **update: Any) -> SourceDef:
    """The built-in source pointed at a local fake."""
    return load_catalog().source(name).model_copy(update={"base_url": base_url, **update})


def window(start: str, end: str) -> IntervalSet:
    return IntervalSet([(parse_ts(start), parse_ts(end))])


def fetch(driver: Driver, src: SourceDef, dataset: str, request: RequestSpec,
          key: str | None = KEY) -> tuple[list[Record], int]:
    """All records of one request and how many pages it took."""
    ds = src.datasets[dataset]
    records: list[Record] = []
    pages = 0
    call = driver.first_call(src, ds, request)
    with httpx.Client(timeout=30) as client:
        while call is not None:
            response = client.send(call.build(client, key))
            page = driver.parse(src, ds, request, call, response)
            pages += 1
            records.extend(page.records)
            call = page.next_call
    return records, pages


def fetch_plan(driver: Driver, src: SourceDef, dataset: str, targets: dict[str, IntervalSet],
               key: str | None = KEY) -> tuple[list[Record], list[RequestSpec], int]:
    """Every record of a plan, the plan, and the pages fetched."""
    plan = driver.plan_requests(src, src.datasets[dataset], targets)
    out: list[Record] = []
    pages = 0
    for req in plan:
        recs, n = fetch(driver, src, dataset, req, key)
        out.extend(recs)
        pages += n
    return out, plan, pages
