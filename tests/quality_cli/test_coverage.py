"""`coverage`: loaded records per day or month against what the catalog expects."""

from __future__ import annotations

from tests.quality_cli.conftest import Project


def _table(out: str) -> list[list[str]]:
    """The per-bucket lines printed after the heat strip, split into fields."""
    lines = out.splitlines()
    return [line.split() for line in lines[lines.index(next(x for x in lines if x.startswith("dataset"))) + 1:]]


def test_daily_coverage_of_a_backfill(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    data = project.json("coverage", "--source", "eia", "--json")
    (ds,) = data["datasets"]
    assert data["bucket"] == "day"
    assert (ds["dataset"], ds["records"], ds["expected"], ds["share"]) == ("ELEC.DEMAND", 216, 216, 1.0)
    assert (ds["first"], ds["last"], ds["buckets"], ds["complete_buckets"]) == ("2024-01-01", "2024-01-03", 3, 3)
    assert [(r["bucket"], r["records"], r["expected"]) for r in data["rows"]] == [
        ("2024-01-01", 72, 72), ("2024-01-02", 72, 72), ("2024-01-03", 72, 72)]
    code, out, _ = project.run("coverage", "--source", "eia")
    assert code == 0
    assert "ELEC.DEMAND  216 of 216 expected records (100.0%)" in out
    assert "2024-01-01 |@@@| 2024-01-03" in out


def test_monthly_and_windowed_coverage_show_what_is_missing(backfilled: tuple[Project, str]) -> None:
    project, _ = backfilled
    data = project.json("coverage", "--source", "eia", "--monthly", "--json")
    assert [(r["dataset"], r["bucket"], r["records"], r["expected"]) for r in data["rows"]] == [
        ("ELEC.DEMAND", "2024-01", 216, 31 * 24 * 3)]
    code, out, _ = project.run("coverage", "--source", "eia", "--monthly")
    assert code == 0 and ["ELEC.DEMAND", "2024-01", "216", "2,232", "9.7%"] in _table(out)
    data = project.json("coverage", "--source", "eia", "--dataset", "ELEC.DEMAND", "--window",
                        "2024-01-01:2024-01-05", "--json")
    (ds,) = data["datasets"]
    assert (ds["buckets"], ds["empty_buckets"], ds["records"], ds["expected"]) == (5, 2, 216, 360)
    code, out, _ = project.run("coverage", "--source", "eia", "--dataset", "ELEC.DEMAND", "--window",
                               "2024-01-01:2024-01-05", "--table")
    assert "2024-01-01 |@@@  | 2024-01-05" in out
    assert ["ELEC.DEMAND", "2024-01-05", "0", "72", "0.0%"] in _table(out)


def test_nothing_loaded(project: Project) -> None:
    code, out, _ = project.run("coverage", "--source", "eia")
    assert code == 0 and "No data loaded for source 'eia'." in out
    assert project.json("coverage", "--source", "eia", "--json")["rows"] == []
    code, _, err = project.run("coverage", "--source", "eia", "--dataset", "NOPE")
    assert code == 1 and "unknown dataset 'NOPE'" in err
