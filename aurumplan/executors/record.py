"""`aurumplan record`: run a spec's planned requests against the live API and keep the answers.

The recordings (cassette files, keys redacted) let `recordings:` in the config replay the same
spec later with no network and no keys.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from aurumplan.catalog import SourceDef
from aurumplan.executors.base import Counters, RetryPolicy
from aurumplan.executors.http import Limiter, fetch_page
from aurumplan.plan.model import ExtractNode, Plan
from aurumplan.sources.base import Call
from aurumplan.sources.cassette import RecordingTransport
from aurumplan.sources.keys import require_key
from aurumplan.sources.registry import get_driver


def record_plan(plan: Plan, source: SourceDef, out: Path, limiter: Limiter) -> Counters:
    """Fetch every page of every extract node of the plan through a recording transport, within the quota."""
    driver = get_driver(source.driver)
    key = require_key(source)
    counters = Counters()
    policy = RetryPolicy.of(plan.settings.retries)
    out.mkdir(parents=True, exist_ok=True)
    transport = RecordingTransport(httpx.HTTPTransport(), out)
    with httpx.Client(transport=transport, timeout=policy.timeout) as client:
        for node in plan.graph.nodes:
            if not isinstance(node, ExtractNode):
                continue
            ds = source.datasets[node.dataset]
            req = node.request_spec(source.name)
            call: Call | None = driver.first_call(source, ds, req)
            while call is not None:
                page = fetch_page(client, driver, source, ds, req, call, key, limiter, policy,
                                  counters, lambda: False)
                counters.records += len(page.records)
                call = page.next_call
    return counters
