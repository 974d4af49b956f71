"""Where retrying cannot help, an apply stops in seconds with one clear line; throttles cost their pauses.

Every test runs a real apply (CLI, local executor, real HTTP over loopback) and times it from outside.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.apply.common import run, write_config
from tests.doubles.fakeapis import EiaServer, Synth
from tests.doubles.fakeapis.base import FakeResponse

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: edges}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {start: 2018-01-01, end: 2023-12-31}
  concurrency: 3
  retries: {max: 5, backoff: 2s, maxBackoff: 30s}
  validation: {checks: [schema], threshold: 0.5}
"""
KEY = "secret-key-4711"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def apply(folder: Path, base_url: str, monkeypatch: pytest.MonkeyPatch, key: str | None = KEY,
          quota: str = "{per_second: 1000}", retries: int = 5) -> tuple[int, str, float]:
    write_config(folder, f"sqlite:///{folder}/state.db", base_url, quota)
    (folder / "spec.yaml").write_text(SPEC.replace("max: 5,", f"max: {retries},"))
    if key is None:
        monkeypatch.delenv("EIA_API_KEY", raising=False)
    else:
        monkeypatch.setenv("EIA_API_KEY", key)
    start = time.monotonic()
    code, out, err = run(folder, "apply", str(folder / "spec.yaml"), "--auto-approve")
    elapsed = time.monotonic() - start
    logs = "".join(p.read_text() for p in (folder / ".aurumplan").rglob("*.jsonl")) \
        if (folder / ".aurumplan").exists() else ""
    return code, out + err + logs, elapsed


@pytest.mark.parametrize("base_url, words", [
    (f"http://127.0.0.1:{closed_port()}/v2", "connection refused"),
    ("http://no-such-host.invalid/v2", "cannot connect"),
    ("htp://127.0.0.1/v2", "not a valid http(s) URL"),
])
def test_no_network_fails_in_seconds_naming_source_url_and_config_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_url: str, words: str) -> None:
    code, text, elapsed = apply(tmp_path, base_url, monkeypatch)
    assert code != 0
    assert elapsed < 10, elapsed
    assert words in text and "source 'eia'" in text and "sources.eia.base_url" in text
    assert KEY not in text and "internal error" not in text


def test_missing_key_fails_before_the_first_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EiaServer(data=Synth(seed=2), api_key=KEY, until=1_900_000_000) as srv:
        code, text, elapsed = apply(tmp_path, srv.base_url, monkeypatch, key=None)
    assert code != 0 and elapsed < 10
    assert "EIA_API_KEY" in text
    assert srv.requests == 0


def test_rejected_key_is_found_once_for_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EiaServer(data=Synth(seed=2), api_key=KEY, until=1_900_000_000) as srv:
        code, text, elapsed = apply(tmp_path, srv.base_url, monkeypatch, key="wrong-key-0815")
    assert code != 0 and elapsed < 10
    assert "EIA_API_KEY" in text and "wrong-key-0815" not in text and KEY not in text
    assert 1 <= srv.requests <= 3  # the workers that started together; no node after them sends anything


class ThrottleBurst(EiaServer):
    """Answers the next n requests with 429 and Retry-After: 1, then serves normally."""

    def server_error(self, status: int) -> FakeResponse:
        return self.throttle_response(1.0) if status == 429 else super().server_error(status)


def test_a_429_burst_costs_little_more_than_the_pauses_it_asked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ThrottleBurst(data=Synth(seed=2), api_key=KEY, until=1_900_000_000, quota=None, retry_after=True) as srv:
        code, _, clean = apply(tmp_path / "clean", srv.base_url, monkeypatch, quota="{per_second: 5}")
        assert code == 0 and srv.throttled == 0
        srv.reset_counters()
        srv.fail_next(7, status=429)
        # all seven may reach one node when the other workers lag (a busy machine): 8 attempts outlast them
        code, text, throttled = apply(tmp_path / "burst", srv.base_url, monkeypatch, quota="{per_second: 5}",
                                      retries=7)
    assert code == 0, text[-2000:]
    assert srv.failed == 7
    # seven answers asked for 1 s each; workers overlap, so at most 7 s of pauses, plus a few seconds
    assert throttled - clean <= 7 * 1.0 + 4.0, (clean, throttled)




def test_a_route_the_api_does_not_know_stops_the_node_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EiaServer(data=Synth(seed=2), api_key=KEY, until=1_900_000_000) as srv:
        code, text, elapsed = apply(tmp_path, srv.origin + "/no-such-prefix", monkeypatch)
        requests = srv.requests
    assert code != 0 and elapsed < 10
    assert "the API does not know this route" in text and "sources.eia.base_url" in text
    assert requests <= 3  # no retries of a 404: one per node at most
    assert KEY not in text


def test_messages_show_urls_without_query_or_credentials() -> None:
    from aurumplan.executors.http import public_url

    assert public_url("https://user:pw@api.eia.gov/v2/x?api_key=SECRET&a=1") == "https://api.eia.gov/v2/x"
    assert "SECRET" not in public_url("ht!tp://bad url?api_key=SECRET")
