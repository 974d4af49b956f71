"""A project on SQLite whose eia source is a local fake API, and a finished backfill in it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apply.common import run
from tests.doubles.fakeapis import EiaServer, Synth

BACKFILL = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: {name}, owner: {owner}}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {{start: {start}, end: {end}}}
  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.05s}}
  validation: {{threshold: 0.5}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(folder: Path, base_url: str, extra: str = "", state: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder}/db.sqlite"
    (folder / "aurumplan.yaml").write_text(
        f"state: '{state or url}'\nwarehouse: '{url}'\nsources:\n  eia:\n    base_url: {base_url}\n"
        f"    quota: {{per_second: 1000, per_day: 5000}}\n{extra}")
    return folder


def spec(folder: Path, name: str = "b1", start: str = "2024-01-01", end: str = "2024-01-03",
         owner: str = "team-a") -> str:
    path = folder / f"{name}.yaml"
    path.write_text(BACKFILL.format(name=name, start=start, end=end, owner=owner))
    return str(path)


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=7), quota=None, until=1_900_000_000, api_key="test-key-abc") as srv:
        yield srv


@pytest.fixture()
def project(tmp_path: Path, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EIA_API_KEY", "test-key-abc")
    return write_project(tmp_path / "p", server.base_url)


@pytest.fixture()
def applied(project: Path) -> Path:
    """The project after one succeeded backfill."""
    code, out, err = run(project, "apply", spec(project), "--auto-approve")
    assert code == 0, out + err
    return project
