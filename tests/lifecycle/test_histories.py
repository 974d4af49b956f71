"""Random operation histories (hypothesis stateful), invariants after every step, SQLite and PostgreSQL.

CI size: 200 histories on SQLite, 50 on PostgreSQL, derandomized (the same histories every run).
Long run: AURUMPLAN_HISTORIES=2000 (SQLite; PostgreSQL gets a tenth, at least 50) with a random seed
printed at the start, or AURUMPLAN_HISTORIES_SEED=N to repeat one; AURUMPLAN_HISTORY_STEPS sets the
steps per history (default 6). CI does not shrink a failing history (its assertion prints every
step); long runs do, AURUMPLAN_HISTORIES_SHRINK=0|1 overrides.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.lifecycle.machine import LifecycleMachine
from tests.lifecycle.world import start_server
from tests.state.dburl import pg_schema_url, pg_unreachable

HISTORIES = int(os.environ.get("AURUMPLAN_HISTORIES", "200"))
STEPS = int(os.environ.get("AURUMPLAN_HISTORY_STEPS", "6"))
SEED = os.environ.get("AURUMPLAN_HISTORIES_SEED")
LONG = "AURUMPLAN_HISTORIES" in os.environ or SEED is not None
SHRINK = os.environ.get("AURUMPLAN_HISTORIES_SHRINK", "1" if LONG else "0") == "1"
TIMEOUT = 0 if LONG else 900  # CI: well above the ~3 min the histories take on a 2-core machine


def _settings(n: int) -> settings:
    return settings(max_examples=n, stateful_step_count=STEPS, deadline=None, derandomize=not LONG,
                    database=None, print_blob=True,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if SHRINK else [])],
                    suppress_health_check=list(HealthCheck))


def _run(machine: type[LifecycleMachine], n: int) -> None:
    if LONG:
        seed = int(SEED) if SEED is not None else random.randrange(1 << 32)
        print(f"\nlifecycle histories: {n}, seed {seed} (repeat with AURUMPLAN_HISTORIES_SEED={seed})")
        machine._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    # every history takes all its steps (hypothesis would otherwise end most of them after 1-3 steps)
    run_state_machine_as_test(machine, settings=_settings(n), _min_steps=STEPS)


def _sqlite_urls(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'aurum.db'}"


def _pg_urls(folder: Path) -> Iterator[str]:
    yield from pg_schema_url()


@pytest.mark.timeout(TIMEOUT)
def test_histories_sqlite() -> None:
    srv = start_server(seed=21)
    try:
        machine = type("SqliteHistory", (LifecycleMachine,), {"server": srv, "db_urls": staticmethod(_sqlite_urls)})
        _run(machine, HISTORIES)
    finally:
        srv.stop()


@pytest.mark.postgres
@pytest.mark.timeout(TIMEOUT)
def test_histories_postgres() -> None:
    reason = pg_unreachable()
    if reason is not None:
        pytest.fail(f"PostgreSQL unreachable: {reason}", pytrace=False)
    srv = start_server(seed=22)
    try:
        machine = type("PgHistory", (LifecycleMachine,), {"server": srv, "db_urls": staticmethod(_pg_urls)})
        _run(machine, max(50, HISTORIES // 10))
    finally:
        srv.stop()
