"""The world a lifecycle history runs in: a fake EIA API with ground truth, a project, a database.

The ONE place that imports the fake APIs (tests/doubles/fakeapis, formerly aurumplan.testing.fakeapis).
The fake is wrapped, not edited: `FaultyEia` adds switchable faults (500 on some or all requests,
429s) and records every value it served, tagged with the step that was running, so the model knows
exactly what each operation was given.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurumplan import api
from tests.doubles.fakeapis import EiaServer, Synth  # the fake APIs' home (was aurumplan.testing.fakeapis)
from tests.doubles.fakeapis.base import FakeRequest, FakeResponse

HOUR = 3600
DATASET = "ELEC.DEMAND"
ROUTE = "electricity/rto/region-data"
SERIES = ("PJM", "MISO", "ERCO")
DAY0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAYS = 3  # histories touch 2024-01-01 .. 2024-01-03
API_KEY = "lifecycle-key"

Key = tuple[str, int]
"""(series, period start epoch seconds UTC)"""


def label_to_ts(label: str) -> int:
    """EIA hourly labels are hour-ending UTC: `2024-01-01T01` covers 00:00-01:00 and is stored as 00:00."""
    return int(dt.datetime.strptime(label, "%Y-%m-%dT%H").replace(tzinfo=dt.UTC).timestamp()) - HOUR


@dataclass
class Served:
    """One value answered with status 200: which step asked, for which key, what value."""

    step: int
    key: Key
    value: float | None


class FaultyEia(EiaServer):
    """EiaServer with switchable faults and a record of every served value.

    fault: None | "500-all" | "500-some" (half the requests, always the same) | "429-some" (every third).
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.fault: str | None = None
        self.fail_series: set[str] = set()
        self.in_flight = 0
        self.before_answer: Callable[[int], None] | None = None
        self.step = 0
        self.served: list[Served] = []
        self.statuses: list[int] = []
        self._n = 0
        self._rec = threading.Lock()

    def dispatch(self, req: FakeRequest) -> FakeResponse:
        with self._rec:
            self.in_flight += 1
            n = self.requests + 1
        try:
            resp = super().dispatch(req)
            if self.before_answer is not None and self.is_data_path(req):
                self.before_answer(n)  # e.g. a cancel arriving just before the client gets its rows
            return resp
        finally:
            with self._rec:
                self.in_flight -= 1

    def _answer(self, req: FakeRequest, fail: int | None) -> FakeResponse:
        with self._rec:
            self._n += 1
            n = self._n
        if fail is None and self._fails(req, n):
            fail = 500
        elif fail is None and self.fault == "429-some" and n % 3 == 0:
            resp = self.throttle_response(1.0)
            with self._rec:
                self.statuses.append(resp.status)
            return resp
        resp = super()._answer(req, fail)
        rows: list[Served] = []
        if resp.status == 200:
            body = json.loads(resp.body)
            for r in body["response"]["data"]:
                v = r.get("value")
                rows.append(Served(self.step, (r["respondent"], label_to_ts(r["period"])),
                                   None if v in (None, "NA") else float(v)))
        with self._rec:
            self.statuses.append(resp.status)
            self.served.extend(rows)
        return resp

    def _fails(self, req: FakeRequest, n: int) -> bool:
        """500 for a failing series, for every request ("500-all") or half of them ("500-some": the same
        half every time, by a hash of the request, so a retry fails too and a history replays the same)."""
        if set(req.all("facets[respondent][]")) & self.fail_series:
            return True
        some = zlib.crc32(repr(sorted(self.loggable_params(req).items())).encode()) % 2 == 0
        return self.fault == "500-all" or (self.fault == "500-some" and some)

    def revise(self, key: Key, delta: float) -> None:
        """Upstream revision: the API answers a different value for that period from now on."""
        series, ts = key
        cur = self.data.value("eia", ROUTE, f"{series}.D", ts)
        base = cur if isinstance(cur, int | float) else 0.0
        self.data.override("eia", ROUTE, f"{series}.D", ts, float(round(base + delta)))


def start_server(seed: int = 1) -> FaultyEia:
    srv = FaultyEia(data=Synth(seed=seed), quota=None, until=1_900_000_000, api_key=API_KEY)
    srv.start()
    return srv


@dataclass
class Project:
    """aurumplan.yaml with state and warehouse in one database, eia served by the fake."""

    folder: Path
    db_url: str
    server: FaultyEia
    ctx: api.Context = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "aurumplan.yaml").write_text(
            f"state: '{self.db_url}'\nwarehouse: '{self.db_url}'\nlogs: logs\nsources:\n  eia:\n"
            f"    base_url: {self.server.base_url}\n    quota: {{per_second: 1000}}\n"
            f"    datasets:\n      {DATASET}: {{limits: {{max_series: 1, max_span_days: 1}}}}\n")
        self.ctx = api.context(self.folder / "aurumplan.yaml", self.folder)

    @property
    def config(self) -> Path:
        return self.folder / "aurumplan.yaml"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    def cli(self, *args: str, crash: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`aurumplan --config ... ARGS` in a child process (kill -9 steps need one)."""
        env = {**os.environ, "EIA_API_KEY": API_KEY}
        env.pop("AURUMPLAN_CRASH_AT", None)
        if crash:
            env["AURUMPLAN_CRASH_AT"] = crash
        return subprocess.run([sys.executable, "-m", "aurumplan.cli.main", "--config", str(self.config), *args],
                              capture_output=True, text=True, env=env, timeout=timeout, cwd=self.folder)


def spec_text(kind: str, name: str, series: list[str], start_day: int, days: int, *,
              concurrency: int = 2, validation: str = "{checks: [schema], threshold: 0.0}", extra: str = "") -> str:
    """A small spec over hourly ELEC.DEMAND: `days` whole days from 2024-01-0<1+start_day>."""
    start = (DAY0 + dt.timedelta(days=start_day)).date().isoformat()
    end = (DAY0 + dt.timedelta(days=start_day + days - 1)).date().isoformat()
    reason = "  reason: lifecycle test\n" if kind != "Backfill" else ""
    if kind == "Reprocess":
        end_dt = (DAY0 + dt.timedelta(days=start_day + days)).strftime("%Y-%m-%dT%H:%M:%S")
        start_dt = (DAY0 + dt.timedelta(days=start_day)).strftime("%Y-%m-%dT%H:%M:%S")
        where = f"  timeRange: {{start: '{start_dt}', end: '{end_dt}'}}\n"
    else:
        where = f"  window: {{start: {start}, end: {end}}}\n"
    return (f"apiVersion: aurumplan/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{reason}"
            f"spec:\n  source: eia\n  datasets: [{DATASET}]\n  series: [{', '.join(series)}]\n{where}"
            f"  concurrency: {concurrency}\n  batchSize: 24\n"
            f"  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.02s}}\n"
            f"  validation: {validation}\n{extra}")
