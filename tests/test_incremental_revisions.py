"""Reprocess `incremental` selects by what the source says was revised (docs/replay.md, "Incremental").

FRED over real HTTP (the fake ALFRED in tests/doubles/fakeapis/fred.py): a backfill loads GDP, FRED
publishes revisions, and an incremental Reprocess plans only the revised quarters, each with the
vintage dates that chose it, then replaces exactly those values. A source without revision
information, or a field the source does not publish, is refused by `validate` at the field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurumplan.cli.main import cli
from aurumplan.compile.revisions import Revised, selections
from aurumplan.intervals import Grain, IntervalSet, fmt_ts, parse_ts
from aurumplan.warehouse import open_warehouse
from tests.doubles.fakeapis import FredServer, Synth

KEY = "fred-test-key-0042"
TODAY = dt.date(2024, 12, 20)  # the fake's today: 2024 Q3 is out (2024-10-01), Q4 is not
REVISED = {"2024-09-26": {"2023-10-01": 1.0},                                   # before `since`: not chosen
           "2024-11-13": {"2024-04-01": 2.0, "2024-07-01": 3.0},
           "2024-12-11": {"2024-07-01": 4.0}}

BACKFILL = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: gdp, reason: "GDP for the model"}
spec:
  source: fred
  datasets: [GDP]
  window: {start: 2020-01-01, end: 2024-09-30}
"""

INCREMENTAL = """\
apiVersion: aurumplan/v1
kind: Reprocess
metadata: {name: gdp-revisions, reason: "Pick up BEA revisions"}
spec:
  source: fred
  datasets: [GDP]
  incremental:
    field: FIELD
    since: 2024-11-01
  validation: {threshold: 0.0}
"""


@pytest.fixture()
def fred() -> Iterator[FredServer]:
    with FredServer(api_key=KEY, until=TODAY, quota=None, data=Synth(seed=0),
                    revisions={"GDP": REVISED}) as srv:
        yield srv


@pytest.fixture()
def project(tmp_path: Path, fred: FredServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FRED_API_KEY", KEY)
    (tmp_path / "aurumplan.yaml").write_text(
        "state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\n"
        f"sources:\n  fred:\n    base_url: {fred.base_url}\n    quota: {{per_second: 1000}}\n")
    (tmp_path / "backfill.yaml").write_text(BACKFILL)
    (tmp_path / "incremental.yaml").write_text(INCREMENTAL.replace("FIELD", "realtime_start"))
    return tmp_path


def run(project: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--config", str(project / "aurumplan.yaml"), *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def gdp(project: Path) -> dict[str, float]:
    with open_warehouse(f"sqlite:///{project / 'warehouse.db'}") as wh:
        return {fmt_ts(r.period)[:10]: r.value for r in wh.read_rows("fred", "GDP")}


def actions(plan: dict[str, Any]) -> list[tuple[str, list[Any], str]]:
    (ds,) = plan["datasets"]
    return [(a["action"], a["intervals"], a["reason"]) for a in ds["actions"]]


@pytest.mark.parametrize(("source", "dataset", "field", "message"), [
    ("fred", "GDP", "last_updated",
     "spec.incremental.field: fred publishes no revision field 'last_updated'; it publishes realtime_start: "
     "name that, or use a window instead"),
    ("fred", "GDP", "realtime_star",
     "spec.incremental.field: fred publishes no revision field 'realtime_star' (did you mean 'realtime_start'?); "
     "it publishes realtime_start: name that, or use a window instead"),
    ("eia", "ELEC.DEMAND", "realtime_start",
     "spec.incremental.field: eia publishes no revision field 'realtime_start'; it publishes none, so nothing "
     "says which records changed: use a window instead (timeRange, or window with datasets)"),
])
def test_validate_refuses_a_field_the_source_does_not_publish_at_its_position(
        project: Path, source: str, dataset: str, field: str, message: str) -> None:
    spec = project / "bad.yaml"
    spec.write_text(INCREMENTAL.replace("FIELD", field).replace("source: fred", f"source: {source}")
                    .replace("[GDP]", f"[{dataset}]"))
    code, _out, err = run(project, "validate", str(spec))
    assert code == 1
    assert err.strip().splitlines() == [f"{spec}:8:12: {message}"]
    code, _, err = run(project, "plan", str(spec))
    assert code == 1 and f"{spec}:8:12: " in err and "Traceback" not in err


def test_incremental_plans_only_the_revised_quarters_named_by_their_vintages_and_applies_them(
        project: Path, fred: FredServer) -> None:
    fred.until = dt.date(2024, 10, 15)  # the backfill ran before the November and December revisions
    assert run(project, "apply", str(project / "backfill.yaml"), "--auto-approve")[0] == 0
    fred.until = TODAY
    before = gdp(project)
    assert len(before) == 19  # 2020 Q1 .. 2024 Q3
    fred.reset_counters()
    code, out, err = run(project, "plan", str(project / "incremental.yaml"), "--json")
    assert code == 0, out + err
    assert actions(json.loads(out)) == [
        ("replace", [["2024-04-01T00:00Z", "2024-07-01T00:00Z"]],
         f"revised since 2024-11-01 (FRED vintage dates 2024-11-13); replaces load {load_of(out)}"),
        ("replace", [["2024-07-01T00:00Z", "2024-10-01T00:00Z"]],
         f"revised since 2024-11-01 (FRED vintage dates 2024-11-13, 2024-12-11); replaces load {load_of(out)}"),
    ]
    # What planning asked: the vintage dates since `since`, then the real-time rows from the day before
    # the first of them, over what is loaded.
    assert [(e.path, e.params.get("realtime_start"), e.params.get("realtime_end")) for e in fred.log] == [
        ("/fred/series/vintagedates", "2024-11-01", "9999-12-31"),
        ("/fred/series/observations", "2024-11-12", "2024-12-11"),
    ]
    assert fred.log[1].params["output_type"] == "1"
    assert (fred.log[1].params["observation_start"], fred.log[1].params["observation_end"]) == \
        ("2020-01-01", "2024-07-01")  # the first and the last loaded quarter
    # The saved plan is checked against its spec at apply time, which asks FRED again: same answer, applied.
    assert run(project, "plan", str(project / "incremental.yaml"), "-o", str(project / "plan.json"))[0] == 0
    code, out, err = run(project, "apply", str(project / "plan.json"), "--auto-approve")
    assert code == 0, out + err
    after = gdp(project)
    assert {p: v for p, v in after.items() if before[p] != v} == {"2024-04-01": 2.0, "2024-07-01": 4.0}


def load_of(plan_text: str) -> str:
    """The one load the backfill committed, as the plan names it."""
    (ds,) = json.loads(plan_text)["datasets"]
    return str(ds["actions"][0]["load_id"])


def test_nothing_loaded_asks_nothing_and_says_so(project: Path, fred: FredServer) -> None:
    code, out, err = run(project, "plan", str(project / "incremental.yaml"))
    assert code == 0, out + err
    assert "GDP: nothing of it is loaded, so an incremental refresh has nothing to refresh" in out + err
    assert fred.log == []


def test_nothing_revised_since_plans_nothing(project: Path, fred: FredServer) -> None:
    assert run(project, "apply", str(project / "backfill.yaml"), "--auto-approve")[0] == 0
    (project / "late.yaml").write_text(INCREMENTAL.replace("FIELD", "realtime_start")
                                       .replace("2024-11-01", "2024-12-12"))
    code, out, err = run(project, "plan", str(project / "late.yaml"), "--json")
    assert code == 0, out + err
    plan = json.loads(out)
    assert plan["datasets"] == [] and plan["summary"]["replace"] == 0
    assert any("changed nothing of it since 2024-12-12 (realtime_start)" in w for w in plan["warnings"])


def test_a_missing_key_fails_planning_in_one_line_without_a_request(
        project: Path, fred: FredServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(project, "apply", str(project / "backfill.yaml"), "--auto-approve")[0] == 0
    fred.reset_counters()
    monkeypatch.delenv("FRED_API_KEY")
    code, _out, err = run(project, "plan", str(project / "incremental.yaml"))
    assert code == 1
    assert "cannot ask fred which GDP observations changed since 2024-11-01" in err
    assert "FRED_API_KEY is empty" in err and "Traceback" not in err
    assert fred.log == []


def test_a_dataset_the_config_marks_without_revisions_is_refused_by_name(project: Path) -> None:
    """`revision_fields` per dataset in aurumplan.yaml narrows the source's: the spec names the dataset."""
    with (project / "aurumplan.yaml").open("a") as fh:
        fh.write("    datasets:\n      UNRATE: {revision_fields: []}\n")
    spec = project / "two.yaml"
    spec.write_text(INCREMENTAL.replace("FIELD", "realtime_start").replace("[GDP]", "[GDP, UNRATE]"))
    code, _out, err = run(project, "validate", str(spec))
    assert code == 1
    assert err.strip() == (f"{spec}:8:12: spec.incremental.field: fred publishes no revision field 'realtime_start' "
                           "for UNRATE; it publishes none, so nothing says which records changed: use a window "
                           "instead (timeRange, or window with datasets)")


def test_a_long_list_of_vintage_dates_is_shortened_in_the_reason() -> None:
    """A daily series revised on many days still gets one readable plan line per group of periods."""
    dates = tuple(f"2024-11-{d:02d}" for d in range(11, 19))
    day = parse_ts("2024-10-01")
    [(where, reason)] = selections(Revised("FRED vintage dates", {day: dates, day + 86400: dates}),
                                   "2024-11-01", Grain.DAILY)
    assert where == IntervalSet([(day, day + 2 * 86400)])
    assert reason == ("revised since 2024-11-01 (FRED vintage dates 2024-11-11, 2024-11-12, 2024-11-13, ..., "
                      "2024-11-17, 2024-11-18: 8 dates)")
