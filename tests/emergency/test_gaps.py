"""`gaps` counts what a quarantine hides as missing, names the quarantine, and forgets it once refilled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurumplan.intervals import fmt_ts
from tests.apply.common import run
from tests.doubles.fakeapis import EiaServer, Synth
from tests.emergency.test_damage import CORRUPT, HOUR, SEED, loaded

LOADED = {"CISO", "ERCO", "PJM"}

REPLAY = """\
apiVersion: aurumplan/v1
kind: Replay
metadata: {name: fix-ciso, reason: upstream fixed}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [CISO]
  window: {start: 2024-01-10, end: 2024-01-12}
  type: correction
  validation: {onFailure: warn}  # the gate is not under test here
"""


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=SEED), quota=None, until=1_900_000_000) as srv:
        yield srv


def gaps(proj: Path) -> list[dict[str, object]]:
    """The gaps of the three loaded series (the catalog's other series were never loaded)."""
    code, out, err = run(proj, "gaps", "--source", "eia", "--window", "2024-01-01:2024-01-31", "--json")
    assert code == 0, out + err
    rows: list[dict[str, object]] = json.loads(out)
    return [r for r in rows if r["dataset"] == "ELEC.DEMAND" and LOADED & set(r["series"])]  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["strict", "flag"])
def test_gaps_lists_quarantined_periods_until_refilled_or_released(tmp_path: Path, db_url: str, server: EiaServer,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    mode: str) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    proj, _ = loaded(tmp_path, db_url, server)
    assert gaps(proj) == []
    report = proj / "damage.json"
    assert run(proj, "scan", "--source", "eia", "--checks", "accuracy", "-o", str(report))[0] == 0
    code, out, err = run(proj, "quarantine", str(report), "--mode", mode)
    assert code == 0, out + err
    qid = out.split(":")[0]

    def entry(sid: str) -> dict[str, object]:
        s, e = CORRUPT[sid]
        ivs = [[fmt_ts(s), fmt_ts(e)]]
        n = (e - s) // HOUR
        return {"dataset": "ELEC.DEMAND", "grain": "hourly", "series": [sid], "intervals": ivs, "periods": n,
                "ranges": 1, "quarantined": [{"quarantine_id": qid, "intervals": ivs, "periods": n}]}

    assert gaps(proj) == [entry("CISO"), entry("ERCO")]
    code, out, err = run(proj, "gaps", "--source", "eia", "--window", "2024-01-01:2024-01-31")
    assert code == 0 and f"36 quarantined by {qid}" in out and f"6 quarantined by {qid}" in out, out + err

    server.data.clear()  # upstream fixed: a Replay makes a newer CISO version current
    (proj / "fix.yaml").write_text(REPLAY)
    code, out, err = run(proj, "apply", str(proj / "fix.yaml"), "--auto-approve")
    assert code == 0, out + err
    assert gaps(proj) == [entry("ERCO")]

    assert run(proj, "release", qid)[0] == 0
    assert gaps(proj) == []
