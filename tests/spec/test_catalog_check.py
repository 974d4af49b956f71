"""Catalog checks of valid specs, and the positions config errors get from the same YAML reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurumplan.catalog import load_catalog
from aurumplan.catalog.check import check_spec, series_selected
from aurumplan.config import load_config
from aurumplan.errors import ConfigError
from aurumplan.spec.loader import load_spec

HEAD = "apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {name: t}\nspec:\n  source: eia\n"
WINDOW = "  window: {start: 2024-01-01, end: 2024-01-02}\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + WINDOW + body)
    return path


def test_contract_example_series_span_datasets(tmp_path: Path) -> None:
    path = write(tmp_path, "  datasets: [ELEC.DEMAND, ELEC.GEN]\n  series: [PJM, MISO]\n")
    assert check_spec(load_spec(path), load_catalog()) == []
    gen = load_catalog().dataset("eia", "ELEC.GEN")
    assert series_selected(gen, ["PJM"]) == ["PJM.COL", "PJM.NG", "PJM.NUC", "PJM.WND", "PJM.SUN"]
    assert series_selected(gen, None) == list(gen.series)


def test_dataset_none_of_whose_series_is_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "  datasets: [ELEC.DEMAND, ELEC.PRICE]\n  series: [PJM]\n")
    [d] = check_spec(load_spec(path), load_catalog())
    assert (d.line, d.col) == (7, 27)
    assert d.message == ("spec.datasets: none of the listed series is in 'ELEC.PRICE': "
                         "remove the dataset or add its series")


def test_hours_on_a_source_without_hourly_data(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("apiVersion: aurumplan/v1\nkind: Reprocess\nmetadata: {name: t, reason: r}\nspec:\n"
                    "  source: fred\n  date: 2024-01-15\n  hours: [1]\n")
    [d] = check_spec(load_spec(path), load_catalog())
    assert (d.line, d.col, d.message) == (7, 10, "spec.hours: source 'fred' has no hourly dataset: drop hours")


def test_config_errors_point_into_aurumplan_yaml_with_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "aurumplan.yaml").write_text(
        "executor: locl\nsources:\n  eia:\n    quota: {per_secnd: 5}\n    headroom: lots\n")
    with pytest.raises(ConfigError) as err:
        load_config(cwd=tmp_path, env={})
    assert [(d.line, d.col, d.message) for d in err.value.diagnostics] == [
        (1, 11, "executor: unknown value 'locl': use one of local, seatunnel-cli, seatunnel-rest "
                "(did you mean 'local'?)"),
        (4, 13, "unknown key 'per_secnd' (did you mean 'per_second'?)"),
        (5, 15, "sources.eia.headroom: Input should be a valid number, unable to parse string as a number "
                "(got 'lots')"),
    ]


def test_catalog_override_errors_name_the_full_path(tmp_path: Path) -> None:
    (tmp_path / "aurumplan.yaml").write_text("sources:\n  eia:\n    datasets:\n"
                                             "      ELEC.DEMAND: {grain: weekly, sereis: [A]}\n")
    with pytest.raises(ConfigError) as err:
        load_catalog(load_config(cwd=tmp_path, env={}))
    assert [(d.line, d.col, d.message) for d in err.value.diagnostics] == [
        (4, 28, "sources.eia.datasets.ELEC.DEMAND.grain: unknown value 'weekly': use one of hourly, daily, "
                "monthly, quarterly"),
        (4, 36, "unknown key 'sereis' (did you mean 'series'?)"),
    ]
