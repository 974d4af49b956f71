"""A writer whose lease was taken over can never commit (fencing tokens, state and warehouse)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from aurumplan import api
from aurumplan.apply.nodes import fence_scope
from aurumplan.errors import FencedError
from aurumplan.intervals import parse_ts
from aurumplan.state import open_state
from aurumplan.warehouse import LoadInfo, open_warehouse
from tests.apply.common import write_config
from tests.doubles.fakeapis import EiaServer, Synth

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: fenced}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM]
  window: {start: 2024-05-01, end: 2024-05-01}
  retries: {max: 0, backoff: 0.01s, maxBackoff: 0.05s}
  validation: {checks: [schema], threshold: 0.5}
"""


def test_taken_over_writer_cannot_commit(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    with EiaServer(data=Synth(seed=1), quota=None, until=1_900_000_000, delay=2.0) as srv:
        write_config(tmp_path, db_url, srv.base_url)
        (tmp_path / "spec.yaml").write_text(SPEC)
        ctx = api.context(tmp_path / "aurumplan.yaml", tmp_path)
        plan = api.plan(tmp_path / "spec.yaml", ctx).plan
        results: list[object] = []
        store = open_state(db_url)  # opened before the writer runs: no schema check under its write load
        wh = open_warehouse(db_url)
        writer = threading.Thread(target=lambda: results.append(api.apply_plan(plan, ctx)))
        writer.start()
        deadline = time.monotonic() + 10
        while not store.leases(active_only=True) and time.monotonic() < deadline:
            time.sleep(0.05)
        old = store.leases(active_only=True)
        assert old, "the writer never took its lease"
        for lease in old:  # the writer is "paused by the OS": an operator breaks its lease...
            store.break_lease(lease.id)
        start = parse_ts("2024-05-01")
        token = store.acquire_leases("BACKFILL_OTHER", [("eia", "ELEC.DEMAND", "PJM", start, start + 86400)],
                                     "other-host", 1)
        assert token > old[0].token
        # ...and the same ranges are committed by a writer holding the newer token
        wh.stage_load(LoadInfo("OTHER/1", "BACKFILL_OTHER", "eia", "ELEC.DEMAND", start, start + 86400, ("PJM",)))
        wh.write_batch("OTHER/1", [("eia", "ELEC.DEMAND", "PJM", start, 1.0, "MWh", None)])
        scope = fence_scope("eia", "ELEC.DEMAND", [("PJM", start, start + 86400)])  # the writer's range
        wh.commit(["OTHER/1"], fence=(scope, token))
        writer.join(timeout=60)
        result = results[0]
        assert result.status != "succeeded"  # type: ignore[attr-defined]
        current = list(wh.read_rows("eia", "ELEC.DEMAND"))
        assert [r.load_id for r in current] == ["OTHER/1"]
        with pytest.raises(FencedError):
            wh.commit([ld.load_id for ld in wh.loads_for_operation(plan["operation"]["id"])],
                      fence=(scope, old[0].token))
