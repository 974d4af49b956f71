"""`check`: quality of what is loaded, the threshold CI gates on, and errors a user can act on."""

from __future__ import annotations

from pathlib import Path

from tests.quality_cli.conftest import BACKFILL, Project


def test_clean_backfill_passes_and_names_what_it_did_not_judge(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    code, out, err = project.run("check", "--source", "eia", "--window", "2024-01-01:2024-01-03")
    assert code == 0, out + err
    assert "ELEC.DEMAND  100.0%  passed  (3 series expected: the catalog's and any others loaded)" in out
    assert "Not judged (nothing loaded): ELEC.DEMAND.DAILY, ELEC.GEN" in out
    data = project.json("check", "--source", "eia", "--window", "2024-01-01:2024-01-03", "--json")
    assert data["passed"] is True and data["window"] == ["2024-01-01T00:00Z", "2024-01-04T00:00Z"]
    (ds,) = data["datasets"]
    assert ds["dataset"] == "ELEC.DEMAND" and ds["series"] == ["ERCO", "MISO", "PJM"]
    assert set(ds["checks"]) == {"completeness", "accuracy", "consistency", "schema"}
    assert ds["checks"]["completeness"]["stats"]["present_with_value"] == 216
    assert {s["dataset"] for s in data["skipped"]} >= {"ELEC.GEN", "ELEC.NETGEN"}


def test_gap_in_the_window_fails_the_default_threshold_and_names_the_periods(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    code, out, _ = project.run("check", "--source", "eia", "--window", "2024-01-01:2024-01-06")
    assert code == 1
    assert "PJM: 72 of 144 periods missing [2024-01-04T00:00Z..2024-01-07T00:00Z]" in out
    assert "FAILED: below 95.0%: ELEC.DEMAND 80.0%." in out
    data = project.json("check", "--source", "eia", "--window", "2024-01-01:2024-01-06", "--json")
    assert data["passed"] is False and data["score"] == 0.8
    missing = [f for f in data["datasets"][0]["checks"]["completeness"]["findings"] if f["series_id"] == "MISO"]
    assert missing[0]["periods"] == [["2024-01-04T00:00Z", "2024-01-07T00:00Z"]] and missing[0]["count"] == 72
    code, _, _ = project.run("check", "--source", "eia", "--date-range", "2024-01-01:2024-01-06", "--threshold", "0.8")
    assert code == 0


def test_weights_from_the_config_and_selected_checks_shape_the_score(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    window = ["--source", "eia", "--window", "2024-01-01:2024-01-06", "--json"]
    assert project.json("check", *window, "--checks", "completeness,schema")["score"] == round(
        (0.4 * 0.5 + 0.1 * 1) / 0.5, 6)  # default weights, renormalised over the two checks run
    cfg = project.root / "aurumplan.yaml"
    cfg.write_text(cfg.read_text().replace(
        "{series: [PJM, MISO, ERCO]}",
        "{series: [PJM, MISO, ERCO], quality_weights: {completeness: 3, accuracy: 1, consistency: 0, schema: 0}}"))
    data = project.json("check", *window)
    assert data["score"] == 0.625 and data["datasets"][0]["weights"]["completeness"] == 0.75


def test_value_out_of_range_is_found_by_the_accuracy_check(project: Project) -> None:
    project.revise("PJM", "2024-01-02T05:00Z", 5_000_000)
    project.apply(BACKFILL, start="2024-01-01", end="2024-01-03")
    data = project.json("check", "--source", "eia", "--window", "2024-01-01..2024-01-03T00:00",
                        "--checks", "accuracy", "--json")
    (ds,) = data["datasets"]
    assert list(ds["checks"]) == ["accuracy"] and data["checks"] == ["accuracy"]
    (above,) = [f for f in ds["checks"]["accuracy"]["findings"] if f["kind"] == "above_range"]
    assert above["series_id"] == "PJM" and above["periods"] == [["2024-01-02T05:00Z", "2024-01-02T06:00Z"]]
    assert ds["checks"]["accuracy"]["score"] == round(1 - 1 / 144, 6)  # one flagged value of 3 series x 48 hours
    code, out, _ = project.run("check", "--source", "eia", "--window", "2024-01-02:2024-01-02", "--series", "MISO",
                               "--threshold", "1")
    assert code == 0, out  # the bad value is in PJM only
    code, out, _ = project.run("check", "--source", "eia", "--window", "2024-01-02:2024-01-02", "--series", "PJM,MISO",
                               "--checks", "accuracy", "--checks", "schema", "--threshold", "0.999")
    assert code == 1 and "accuracy: PJM: 1 values above the maximum" in out


def test_nothing_loaded_fails_and_creates_nothing(project: Project) -> None:
    code, out, _ = project.run("check", "--source", "eia", "--window", "2024-01-01:2024-01-03")
    assert code == 1 and "No data loaded for source 'eia'" in out
    if project.db_url.startswith("sqlite"):
        assert not Path(project.db_url.removeprefix("sqlite:///")).exists()
    data = project.json("check", "--source", "eia", "--window", "2024-01-01:2024-01-01", "--dataset", "ELEC.DEMAND",
                        "--json")
    assert data["passed"] is False and data["datasets"][0]["checks"]["completeness"]["score"] == 0


def test_mistakes_are_one_line_errors(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    for args, message in (
            (["--window", "2024-01-01:2024-01-03", "--checks", "completeness,bogus"], "unknown quality check bogus"),
            (["--window", "2024-02-01:2024-01-01"], "END is before START"),
            (["--window", "last week"], "invalid --window 'last week'"),
            (["--window", "2024-01-01:2024-01-03", "--series", "NOPE"], "unknown series NOPE"),
            (["--window", "2024-01-01:2024-01-03", "--dataset", "ELEC.DEMNAD"], "unknown dataset 'ELEC.DEMNAD'")):
        code, out, err = project.run("check", "--source", "eia", *args)
        assert code == 1 and message in err and "Traceback" not in err, (args, out, err)
    code, _, err = project.run("check", "--source", "nosuch", "--window", "2024-01-01:2024-01-03")
    assert code == 1 and "unknown source 'nosuch'" in err
