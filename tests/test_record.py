"""`aurumplan record` keeps a spec's responses (keys redacted) so the same spec applies offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aurumplan.cli.main import cli
from tests.doubles.fakeapis import EiaServer, Synth

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: rec}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO]
  window: {start: 2024-02-01, end: 2024-02-02}
"""


def test_record_then_apply_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "aurumplan.yaml").write_text("state: sqlite:///s.db\nwarehouse: sqlite:///w.db\n")
    monkeypatch.setenv("EIA_API_KEY", "rec-secret-77")
    with EiaServer(data=Synth(seed=3), until=1_900_000_000) as srv:
        monkeypatch.setenv("AURUMPLAN_EIA_BASE_URL", srv.base_url)
        res = CliRunner().invoke(cli, ["--config", str(tmp_path / "aurumplan.yaml"), "record",
                                       str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "rec")])
        assert res.exit_code == 0, res.output
        assert srv.requests == 1
    texts = [p.read_text() for p in (tmp_path / "rec").glob("*.json")]
    assert texts and not any("rec-secret-77" in t for t in texts)
    monkeypatch.delenv("EIA_API_KEY")
    monkeypatch.delenv("AURUMPLAN_EIA_BASE_URL")
    (tmp_path / "aurumplan.yaml").write_text(
        "state: sqlite:///s.db\nwarehouse: sqlite:///w.db\nsources:\n  eia:\n    base_url: http://127.0.0.1:9/v2\n"
        "    recordings: rec\n")
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "aurumplan.yaml"), "apply", str(tmp_path / "spec.yaml"),
                                   "--auto-approve"])
    assert res.exit_code == 0, res.output
    assert "Periods loaded 96" in res.stdout
