"""A controlled rollback's score before the switch describes the version it replaces, although it is computed
while the switch runs (apply/quality_gate.scoring_current)."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from aurumplan import api
from aurumplan.apply import quality_gate
from aurumplan.warehouse import Warehouse
from tests.quality_cli.conftest import REPLAY, Project

PERIOD = "2024-01-02T05:00Z"


def test_the_score_before_is_read_in_a_snapshot_taken_before_the_switch(backfilled: tuple[Project, str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = backfilled
    project.revise("PJM", PERIOD, 5_000_000)  # an outlier: the Replay's version scores lower
    op = project.apply(REPLAY, start="2024-01-02", end="2024-01-02", threshold=0.5)
    assert project.json("status", op, "--json")["status"] == "succeeded"

    switched = threading.Event()
    real_rollback, real_evaluate = Warehouse.rollback, quality_gate.evaluate
    read_after_switch: list[bool] = []

    def rollback(self: Warehouse, *args: Any, **kwargs: Any) -> list[str]:
        done = real_rollback(self, *args, **kwargs)
        switched.set()
        return done

    def evaluate(*args: Any, **kwargs: Any) -> Any:
        read_after_switch.append(switched.wait(30))  # the score before reads only once the switch committed
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(Warehouse, "rollback", rollback)
    monkeypatch.setattr(quality_gate, "evaluate", evaluate)
    interval = sys.getswitchinterval()
    summary = api.rollback_apply(op, api.context(project.root / "aurumplan.yaml", project.root))
    assert sys.getswitchinterval() == interval  # shortened only while it scored beside the switch

    assert read_after_switch == [True, True] and summary["loads_deactivated"] == 1
    before, after = summary["quality"]["before"]["ELEC.DEMAND"], summary["quality"]["after"]["ELEC.DEMAND"]
    assert before < after  # read after the switch without its snapshot, it was the restored version's score
    assert project.json("status", op, "--json")["status"] == "rolled_back"


def test_the_switch_interval_is_short_while_any_rollback_scores_and_restored_after_the_last() -> None:
    interval = sys.getswitchinterval()
    first = quality_gate._short_switches()
    first.__enter__()
    assert sys.getswitchinterval() == min(quality_gate.SWITCH_INTERVAL, interval)
    with quality_gate._short_switches():  # another rollback of the same process, overlapping
        assert sys.getswitchinterval() == min(quality_gate.SWITCH_INTERVAL, interval)
        first.__exit__(None, None, None)
        assert sys.getswitchinterval() == min(quality_gate.SWITCH_INTERVAL, interval)
    assert sys.getswitchinterval() == interval
