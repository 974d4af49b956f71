"""`cost` and `trends` over operations recorded in the state with known figures."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from aurumplan.intervals import parse_ts
from aurumplan.state import open_state
from tests.apply.common import run

PRICES = "costs:\n  currency: EUR\n  per_1000_requests: {eia: 0.5}\n  per_gb: 0.1\n  per_hour: 2\n"
DEC = parse_ts("2024-12-10")


def add(store, op_id: str, kind: str, source: str, owner: str, status: str, at: float, **figures: float) -> None:
    store.create_operation(op_id, kind, source, owner=owner, now=at)
    summary = {"requests": 0, "records": 0, "bytes": 0, "throttles": 0, "retries": 0, "duration_seconds": 0.0,
               "failures": ["n1: boom"] if status == "failed" else [], **figures}
    store.update_operation(op_id, status=status, summary=summary)


@pytest.fixture()
def fleet(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path}/s.db"
    (tmp_path / "aurumplan.yaml").write_text(f"state: '{url}'\n{PRICES}")
    store = open_state(url)
    add(store, "B1", "Backfill", "eia", "alice", "succeeded", DEC, requests=2000, bytes=2e9, records=10,
        duration_seconds=3600)
    add(store, "R1", "Replay", "fred", "bob", "failed", DEC + 60, requests=500, bytes=1e9, records=5,
        duration_seconds=100, retries=50)
    add(store, "B0", "Backfill", "eia", "bob", "succeeded", parse_ts("2024-11-30"), requests=99)
    add(store, "C1", "Backfill", "cpi", "alice", "succeeded", DEC + 120, requests=250, cpu_seconds=4.25,
        duration_seconds=30)
    store.close()
    return tmp_path


def test_cost_groups_and_prices(fleet: Path) -> None:
    code, out, _ = run(fleet, "cost", "--range", "2024-12-01:2024-12-31", "--group-by", "kind", "--format", "json")
    assert code == 0
    data = json.loads(out)
    rows = {r["kind"]: r for r in data["rows"]}
    assert rows["Backfill"]["operations"] == 2 and rows["Backfill"]["requests"] == 2250
    assert rows["Backfill"]["cost"] == pytest.approx(2 * 0.5 + 2 * 0.1 + 1 * 2 + 30 / 3600 * 2)
    assert rows["Replay"]["cost"] == round(0 + 1 * 0.1 + 100 / 3600 * 2, 6)  # fred has no price: free
    assert data["total"]["requests"] == 2750 and data["currency"] == "EUR"
    # cpi's quota is 500 a day: 250 requests are half a quota-day; eia and fred have no daily quota
    assert rows["Backfill"]["quota_days"] == 0.5 and rows["Replay"]["quota_days"] == 0
    assert rows["Backfill"]["cpu_seconds"] == 4.25 and data["total"]["cpu_seconds"] == 4.25
    code, out, _ = run(fleet, "cost", "--range", "2024-12-01:2024-12-31", "--group-by", "owner", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["owner"] for r in table] == ["alice", "bob", "total"] and table[1]["requests"] == "500"
    assert table[0]["quota_days"] == "0.5" and table[0]["cpu_seconds"] == "4.25"
    code, out, _ = run(fleet, "cost", "--range", "2024-11-01:2024-12-31", "--group-by", "source")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["source", "operations", "requests"]
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["cpi", "1", "250"] and lines[2].split()[:3] == ["eia", "2", "2099"]
    assert lines[0].split()[5:8] == ["duration_seconds", "cpu_seconds", "quota_days"] and "(cost in EUR)" in out


def test_cost_without_prices_is_zero(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    (tmp_path / "aurumplan.yaml").write_text(f"state: '{url}'\n")
    store = open_state(url)
    add(store, "B1", "Backfill", "eia", "alice", "succeeded", DEC, requests=2000, bytes=2e9, duration_seconds=60)
    store.close()
    data = json.loads(run(tmp_path, "cost", "--range", "2024-12-01:2024-12-31", "--format", "json")[1])
    assert data["total"]["cost"] == 0 and data["total"]["requests"] == 2000


def test_bad_range_is_one_line(fleet: Path) -> None:
    code, _, err = run(fleet, "cost", "--range", "last-week")
    assert code == 1 and err.startswith("Error: invalid --range 'last-week'") and len(err.splitlines()) == 1
    code, _, err = run(fleet, "trends", "--range", "2024-12-31:2024-12-01")
    assert code == 1 and "END is before START" in err


def test_trends_avg_p95_error_rate_throughput(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    (tmp_path / "aurumplan.yaml").write_text(f"state: '{url}'\n")
    store = open_state(url)
    for i in range(1, 21):
        add(store, f"B{i}", "Backfill", "eia", "a", "failed" if i == 20 else "succeeded", DEC + i,
            requests=10, records=100, duration_seconds=float(i), retries=1)
    add(store, "F1", "Backfill", "fred", "a", "succeeded", DEC, requests=1, duration_seconds=5)
    store.close()
    code, out, _ = run(tmp_path, "trends", "--range", "2024-12-01:2024-12-31", "--json", "--source", "eia")
    assert code == 0
    [row] = json.loads(out)["rows"]
    assert row["operations"] == 20 and row["avg_duration_seconds"] == 10.5 and row["p95_duration_seconds"] == 19
    assert row["error_rate"] == 0.05 and row["retry_rate"] == 0.1
    assert row["records_per_second"] == round(2000 / 210, 3)
    code, out, _ = run(tmp_path, "trends", "--range", "2024-12-01:2024-12-31")
    assert code == 0 and [line.split()[1] for line in out.splitlines()[1:]] == ["eia", "fred"]
    code, out, _ = run(tmp_path, "trends", "--range", "7d")
    assert code == 0 and out.strip() == "No operations in the range."


def test_cost_of_a_real_apply_has_its_cpu_seconds_and_quota_days(applied: Path) -> None:
    op = json.loads(run(applied, "ops", "list", "--json")[1])[0]
    rep = json.loads(run(applied, "report", op["id"], "--json")[1])["figures"]
    total = json.loads(run(applied, "cost", "--range", "1d", "--format", "json")[1])["total"]
    assert 0 < rep["cpu_seconds"] == total["cpu_seconds"]
    assert total["quota_days"] == round(rep["requests"] / 5000, 4) > 0  # the project's eia quota is 5000 a day
