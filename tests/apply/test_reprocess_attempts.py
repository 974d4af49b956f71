"""A Reprocess's `maxAttempts` is the attempts per request apply makes (the first one included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apply.common import run, write_config
from tests.doubles.fakeapis import EiaServer, Synth

SPEC = """\
apiVersion: aurumplan/v1
kind: Reprocess
metadata: {{name: attempts, reason: maxAttempts test}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [CISO]
  date: 2024-01-02
  timezone: UTC
  {attempts}
  validation: {{checks: [schema], threshold: 0.5}}
"""


@pytest.fixture()
def server() -> Iterator[EiaServer]:
    with EiaServer(data=Synth(seed=5), quota=None, until=1_900_000_000) as srv:
        yield srv


def apply(tmp_path: Path, server: EiaServer, attempts: str) -> tuple[int, str]:
    proj = tmp_path / "p"
    write_config(proj, f"sqlite:///{tmp_path / 'db.sqlite'}", server.base_url)
    (proj / "spec.yaml").write_text(SPEC.format(attempts=attempts))
    code, out, err = run(proj, "apply", str(proj / "spec.yaml"), "--auto-approve")
    return code, out + err


@pytest.mark.parametrize(("max_attempts", "failures", "code"), [(1, 1, 1), (2, 1, 0), (3, 2, 0), (3, 3, 1)])
def test_max_attempts_is_the_number_of_tries_per_request(tmp_path: Path, server: EiaServer,
                                                         monkeypatch: pytest.MonkeyPatch, max_attempts: int,
                                                         failures: int, code: int) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    server.fail_next(failures, status=503)
    got, out = apply(tmp_path, server, f"maxAttempts: {max_attempts}\n  retries: {{backoff: 0.01s, maxBackoff: 0.02s}}")
    assert got == code, out
    assert server.failed == min(failures, max_attempts)
    assert server.requests - server.failed == (1 if code == 0 else 0)  # one data request, once it succeeds


def test_max_attempts_and_retries_max_that_disagree_are_refused_at_the_field(
        tmp_path: Path, server: EiaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EIA_API_KEY", "k")
    code, out = apply(tmp_path, server, "maxAttempts: 5\n  retries: {max: 1}")
    assert code == 1
    assert "spec.yaml:10:" in out and "maxAttempts 5 and retries.max 1 disagree" in out
    assert server.requests == 0
