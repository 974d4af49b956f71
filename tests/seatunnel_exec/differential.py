"""The differential check: a spec applied by a SeaTunnel executor must leave observations_current exactly
as the local executor leaves it. Shared by tests/seatunnel_exec/test_differential.py (fake SeaTunnel)
and bench/seatunnel_differential.py (a real SeaTunnel install); docs/seatunnel.md describes both.

Every source is served by its local fake API (real HTTP, keys checked: EIA and FRED query keys, BLS in
the POST body, NOAA in the `token` header, PJM in a subscription header) from one seeded Synth with
value markers and holes. The cases cover facet selections that are a strict subset of what the API
serves, several pages per request, empty responses, markers, and the shipped example specs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner

from aurumplan.cli.main import cli
from aurumplan.intervals import parse_ts
from aurumplan.warehouse.schema import current_select
from tests.doubles.fakeapis import (
    ABSENT,
    MISSING,
    BlsServer,
    EiaServer,
    FakeServer,
    FredServer,
    NoaaServer,
    PjmServer,
    Synth,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEYS = {"EIA_API_KEY": "eia-diff-key-01", "FRED_API_KEY": "fred0diff0key0000000000000000001",
        "BLS_API_KEY": "bls-diff-key-01", "NOAA_TOKEN": "noaa-diff-token-01", "ISO_API_KEY": "iso-diff-key-01"}
UNTIL = parse_ts("2025-01-01")
# source name in aurumplan.yaml -> the key variable its fake checks
SOURCES = {"eia": "EIA_API_KEY", "fred": "FRED_API_KEY", "cpi": "BLS_API_KEY", "noaa": "NOAA_TOKEN",
           "iso": "ISO_API_KEY"}


def synth() -> Synth:
    """The data every run sees: seeded values plus markers and holes where the cases look."""
    data = Synth(seed=19)
    for series, hour in (("PJM.D", "2024-01-02T05"), ("ERCO.D", "2024-01-02T06")):
        data.override("eia", "electricity/rto/region-data", series, hour, MISSING)
    data.override("eia", "electricity/rto/region-data", "ERCO.D", "2024-01-02T07", "W")  # withheld marker
    data.override("eia", "electricity/rto/region-data", "PJM.D", "2024-01-02T08", ABSENT)
    data.override("eia", "electricity/rto/fuel-type-data", "PJM.NG", "2024-01-03T01", MISSING)
    data.override("fred", "series/observations", "UNRATE", "2020-04-01", MISSING)
    data.override("bls", "timeseries/data", "CUUR0000SA0", "2019-03-01", MISSING)
    data.override("noaa", "GHCND", "GHCND:USW00094728.TMAX", "2024-02-10", MISSING)
    data.override("pjm", "hrl_load_metered", "AEPAPT", "2024-01-05T10:00:00", ABSENT)
    return data


@contextlib.contextmanager
def servers(host: str = "127.0.0.1") -> Iterator[dict[str, FakeServer]]:
    """One fake API per source, keys enforced, no quota (the check is about data, not pacing)."""
    data = synth()
    until_day = dt.date(2024, 12, 31)
    fakes: dict[str, FakeServer] = {
        "eia": EiaServer(data=data, quota=None, api_key=KEYS["EIA_API_KEY"], until=UNTIL, host=host),
        "fred": FredServer(data=data, quota=None, api_key=KEYS["FRED_API_KEY"], until=until_day, host=host),
        "cpi": BlsServer(data=data, quota=None, api_key=KEYS["BLS_API_KEY"], until=until_day, host=host),
        "noaa": NoaaServer(data=data, quota=None, api_key=KEYS["NOAA_TOKEN"], until=until_day, host=host),
        "iso": PjmServer(data=data, quota=None, api_key=KEYS["ISO_API_KEY"], until=UNTIL, host=host),
    }
    with contextlib.ExitStack() as stack:
        for fake in fakes.values():
            stack.enter_context(fake)
        yield fakes


@dataclass(frozen=True)
class Case:
    """A spec to apply, and the source settings it runs under (e.g. a small page to force paging)."""

    name: str
    spec: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    before: str | None = None  # applied first with executor local (what a Replay replays)


def _backfill(name: str, source: str, datasets: str, series: str, start: str, end: str, extra: str = "") -> str:
    return (f"apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {{name: {name}, reason: differential}}\n"
            f"spec:\n  source: {source}\n  datasets: [{datasets}]\n" + (f"  series: [{series}]\n" if series else "")
            + f"  window: {{start: {start}, end: {end}}}\n  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.05s}}\n"
            f"  validation: {{threshold: 0.0, onFailure: warn}}\n{extra}")


CASES = [
    # two of the twelve respondents, with NA, a withheld "W" and a missing hour: one page when the facets reach the API
    Case("eia-facet-subset", _backfill("eia-subset", "eia", "ELEC.DEMAND", "PJM, ERCO", "2024-01-01", "2024-01-04")),
    # respondent x fueltype facets, a strict subset of both, three offset pages of 100 rows per request
    Case("eia-multi-facet-pages", _backfill("eia-pages", "eia", "ELEC.GEN", "PJM.NG, MISO.COL", "2024-01-02",
                                            "2024-01-07"), {"eia": {"limits": {"max_rows": 100}}}),
    # a window after the API's last hour: every page is empty
    Case("eia-empty", _backfill("eia-empty", "eia", "ELEC.DEMAND", "PJM", "2025-02-01", "2025-02-03")),
    Case("fred", _backfill("fred", "fred", "UNRATE, CPIAUCSL", "", "2019-01-01", "2021-12-31")),
    Case("bls-post-bodies", _backfill("bls", "cpi", "CPIU", "CUUR0000SA0, CUUR0000SA0L1E", "2018-01-01",
                                      "2020-12-31")),
    Case("noaa-token", _backfill("noaa", "noaa", "GHCND.TMAX", "GHCND:USW00094728.TMAX, GHCND:USW00023174.TMAX",
                                 "2024-01-01", "2024-03-31")),
    Case("pjm", _backfill("pjm", "iso", "PJM.LOAD", "AEPAPT, DOM", "2024-01-01", "2024-01-10")),
]
# every shipped example; replay-schema migrates stored rows in-process (apply/migrate.py), whatever the executor
EXAMPLE_SPECS = ["quickstart.yaml", "backfill-eia.yaml", "backfill-fred.yaml", "backfill-cpi.yaml",
                 "backfill-noaa.yaml", "backfill-iso.yaml", "reprocess-hours.yaml", "replay-eia.yaml",
                 "replay-schema.yaml", "backfill-eia-price.yaml", "reprocess-failed.yaml",
                 "reprocess-timezone.yaml"]
BEFORE = {  # what a Replay example replays: loaded first, by the local executor
    "replay-eia.yaml": _backfill("before", "eia", "ELEC.DEMAND", "", "2024-01-10", "2024-01-12"),
    "replay-schema.yaml": _backfill("before", "eia", "ELEC.PRICE", "", "2023-01-01", "2024-12-31"),
}
# a Replay whose fetched records go through Python (transform:) cannot run inside SeaTunnel: refused plainly
TRANSFORM = "def transform(record):\n    return record\n"
REFUSED = {"replay-transform": (Case("replay-transform", (EXAMPLES / "replay-eia.yaml").read_text()
                                     + "  transform: keep.py\n", before=BEFORE["replay-eia.yaml"]),
                                "cannot run inside SeaTunnel")}


def example_cases() -> list[Case]:
    return [Case(f"example-{name[:-5]}", (EXAMPLES / name).read_text(), before=BEFORE.get(name))
            for name in EXAMPLE_SPECS]


def write_project(folder: Path, db: str, fakes: dict[str, FakeServer], executor: str, seatunnel: dict[str, Any],
                  settings: dict[str, dict[str, Any]], advertise: str | None = None) -> Path:
    """aurumplan.yaml with every source on its fake (reached as `advertise` when given); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"state: '{db}'", f"warehouse: '{db}'", f"executor: {executor}", f"seatunnel: {json.dumps(seatunnel)}",
             "sources:"]
    for name, fake in fakes.items():
        url = fake.base_url if advertise is None else re.sub(r"//[^:/]+:", f"//{advertise}:", fake.base_url, count=1)
        lines += [f"  {name}:", f"    base_url: {url}", "    quota: {per_second: 1000}"]
        lines += [f"    {key}: {json.dumps(value)}" for key, value in settings.get(name, {}).items()]
    config = folder / "aurumplan.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def prepare(config: Path, case: Case) -> None:
    """Load what the case's spec works on, with the local executor (same state and warehouse)."""
    if case.before is None:
        return
    text = config.read_text()
    local = config.with_name("aurumplan-local.yaml")
    local.write_text(re.sub(r"^executor: .*$", "executor: local", text, flags=re.MULTILINE))
    code, output = apply(local, case.before, "before")
    if code != 0:
        raise AssertionError(f"loading what {case.name} needs failed:\n{output}")


def apply(config: Path, spec_text: str, name: str) -> tuple[int, str]:
    """`aurumplan apply SPEC --auto-approve` in-process; (exit code, output)."""
    spec = config.parent / f"{name}.yaml"
    spec.write_text(spec_text)
    if "failedRecords:" in spec_text or "migration:" in spec_text:
        for sub in ("failed", "transforms"):
            src = EXAMPLES / sub
            if src.is_dir() and not (config.parent / sub).exists():
                shutil.copytree(src, config.parent / sub)
    res = CliRunner().invoke(cli, ["--config", str(config), "apply", str(spec), "--auto-approve"])
    return res.exit_code, res.output


Row = tuple[str, str, str, dt.datetime, float | None, str | None, str | None]


def current(db: str) -> set[Row]:
    """observations_current without load ids (they differ by design between runs)."""
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return {(r.source, r.dataset, r.series_id, r.period, r.value, r.unit, r.attributes)
                    for r in conn.execute(current_select)}
    finally:
        engine.dispose()


def describe(expected: set[Row], got: set[Row], limit: int = 6) -> str:
    """A short account of how two observations_current contents differ."""
    missing, extra = sorted(expected - got, key=str), sorted(got - expected, key=str)
    return (f"{len(expected)} rows expected, {len(got)} got; {len(missing)} missing, e.g. {missing[:limit]}; "
            f"{len(extra)} unexpected, e.g. {extra[:limit]}")
