"""The shared machinery: sliding-window quota, fault knobs, secret-free log, determinism, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from aurumplan.config import Quota
from aurumplan.intervals import parse_ts
from tests.doubles.fakeapis import EiaServer, SlidingWindowQuota, Synth

REGION = "/electricity/rto/region-data/data/"
PARAMS = {"api_key": "secret-key", "data[0]": "value", "facets[respondent][]": "PJM", "facets[type][]": "D",
          "start": "2024-01-01T00", "end": "2024-01-01T05"}
UNTIL = parse_ts("2025-01-01")


def test_sliding_window_quota_admits_again_as_the_window_slides() -> None:
    now = [0.0]
    q = SlidingWindowQuota({"per_second": 2, "per_minute": 3}, clock=lambda: now[0])
    assert [q.admit() for _ in range(2)] == [None, None]
    assert q.admit() == pytest.approx(1.0)
    now[0] = 0.5
    assert q.admit() == pytest.approx(0.5)
    now[0] = 1.2
    assert q.admit() is None
    assert q.admit() == pytest.approx(58.8)  # the minute window is now the full one
    now[0] = 60.01
    assert q.admit() is None


def test_config_quota_objects_are_accepted() -> None:
    assert SlidingWindowQuota(Quota(per_second=5, per_hour=5000)).windows == [(1.0, 5), (3600.0, 5000)]


def test_fail_next_malformed_and_delay() -> None:
    with EiaServer(until=UNTIL) as srv, httpx.Client(base_url=srv.base_url) as c:
        srv.fail_next(2)
        assert [c.get(REGION, params=PARAMS).status_code for _ in range(3)] == [500, 500, 200]
        srv.malformed_next()
        broken = c.get(REGION, params=PARAMS)
        assert broken.status_code == 200
        with pytest.raises(ValueError):
            broken.json()
        srv.delay_next(1, 0.5)
        with pytest.raises(httpx.ReadTimeout):
            c.get(REGION, params=PARAMS, timeout=0.1)
        assert srv.requests == 5 and srv.failed == 2


def test_log_keeps_params_but_never_the_key() -> None:
    with EiaServer(until=UNTIL) as srv:
        httpx.get(srv.base_url + REGION, params=PARAMS)
        httpx.get(srv.base_url + "/electricity/rto/region-data/", params=PARAMS)  # metadata: not counted
    assert srv.requests == 1 and len(srv.log) == 1
    entry = srv.log[0]
    assert entry.path == "/v2" + REGION and entry.status == 200
    assert entry.params["facets[respondent][]"] == "PJM" and "api_key" not in entry.params
    assert "secret-key" not in repr(srv.log)


def test_values_are_a_pure_function_of_seed_and_point() -> None:
    a, b, c = Synth(seed=1), Synth(seed=1), Synth(seed=2)
    points = [parse_ts("2024-01-01") + h * 3600 for h in range(48)]
    va = [a.value("eia", "electricity/rto/region-data", "PJM.D", t) for t in points]
    assert va == [b.value("eia", "electricity/rto/region-data", "PJM.D", t) for t in points]
    assert va != [c.value("eia", "electricity/rto/region-data", "PJM.D", t) for t in points]
    fast = a.series("eia", "electricity/rto/region-data", "PJM.D")
    assert [fast(t) for t in points] == va
    a.override("eia", "electricity/rto/region-data", "PJM.D", points[3], 1.5)
    assert a.value("eia", "electricity/rto/region-data", "PJM.D", points[3]) == 1.5
    a.clear()
    assert a.value("eia", "electricity/rto/region-data", "PJM.D", points[3]) == va[3]


def test_cli_prints_base_url_and_serves_until_terminated() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "tests.doubles.fakeapis", "eia", "--port", "0",
                             "--quota-per-second", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v2")
        assert httpx.get(base + REGION, params=PARAMS).json()["response"]["total"] == "6"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "requests=1" in err
