"""`coverage` and `check` share one definition of what is expected, and both say which it was."""

from __future__ import annotations

import pytest

from tests.quality_cli.conftest import Project

ONE_SERIES = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {{name: qc-one-series, owner: tests}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM]
  window: {{start: {start}, end: {end}}}
  retries: {{max: 1, backoff: 0.01s, maxBackoff: 0.02s}}
  validation: {{threshold: 0.5}}
"""


def _both(project: Project, *narrow: str) -> tuple[dict[str, object], dict[str, object]]:
    cov = project.json("coverage", "--source", "eia", "--dataset", "ELEC.DEMAND", *narrow, "--json")
    chk = project.json("check", "--source", "eia", "--dataset", "ELEC.DEMAND", "--window", "2024-01-01:2024-01-02",
                       "--checks", "completeness", *narrow, "--json")
    (c,) = cov["datasets"]
    (k,) = chk["datasets"]
    return c, k


def test_one_of_three_series_loaded_reads_the_same_share_in_coverage_and_check(project: Project) -> None:
    project.apply(ONE_SERIES, start="2024-01-01", end="2024-01-02")
    cov, chk = _both(project)
    assert cov["share"] == pytest.approx(1 / 3)
    assert chk["score"] == pytest.approx(1 / 3)  # was 100%: check judged only what was loaded
    expected = {"series": ["ERCO", "MISO", "PJM"], "basis": "catalog",
                "text": "3 series expected: the catalog's and any others loaded"}
    assert cov["expected_series"] == expected and chk["expected"] == expected
    code, out, _ = project.run("coverage", "--source", "eia", "--dataset", "ELEC.DEMAND")
    assert code == 0 and "ELEC.DEMAND: 3 series expected: the catalog's and any others loaded" in out
    code, out, _ = project.run("check", "--source", "eia", "--dataset", "ELEC.DEMAND", "--window",
                               "2024-01-01:2024-01-02", "--checks", "completeness")
    assert code == 1 and "33.3%  FAILED  (3 series expected: the catalog's and any others loaded)" in out


def test_series_narrows_both_the_same_way(project: Project) -> None:
    project.apply(ONE_SERIES, start="2024-01-01", end="2024-01-02")
    cov, chk = _both(project, "--series", "PJM,MISO")
    assert cov["share"] == pytest.approx(1 / 2) and chk["score"] == pytest.approx(1 / 2)
    assert cov["expected_series"] == chk["expected"] == {
        "series": ["MISO", "PJM"], "basis": "--series", "text": "2 series expected: narrowed by --series"}
    cov, chk = _both(project, "--series", "PJM")
    assert (cov["share"], chk["score"]) == (1.0, 1.0)
    assert cov["records"] == cov["expected"] == 48


def test_operation_narrows_both_to_what_it_loaded(project: Project) -> None:
    first = project.apply(ONE_SERIES, start="2024-01-01", end="2024-01-02")
    project.apply(ONE_SERIES.replace("[PJM]", "[MISO]").replace("qc-one-series", "qc-miso"),
                  start="2024-01-01", end="2024-01-02")
    cov, chk = _both(project, "--operation", first)
    assert (cov["share"], cov["records"], chk["score"]) == (1.0, 48, 1.0)
    assert cov["expected_series"] == chk["expected"] == {
        "series": ["PJM"], "basis": "operation", "text": "1 series expected: those the operation loaded"}
    cov, chk = _both(project)
    assert cov["share"] == pytest.approx(2 / 3) and chk["score"] == pytest.approx(2 / 3)
    code, out, err = project.run("check", "--source", "eia", "--window", "2024-01-01:2024-01-02",
                                 "--operation", "NO_SUCH_OP")
    assert code == 1 and "operation NO_SUCH_OP has no committed loads of source 'eia'" in err
    assert "Traceback" not in out + err
