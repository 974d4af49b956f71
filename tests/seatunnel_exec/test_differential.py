"""seatunnel-cli and seatunnel-rest load exactly what the local executor loads, for every source and example.

Each case is applied once with executor local (the reference, on SQLite) and then with each SeaTunnel
executor on SQLite and PostgreSQL, against the same fake APIs; observations_current must be identical
row for row (load ids aside). The fake engine follows SeaTunnel's code (docs/seatunnel.md), so a
difference is one a real SeaTunnel would show too. tests/seatunnel_exec/differential.py holds the cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.doubles.fakeapis import FakeServer
from tests.doubles.seatunnel import FakeZetaServer, install_fake_seatunnel
from tests.seatunnel_exec import differential as d

CASES = [*d.CASES, *d.example_cases()]
EXECUTORS = ["seatunnel-cli", "seatunnel-rest"]


@pytest.fixture(scope="module")
def env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for var, value in d.KEYS.items():
            mp.setenv(var, value)
        mp.delenv("AURUMPLAN_EXECUTOR", raising=False)
        yield


@pytest.fixture(scope="module")
def fakes(env: None) -> Iterator[dict[str, FakeServer]]:
    with d.servers() as running:
        yield running


# One cluster per test keeps each test's submissions apart; sharing one would also work (job ids carry a nonce,
# see test_rest_executor.test_two_projects_with_the_same_operation_never_collide_on_one_cluster).
@pytest.fixture
def zeta() -> Iterator[FakeZetaServer]:
    with FakeZetaServer() as server:
        yield server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "seatunnel"
    install_fake_seatunnel(folder)
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, FakeServer]) -> dict[str, Any]:
    """case name -> (exit code, observations_current) under executor local, computed once."""
    cache: dict[str, Any] = {}

    def get(case: d.Case) -> tuple[int, set[d.Row]]:
        if case.name not in cache:
            folder = tmp_path_factory.mktemp(f"local-{case.name}")
            db = f"sqlite:///{folder / 'local.db'}"
            config = d.write_project(folder, db, fakes, "local", {}, case.settings)
            d.prepare(config, case)
            code, output = d.apply(config, case.spec, case.name)
            cache[case.name] = (code, d.current(db), output)
        return cache[case.name]

    return {"get": get}


def _seatunnel(executor: str, home: Path, zeta: FakeZetaServer) -> dict[str, Any]:
    if executor == "seatunnel-rest":
        return {"rest_url": zeta.base_url, "poll_interval": 0.05}
    return {"home": str(home), "poll_interval": 0.05}


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_seatunnel_equals_local(case: d.Case, executor: str, db_url: str, tmp_path: Path,
                                fakes: dict[str, FakeServer], reference: dict[str, Any], home: Path,
                                zeta: FakeZetaServer) -> None:
    code, expected, output = reference["get"](case)
    assert code == 0, f"the local reference run failed:\n{output}"
    config = d.write_project(tmp_path / "st", db_url, fakes, executor, _seatunnel(executor, home, zeta),
                             case.settings)
    d.prepare(config, case)
    got_code, got_output = d.apply(config, case.spec, case.name)
    assert got_code == 0, got_output
    got = d.current(db_url)
    assert got == expected, d.describe(expected, got)


def test_cases_cover_what_the_check_is_for(reference: dict[str, Any]) -> None:
    """Strict facet subsets, paging, empty responses and markers are really in the reference data."""
    by_case = {c.name: reference["get"](c)[1] for c in d.CASES}
    subset = by_case["eia-facet-subset"]
    assert {r[2] for r in subset} == {"PJM", "ERCO"} and len(subset) == 2 * 96 - 1  # one ABSENT hour
    assert sum(r[4] is None for r in subset) == 3 and any(r[6] and '"W"' in r[6] for r in subset)
    assert {r[2] for r in by_case["eia-multi-facet-pages"]} == {"PJM.NG", "MISO.COL"}
    assert len(by_case["eia-multi-facet-pages"]) == 2 * 6 * 24 > 2 * 100
    assert by_case["eia-empty"] == set()
    assert any(r[4] is None for r in by_case["fred"]) and any(r[4] is None for r in by_case["bls-post-bodies"])
    assert {r[2] for r in by_case["noaa-token"]} == {"GHCND:USW00094728.TMAX", "GHCND:USW00023174.TMAX"}
    examples = {c.name: reference["get"](c)[1] for c in d.example_cases()}
    assert all(examples.values()), [name for name, rows in examples.items() if not rows]
    # the fall-back day's repeated local hour: five UTC hours per load area for four local hours
    dst = examples["example-reprocess-timezone"]
    assert len({r[3] for r in dst}) == 5, sorted({r[3] for r in dst})


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("name", sorted(d.REFUSED))
def test_specs_seatunnel_cannot_run_are_refused_plainly(name: str, executor: str, tmp_path: Path,
                                                         fakes: dict[str, FakeServer], home: Path,
                                                         zeta: FakeZetaServer) -> None:
    case, message = d.REFUSED[name]
    db = f"sqlite:///{tmp_path / 'st.db'}"
    config = d.write_project(tmp_path / "st", db, fakes, executor, _seatunnel(executor, home, zeta), {})
    (config.parent / "keep.py").write_text(d.TRANSFORM)
    d.prepare(config, case)
    code, output = d.apply(config, case.spec, name)
    assert code != 0 and message in output
