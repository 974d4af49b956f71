"""The built-in algorithms change only what they should and flag it; installed plug-ins are found by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from aurumplan.algorithms import UnknownAlgorithm, resolve

H = 3600


def series(values: list[float | None], unit: str = "MWh", step: int = H) -> list[dict[str, Any]]:
    return [{"source": "eia", "dataset": "D", "series_id": "PJM", "period": i * step, "value": v, "unit": unit,
             "attributes": None} for i, v in enumerate(values)]


def test_outlier_replacement_replaces_a_spike_with_the_median_and_keeps_the_original() -> None:
    algo = resolve("outlier_replacement")
    values: list[float | None] = [100.0, 101.0, 99.0, 100.0, 5000.0, 101.0, 100.0, 99.0, 100.0]
    out = algo.run(series(values), algo.Params(window_size=5, threshold=3.5))
    changed = [(r["period"] // H, r["value"], r["attributes"]) for r in out if r["attributes"]]
    assert changed == [(4, 100.0, {"algorithm": "outlier_replacement@1", "original": 5000.0})]
    assert [r["value"] for r in out if not r["attributes"]] == [v for v in values if v != 5000.0]


def test_outlier_detection_of_the_contract_flags_a_spike_and_changes_no_value() -> None:
    """CONTRACT.md's example: {name: outlier_detection, version: v2, params: {sensitivity: 0.8, window_size: 24}}."""
    algo = resolve("outlier_detection")
    assert algo.version == "v2"
    values: list[float | None] = [100.0 + (i % 3) for i in range(30)]
    values[12] = 900.0
    out = algo.run(series(values), algo.Params.model_validate({"sensitivity": 0.8, "window_size": 24}))
    assert [r["value"] for r in out] == values
    assert [(r["period"] // H, r["attributes"]) for r in out if r["attributes"]] == [
        (12, {"algorithm": "outlier_detection@v2", "outlier": True, "median": 101.0})]
    with pytest.raises(ValidationError):
        algo.Params.model_validate({"sensitivity": 1.5})


def test_outlier_replacement_leaves_a_smooth_series_alone() -> None:
    algo = resolve("outlier_replacement")
    recs = series([100.0 + i for i in range(30)])
    assert algo.run(recs, algo.Params()) == recs


def test_gap_interpolation_fills_missing_periods_linearly_and_flags_them() -> None:
    algo = resolve("gap_interpolation")
    recs = [r for r in series([10.0, 20.0, None, None, 50.0]) if r["value"] is not None]
    out = algo.run(recs, algo.Params(step=H))
    assert [(r["period"] // H, r["value"]) for r in out] == [(0, 10.0), (1, 20.0), (2, 30.0), (3, 40.0), (4, 50.0)]
    assert [r["attributes"] for r in out][2:4] == [{"algorithm": "gap_interpolation@1", "interpolated": True}] * 2
    assert out[0]["attributes"] is None and out[4]["attributes"] is None


def test_gap_interpolation_leaves_gaps_longer_than_max_gap() -> None:
    algo = resolve("gap_interpolation")
    recs = [r for r in series([1.0, None, None, None, 5.0]) if r["value"] is not None]
    assert algo.run(recs, algo.Params(step=H, max_gap=2)) == recs


def test_unit_normalisation_converts_only_the_named_unit() -> None:
    algo = resolve("unit_normalisation")
    recs = series([1500.0, 2000.0], unit="kWh") + series([3.0], unit="MWh")
    out = algo.run(recs, algo.Params(from_unit="kWh", unit="MWh", factor=0.001))
    assert [(r["value"], r["unit"]) for r in out] == [(1.5, "MWh"), (2.0, "MWh"), (3.0, "MWh")]
    assert out[0]["attributes"] == {"algorithm": "unit_normalisation@1", "original": 1500.0, "original_unit": "kWh"}
    assert out[2]["attributes"] is None


def test_params_are_typed_and_closed() -> None:
    with pytest.raises(ValidationError):
        resolve("unit_normalisation").Params.model_validate({"unit": "MWh", "factor": 0.001})
    with pytest.raises(ValidationError):
        resolve("outlier_replacement").Params.model_validate({"windw": 5})


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownAlgorithm, match="outlier_replacement"):
        resolve("outlier_detector")


PLUGIN = '''
from typing import Any, ClassVar
from pydantic import BaseModel

class Double:
    name: ClassVar[str] = "double"
    version: ClassVar[str] = "7"

    class Params(BaseModel):
        by: float = 2.0

    def run(self, records: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
        return [{**r, "value": r["value"] * params.by} for r in records]
'''


def test_an_installed_entry_point_is_resolved_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "double_plugin.py").write_text(PLUGIN)
    info = tmp_path / "double_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: double-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[aurumplan.algorithms]\ndouble = double_plugin:Double\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    algo = resolve("double")
    assert (algo.name, algo.version) == ("double", "7")
    assert [r["value"] for r in algo.run(series([1.0, 2.5]), algo.Params(by=3))] == [3.0, 7.5]
