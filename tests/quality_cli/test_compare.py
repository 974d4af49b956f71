"""`compare`: a day's shape against a reference day, per series, with the exit codes CI gates on."""

from __future__ import annotations

import math

import pytest

from aurumplan.intervals import parse_ts
from tests.doubles.fakeapis import ABSENT
from tests.quality_cli.conftest import BACKFILL, ROUTE, Project

D1, D2, D3 = (parse_ts(d) for d in ("2024-01-01", "2024-01-02", "2024-01-03"))


@pytest.fixture()
def shaped(project: Project) -> tuple[Project, dict[str, list[float]]]:
    """Day 2 repeats day 1 for every series; on day 3 PJM is day 1 x1.5 (same shape, bigger),
    MISO is day 1 reversed (same values, another shape), ERCO has no rows. Loaded by a real apply."""
    synth = project.server.data
    day1 = {s: [float(synth.series("eia", ROUTE, f"{s}.D")(D1 + h * 3600)) for h in range(24)]  # type: ignore[arg-type]
            for s in ("PJM", "MISO", "ERCO")}
    for s, values in day1.items():
        for h, v in enumerate(values):
            synth.override("eia", ROUTE, f"{s}.D", D2 + h * 3600, v)
    for h in range(24):
        synth.override("eia", ROUTE, "PJM.D", D3 + h * 3600, round(day1["PJM"][h] * 1.5, 6))
        synth.override("eia", ROUTE, "MISO.D", D3 + h * 3600, day1["MISO"][23 - h])
        synth.override("eia", ROUTE, "ERCO.D", D3 + h * 3600, ABSENT)
    op = project.apply(BACKFILL, start="2024-01-01", end="2024-01-03")
    assert project.json("status", op, "--json")["status"] == "succeeded"
    return project, day1


def _pearson(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def test_a_day_identical_to_the_reference_is_ok(shaped: tuple[Project, dict[str, list[float]]]) -> None:
    project, _ = shaped
    code, out, err = project.run("compare", "--source", "eia", "--dataset", "ELEC.DEMAND",
                                 "--reference", "2024-01-01", "--against", "2024-01-02")
    assert code == 0, out + err
    assert "3 ok, 0 differ, 0 missing." in out
    data = project.json("compare", "--source", "eia", "--dataset", "ELEC.DEMAND",
                        "--reference-date", "2024-01-01", "--comparison-date", "2024-01-02", "--json")
    assert data["ok"] is True and [r["series_id"] for r in data["series"]] == ["ERCO", "MISO", "PJM"]
    for r in data["series"]:
        assert (r["verdict"], r["points"], r["correlation"], r["mean_diff"], r["peak_diff"]) == ("ok", 24, 1.0, 0, 0)


def test_scaled_reshaped_and_missing_days_differ_with_their_figures(
        shaped: tuple[Project, dict[str, list[float]]]) -> None:
    project, day1 = shaped
    args = ["compare", "--source", "eia", "--dataset", "ELEC.DEMAND", "--reference", "2024-01-01",
            "--against", "2024-01-03"]
    data = project.json(*args, "--json")
    by = {r["series_id"]: r for r in data["series"]}
    assert data["ok"] is False and data["counts"] == {"ok": 0, "differs": 2, "missing": 1}
    pjm = by["PJM"]
    assert pjm["verdict"] == "differs" and pjm["correlation"] == pytest.approx(1.0, abs=1e-6)
    assert pjm["mean_diff"] == pytest.approx(0.5, abs=1e-5) and pjm["peak_diff"] == pytest.approx(0.5, abs=1e-5)
    assert pjm["peak_reference"] == max(day1["PJM"]) and pjm["peak_at_reference"] == pjm["peak_at_against"]
    miso = by["MISO"]
    assert miso["correlation"] == pytest.approx(_pearson(day1["MISO"], day1["MISO"][::-1]), abs=1e-6)
    assert miso["correlation"] < 0.8 and miso["mean_diff"] == pytest.approx(0, abs=1e-9)
    assert [x.split(" ")[0] for x in miso["reasons"]] == ["correlation"]
    assert by["ERCO"]["verdict"] == "missing" and by["ERCO"]["reasons"] == ["no values on the compared date"]
    code, out, err = project.run(*args)
    assert code == 2 and not err
    assert "0 ok, 2 differ, 1 missing." in out
    assert "  - PJM: mean " in out and "(+50.0%), limit ±20%" in out
    assert "ERCO    missing" in out
    code, out, _ = project.run(*args, "--series", "PJM", "--max-mean-diff", "0.6", "--max-peak-diff", "0.6")
    assert code == 0 and "1 ok, 0 differ, 0 missing." in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--reference", "2024-13-01", "--against", "2024-01-02"],
     "Error: invalid --reference '2024-13-01': give a date as YYYY-MM-DD, e.g. 2024-12-01\n"),
    (["--reference", "2024-01-01", "--against", "2024-01-02", "--series", "NYIS"],
     "Error: unknown series NYIS of source 'eia' dataset 'ELEC.DEMAND' (name a series of the catalog or one "
     "loaded on either date)\n"),
    (["--reference", "2024-01-01", "--against", "2024-01-02", "--min-correlation", "2"],
     "Error: invalid limits: --min-correlation is between -1 and 1, --max-mean-diff and --max-peak-diff are "
     "fractions of at least 0 (0.2 = 20%)\n"),
])
def test_bad_input_is_one_line_and_exit_1(project: Project, extra: list[str], message: str) -> None:
    code, out, err = project.run("compare", "--source", "eia", "--dataset", "ELEC.DEMAND", *extra)
    assert (code, out, err) == (1, "", message)


def test_usage_errors_exit_1_not_the_differs_code(project: Project) -> None:
    code, _, err = project.run("compare", "--source", "eia", "--dataset", "ELEC.DEMAND", "--reference", "2024-01-01")
    assert code == 1 and "Missing option '--against'" in err


def test_nothing_loaded_is_said_and_is_not_ok(project: Project) -> None:
    code, out, err = project.run("compare", "--source", "eia", "--dataset", "ELEC.DEMAND",
                                 "--reference", "2024-01-01", "--against", "2024-01-02")
    assert code == 2 and not err and out.endswith("No values on either date: nothing to compare.\n")
    data = project.json("compare", "--source", "eia", "--dataset", "ELEC.DEMAND", "--reference", "2024-01-01",
                        "--against", "2024-01-02", "--series", "PJM", "--json")
    assert data["ok"] is False and data["series"][0]["reasons"] == ["no values on either date"]


def test_help_shows_the_limits_compare_uses() -> None:
    """--help is served without loading the library, so its defaults are written out: they must be the api's."""
    from click.testing import CliRunner

    from aurumplan import api
    from aurumplan.cli.main import cli

    text = " ".join(CliRunner().invoke(cli, ["compare", "--help"]).output.split())
    lim = api.PATTERN_LIMITS
    for option, value in (("--min-correlation", lim.min_correlation), ("--max-mean-diff", lim.max_mean_diff),
                          ("--max-peak-diff", lim.max_peak_diff)):
        assert f"[default: ({value:g})]" in text.split(option, 1)[1].split("--", 1)[0], (option, text)
