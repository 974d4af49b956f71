"""One year of hourly EIA demand for 7 BAs against the local EIA server enforcing 5 requests/s.

Checks the issue-4 goal: exactly the planned number of requests, zero 429s, and a duration of at
most 1.10 x (requests / (0.8 x 5)) seconds.

    PYTHONPATH=. .venv/bin/python bench/quota_saturation.py   # the fake API lives in tests/doubles
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from aurumplan import api
from tests.doubles.fakeapis import EiaServer, Synth

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: quota-saturation}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [CISO, ERCO, ISNE, MISO, NYIS, PJM, SWPP]
  window: {start: 2024-01-01, end: 2024-12-31}
  concurrency: 4
  validation: {checks: [schema], threshold: 0.5}
"""


def main() -> int:
    os.environ.setdefault("EIA_API_KEY", "bench-key")
    with tempfile.TemporaryDirectory() as tmp, EiaServer(data=Synth(seed=5), quota={"per_second": 5},
                                                          until=1_800_000_000) as srv:
        folder = Path(tmp)
        (folder / "aurumplan.yaml").write_text(
            "state: sqlite:///state.db\nwarehouse: sqlite:///wh.db\nsources:\n  eia:\n"
            f"    base_url: {srv.base_url}\n    quota: {{per_second: 5, per_hour: null}}\n    headroom: 0.8\n")
        (folder / "spec.yaml").write_text(SPEC)
        ctx = api.context(folder / "aurumplan.yaml", folder)
        planned = api.plan(folder / "spec.yaml", ctx)
        planned_requests = planned.plan["estimates"]["requests"]
        start = time.perf_counter()
        result = api.apply_plan(planned.plan, ctx)
        elapsed = time.perf_counter() - start
        bound = 1.10 * planned_requests / (0.8 * 5)
        first = min(e.time for e in srv.log)
        last = max(e.time for e in srv.log)
        print(f"planned requests {planned_requests}, made {srv.requests}, 429s {srv.throttled}, "
              f"status {result.status}, records {result.counters.records}")
        print(f"apply took {elapsed:.2f}s (requests spread over {last - first:.2f}s); "
              f"bound 1.10 x {planned_requests}/(0.8 x 5) = {bound:.2f}s")
        ok = srv.requests == planned_requests and srv.throttled == 0 and elapsed <= bound
        print("goal:", "met" if ok else "NOT met")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
