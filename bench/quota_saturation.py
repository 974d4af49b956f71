"""Quota-exact pacing against local fake APIs enforcing each quota shape the sources have.

Scenarios (the server enforces the same quota the config declares, headroom 0.8):
  eia  5/s     one year of hourly demand for 7 balancing authorities
  fred 2/s     daily series over many years (one request per series and year)
  iso  6/min   PJM hourly load for zones, one request per zone and quarter
  cpi  500/day BLS CPI: a few requests against a daily budget, which should go at once

For each: planned vs made requests, 429s, the apply's wall time, the span from the first request to
the last, and the plan's estimate. Where the quota binds (eia, fred, iso) the goal is a request span
of at most 1.10 x requests / (quota x headroom) (the 6/min budget bursts first, so it finishes
under it); against the daily budget (cpi) the whole apply must finish within 10 s. The apply's
wall time adds the fixed work of an apply (leases, validation, commit). See docs/sources.md
("Quotas and rate limiting").

    PYTHONPATH=. .venv/bin/python bench/quota_saturation.py [eia fred iso cpi]   # the fakes live in tests/doubles
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aurumplan import api
from tests.doubles.fakeapis import SERVERS, Synth


@dataclass(frozen=True)
class Scenario:
    source: str
    quota: dict[str, float]
    spec: str
    binding_rate: float  # quota x headroom of the binding window, requests/s
    limits: str = ""  # request limits set in the config, to make more requests of a small dataset
    burst: bool = False  # a few requests against a large budget: judged by the whole apply's time


def _spec(source: str, body: str) -> str:
    return (f"apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {{name: quota-{source}}}\nspec:\n"
            f"  source: {source}\n{body}  validation: {{checks: [schema], threshold: 0.5}}\n")


SCENARIOS = {
    "eia": Scenario("eia", {"per_second": 5}, _spec("eia", "  datasets: [ELEC.DEMAND]\n"
                                                          "  series: [CISO, ERCO, ISNE, MISO, NYIS, PJM, SWPP]\n"
                                                          "  window: {start: 2024-01-01, end: 2024-12-31}\n"
                                                          "  concurrency: 4\n"), 0.8 * 5),
    "fred": Scenario("fred", {"per_second": 2}, _spec("fred", "  datasets: [DGS10]\n"
                                                              "  window: {start: 1962-01-01, end: 2024-12-31}\n"
                                                              "  concurrency: 3\n"), 0.8 * 2, "max_rows: 500"),
    "iso": Scenario("iso", {"per_minute": 6}, _spec("iso", "  datasets: [PJM.LOAD]\n"
                                                           "  series: [AEPAPT, CE, DOM, BC, AECO, DUQ, JC]\n"
                                                           "  window: {start: 2024-01-01, end: 2024-06-30}\n"
                                                           "  concurrency: 1\n"), 0.8 * 6 / 60),
    "cpi": Scenario("cpi", {"per_day": 500}, _spec("cpi", "  datasets: [CPIU]\n"
                                                          "  series: [CUUR0000SA0, CUUR0000SA0L1E]\n"
                                                          "  window: {start: 1965-01-01, end: 2024-12-31}\n"
                                                          "  concurrency: 3\n"), 0.8 * 500 / 86400, burst=True),
}


def run(sc: Scenario) -> bool:
    server = SERVERS[sc.source]
    quota = ", ".join(f"{k}: {v:g}" for k, v in sc.quota.items())
    with tempfile.TemporaryDirectory() as tmp, server(data=Synth(seed=5), quota=dict(sc.quota)) as srv:
        folder = Path(tmp)
        (folder / "aurumplan.yaml").write_text(
            "state: sqlite:///state.db\nwarehouse: sqlite:///wh.db\nsources:\n"
            f"  {sc.source}:\n    base_url: {srv.base_url}\n    quota: {{{quota}}}\n    headroom: 0.8\n"
            + (f"    limits: {{{sc.limits}}}\n" if sc.limits else ""))
        (folder / "spec.yaml").write_text(sc.spec)
        ctx = api.context(folder / "aurumplan.yaml", folder)
        os.environ.setdefault(ctx.catalog.source(sc.source).api_key_env, "bench-key")
        planned = api.plan(folder / "spec.yaml", ctx)
        est = planned.plan["estimates"]
        start = time.perf_counter()
        result = api.apply_plan(planned.plan, ctx)
        elapsed = time.perf_counter() - start
        n = est["requests"]
        bound = 1.10 * n / sc.binding_rate
        spread = (max(e.time for e in srv.log) - min(e.time for e in srv.log)) if srv.log else 0.0
        fast = elapsed <= 10.0 if sc.burst else spread <= bound
        ok = srv.requests == n and srv.throttled == 0 and fast and result.status == "succeeded"
        print(f"{sc.source:<5} quota {quota:<16} requests planned {n:>3}, made {srv.requests:>3}, "
              f"429s {srv.throttled}; apply {elapsed:6.2f}s (requests over {spread:6.2f}s); "
              f"plan estimate {est['duration_seconds']:7.2f}s "
              f"(quota floor {est['min_duration_seconds']:.2f}s); bound {bound:9.2f}s; "
              f"{result.status}: {'met' if ok else 'NOT met'}")
        return ok


def main(argv: list[str]) -> int:
    names = argv or list(SCENARIOS)
    results = [run(SCENARIOS[n]) for n in names]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
