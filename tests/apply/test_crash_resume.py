"""kill -9 at several points of an apply, then resume: the same data as an uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurumplan.warehouse import open_warehouse
from tests.apply.common import write_config
from tests.doubles.fakeapis import EiaServer, Synth
from tests.state.dburl import pg_schema_url, pg_unreachable

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: crash}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  window: {start: 2024-01-01, end: 2024-01-31}
  concurrency: 2
  batchSize: 500
  retries: {max: 2, backoff: 0.01s, maxBackoff: 0.05s}
  validation: {threshold: 0.5}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=11), quota=None, until=1_900_000_000) as srv:
        yield srv


def make_project(folder: Path, url: str, server: EiaServer) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, url, server.base_url)
    (folder / "spec.yaml").write_text(SPEC)
    return folder


def cli(project: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EIA_API_KEY": "k"}
    env.pop("AURUMPLAN_CRASH_AT", None)
    if crash:
        env["AURUMPLAN_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "aurumplan.cli.main", "--config", str(project / "aurumplan.yaml"),
                           *args], capture_output=True, text=True, env=env, timeout=120)


def state_matches_warehouse(url: str, state_url: str | None = None) -> None:
    """No duplicate current row, and the watermarks name exactly the loads that are current."""
    eng = sa.create_engine(url)
    with eng.connect() as c:
        dup = c.execute(sa.text("SELECT COUNT(*) FROM (SELECT series_id, period FROM observations_current "
                                "GROUP BY series_id, period HAVING COUNT(*) > 1) d")).scalar()
        loads = {r[0] for r in c.execute(sa.text("SELECT DISTINCT load_id FROM observations_current"))}
    eng.dispose()
    eng = sa.create_engine(state_url or url)
    with eng.connect() as c:
        marks = {r[0] for r in c.execute(sa.text("SELECT DISTINCT load_id FROM watermarks"))}
    eng.dispose()
    assert dup == 0
    assert loads == marks


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
        return
    if pg_unreachable():
        pytest.fail("PostgreSQL unreachable", pytrace=False)
    gen_a, gen_b = pg_schema_url(), pg_schema_url()
    a, b = next(gen_a), next(gen_b)
    yield a, b
    for g in (gen_a, gen_b):
        with pytest.raises(StopIteration):
            next(g)


@pytest.mark.parametrize("point", ["after-batch:3", "before-staged", "before-commit",
                                   "after-warehouse-commit", "mid-watermarks"])
def test_kill_9_then_resume_gives_uninterrupted_result(point: str, urls: tuple[str, str], tmp_path: Path,
                                                       server: EiaServer) -> None:
    ref_url, crash_url = urls
    ref = make_project(tmp_path / "ref", ref_url, server)
    done = cli(ref, "apply", str(ref / "spec.yaml"), "--auto-approve")
    assert done.returncode == 0, done.stderr
    expected = open_warehouse(ref_url).current_checksum("eia")

    proj = make_project(tmp_path / "crash", crash_url, server)
    killed = cli(proj, "apply", str(proj / "spec.yaml"), "--auto-approve", crash=point)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    op_id = json.loads(cli(proj, "ops", "list", "--json").stdout)[0]["id"]
    resumed = cli(proj, "resume", op_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert open_warehouse(crash_url).current_checksum("eia") == expected
    state_matches_warehouse(crash_url)
    again = cli(proj, "plan", str(proj / "spec.yaml"), "--detailed-exitcode")
    assert again.returncode == 0, again.stdout


@pytest.fixture(params=["two-sqlite-files", pytest.param("postgresql-state", marks=pytest.mark.postgres)])
def split(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(state url, warehouse url) in different databases: no transaction can span both."""
    warehouse = f"sqlite:///{tmp_path / 'warehouse.db'}"
    if request.param == "two-sqlite-files":
        yield f"sqlite:///{tmp_path / 'state.db'}", warehouse
        return
    if pg_unreachable():
        pytest.fail("PostgreSQL unreachable", pytrace=False)
    gen = pg_schema_url()
    yield next(gen), warehouse
    with pytest.raises(StopIteration):
        next(gen)


@pytest.mark.parametrize("point", ["before-commit", "after-warehouse-commit", "mid-watermarks"])
def test_kill_9_with_state_and_warehouse_in_different_databases(point: str, split: tuple[str, str],
                                                                tmp_path: Path, server: EiaServer) -> None:
    ref = make_project(tmp_path / "ref", f"sqlite:///{tmp_path / 'ref.db'}", server)
    assert cli(ref, "apply", str(ref / "spec.yaml"), "--auto-approve").returncode == 0
    expected = open_warehouse(f"sqlite:///{tmp_path / 'ref.db'}").current_checksum("eia")
    state_url, warehouse_url = split
    proj = make_project(tmp_path / "crash", warehouse_url, server)
    (proj / "aurumplan.yaml").write_text((proj / "aurumplan.yaml").read_text().replace(
        f"state: '{warehouse_url}'", f"state: '{state_url}'"))
    killed = cli(proj, "apply", str(proj / "spec.yaml"), "--auto-approve", crash=point)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    op_id = json.loads(cli(proj, "ops", "list", "--json").stdout)[0]["id"]
    resumed = cli(proj, "resume", op_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert open_warehouse(warehouse_url).current_checksum("eia") == expected
    state_matches_warehouse(warehouse_url, state_url)
