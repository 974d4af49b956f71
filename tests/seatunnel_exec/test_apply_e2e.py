"""`aurumplan apply` with executor seatunnel-cli / seatunnel-rest loads what executor local loads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurumplan.cli.main import cli
from aurumplan.warehouse import open_warehouse
from tests.doubles.fakeapis import EiaServer, Synth
from tests.doubles.seatunnel import FakeZetaServer, install_fake_seatunnel

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: t-backfill, owner: tests}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {start: 2024-01-01, end: 2024-01-03}
  retries: {max: 1, backoff: 0.01s, maxBackoff: 0.05s}
  validation: {threshold: 0.5}
"""


@pytest.fixture
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=7), quota=None, until=1_900_000_000) as srv:
        yield srv  # type: ignore[misc]


def apply(folder: Path, db: str, server: EiaServer, executor: str, seatunnel: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aurumplan.yaml").write_text(
        f"state: '{db}'\nwarehouse: '{db}'\nexecutor: {executor}\nseatunnel: {seatunnel}\n"
        f"sources:\n  eia:\n    base_url: {server.base_url}\n    quota: {{per_second: 1000}}\n")
    (folder / "backfill.yaml").write_text(SPEC)
    res = CliRunner().invoke(cli, ["--config", str(folder / "aurumplan.yaml"), "apply",
                                   str(folder / "backfill.yaml"), "--auto-approve"])
    assert res.exit_code == 0, res.stdout + (res.stderr or "")
    with open_warehouse(db) as wh:
        assert wh.count_current("eia", "ELEC.DEMAND") == 216
        return wh.current_checksum("eia", "ELEC.DEMAND")


@pytest.mark.parametrize("executor", ["seatunnel-rest", "seatunnel-cli"])
def test_apply_through_seatunnel_equals_local(executor: str, tmp_path: Path, db_url: str, server: EiaServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "test-key-abc")
    monkeypatch.delenv("AURUMPLAN_EXECUTOR", raising=False)
    expected = apply(tmp_path / "local", f"sqlite:///{tmp_path / 'local.db'}", server, "local", "{}")
    home = tmp_path / "seatunnel"
    install_fake_seatunnel(home)
    with FakeZetaServer() as zeta:
        st = (f"{{rest_url: '{zeta.base_url}', poll_interval: 0.05}}" if executor == "seatunnel-rest"
              else f"{{home: '{home}', poll_interval: 0.05}}")
        assert apply(tmp_path / "st", db_url, server, executor, st) == expected
        assert len(zeta.submissions) == (1 if executor == "seatunnel-rest" else 0)
