"""Files a spec names: failure logs, migrations and transforms, and where they may live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aurumplan.catalog import load_catalog
from aurumplan.catalog.check import check_spec
from aurumplan.config import Config, SourceConfig
from aurumplan.errors import SpecError
from aurumplan.intervals import parse_ts
from aurumplan.spec.failures import FailedRecord, read_failure_log
from aurumplan.spec.loader import load_spec

EXAMPLES = Path(__file__).parents[2] / "examples"

REPLAY = """apiVersion: aurumplan/v1
kind: Replay
metadata: {name: r, reason: test}
spec:
  source: eia
  datasets: [ELEC.PRICE]
  window: {start: 2024-01-01, end: 2024-01-31}
"""

REPROCESS = """apiVersion: aurumplan/v1
kind: Reprocess
metadata: {name: r, reason: test}
spec:
  source: eia
  failedRecords: failed.jsonl
"""


def record(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "operation_id": "BACKFILL_20240201_EIA_3f9a1c", "source": "eia", "dataset": "ELEC.DEMAND",
        "series": ["PJM"], "interval": ["2024-01-03T00:00Z", "2024-01-03T06:00Z"],
        "request": {"params": {"frequency": "hourly"}}, "error": "HTTP 500", "attempts": 4,
        "at": "2024-02-01T10:00:00Z"}
    base.update(over)
    return base


def test_example_failure_log_reads() -> None:
    records = read_failure_log(EXAMPLES / "failed" / "failed_records_example.jsonl")
    assert [r.dataset for r in records] == ["ELEC.DEMAND", "ELEC.GEN"]
    assert records[0].interval == (parse_ts("2024-01-03T00:00Z"), parse_ts("2024-01-03T06:00Z"))
    assert records[0].series == ("PJM", "MISO")
    assert "api_key" not in json.dumps(records[0].request)


def test_failure_log_line_round_trips() -> None:
    rec = FailedRecord.model_validate(record())
    assert FailedRecord.model_validate(json.loads(rec.to_json_line())) == rec


def test_bad_failure_log_lines_are_numbered(tmp_path: Path) -> None:
    log = tmp_path / "failed.jsonl"
    lines = [json.dumps(record()), "{not json", "", json.dumps(record(interval=["2024-01-03T06:00Z",
                                                                              "2024-01-03T00:00Z"])),
             json.dumps([1, 2]), json.dumps(record(attempts="many"))]
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError) as err:
        read_failure_log(log)
    got = [(d.line, d.message.split(":")[0]) for d in err.value.diagnostics]
    assert got == [(2, "not a JSON object"), (4, "interval"), (5, "each line must be one JSON object"),
                   (6, "attempts")]


def test_spec_reports_bad_lines_of_its_failure_log(tmp_path: Path) -> None:
    (tmp_path / "failed.jsonl").write_text(json.dumps(record()) + "\n{oops\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(REPROCESS)
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    [d] = err.value.diagnostics
    assert (d.file, d.line, d.col) == (str((tmp_path / "failed.jsonl").resolve()), 2, 2)


def test_failure_log_of_another_source_is_refused(tmp_path: Path) -> None:
    (tmp_path / "failed.jsonl").write_text(json.dumps(record()) + "\n" + json.dumps(record(source="fred")) + "\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(REPROCESS)
    [d] = check_spec(load_spec(spec), load_catalog())
    assert d.line == 2 and "differs from the spec's source 'eia'" in d.message


def test_symlink_out_of_the_spec_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text("def transform(record):\n    return record\n")
    inside = tmp_path / "specs"
    (inside / "transforms").mkdir(parents=True)
    (inside / "transforms" / "fix.py").symlink_to(outside / "evil.py")
    spec = inside / "s.yaml"
    spec.write_text(REPLAY + "  transform: transforms/fix.py\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    [d] = err.value.diagnostics
    assert (d.line, d.col) == (8, 14)
    assert "leads outside the spec's folder" in d.message


def test_symlink_inside_the_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text("def transform(record):\n    return record\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    spec = tmp_path / "s.yaml"
    spec.write_text(REPLAY + "  transform: link.py\n")
    loaded = load_spec(spec)
    assert loaded.resolve_path("link.py") == (tmp_path / "real.py").resolve()


@pytest.mark.parametrize(("source", "message"), [
    ("def other(record):\n    return record\n", "must define transform(record: dict) -> dict | None"),
    ("def transform(record:\n", "Python syntax error"),
])
def test_python_files_are_checked_without_running(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "fix.py").write_text("raise SystemExit('must never run')\n" + source)
    spec = tmp_path / "s.yaml"
    spec.write_text(REPLAY + "  transform: fix.py\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    [d] = err.value.diagnostics
    assert d.file == str((tmp_path / "fix.py").resolve())
    assert message in d.message


def test_frozen_source_is_refused() -> None:
    loaded = load_spec(EXAMPLES / "quickstart.yaml")
    catalog = load_catalog(Config(sources={"eia": SourceConfig(frozen=True)}))
    [d] = check_spec(loaded, catalog)
    assert (d.line, d.col) == (9, 11)  # the value of `source:`
    assert "is frozen" in d.message


def test_source_added_by_config_is_known(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {name: x}\nspec:\n  source: ercot\n"
                    "  window: {start: 2024-01-01, end: 2024-01-02}\n")
    extra = {"driver": "eia", "base_url": "http://127.0.0.1:1",
             "datasets": {"LOAD": {"route": "load", "grain": "hourly"}}}
    catalog = load_catalog(Config(sources={"ercot": SourceConfig.model_validate(extra)}))
    assert check_spec(load_spec(spec), catalog) == []
    [d] = check_spec(load_spec(spec), load_catalog())
    assert "unknown source 'ercot'" in d.message


def test_spec_hash_is_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    spec = tmp_path / "s.yaml"
    spec.write_bytes((EXAMPLES / "quickstart.yaml").read_bytes())
    loaded = load_spec(spec)
    assert loaded.sha256 == hashlib.sha256(spec.read_bytes()).hexdigest()
    assert loaded.op.spec.series == ("PJM", "MISO", "ERCO")
