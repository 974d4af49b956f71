"""An algorithm defined by a Python file in the spec's folder (docs/replay.md, "Algorithms"): validated at
FILE:LINE:COL, embedded in the plan, and applied offline from that embedded text even when the file is edited
after the plan was reviewed; the report names the file and its declared version."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurumplan.catalog import load_catalog
from aurumplan.cli.main import cli
from aurumplan.errors import SpecError
from aurumplan.spec.loader import load_spec
from aurumplan.warehouse import open_warehouse

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PLUGIN = '''\
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Scale:
    name: ClassVar[str] = "scale"
    version: ClassVar[str] = "2"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        factor: float = Field(gt=0)

    def run(self, records: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
        return [{**r, "value": r["value"] * params.factor,
                 "attributes": {**(r["attributes"] or {}), "algorithm": "scale@2"}} for r in records]
'''

SPEC = """\
apiVersion: aurumplan/v1
kind: Replay
metadata: {{name: scale-demand, reason: "rescale demand with a local algorithm"}}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO, ERCO]
  window: {{start: 2024-01-01, end: 2024-01-07}}
  type: algorithm_update
  algorithm:
    name: scale
    file: {file}
    version: "{version}"
    params: {params}
  validation: {{checks: [schema], threshold: 0.0}}
"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/ (offline recordings), no keys and no AURUMPLAN_* overrides."""
    for var in {s.api_key_env for s in load_catalog().sources.values()}:
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("AURUMPLAN_")]:
        monkeypatch.delenv(var)
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns(".aurumplan"))
    monkeypatch.chdir(dest)
    (dest / "algorithms").mkdir(exist_ok=True)
    (dest / "algorithms" / "scale.py").write_text(PLUGIN)
    return dest


def run(project: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--config", str(project / "aurumplan.yaml"), *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def current(project: Path) -> dict[tuple[str, int], tuple[float, Any]]:
    with open_warehouse(f"sqlite:///{project / '.aurumplan' / 'warehouse.db'}") as wh:
        return {(r.series_id, r.period): (r.value, r.attributes) for r in wh.read_rows("eia", "ELEC.DEMAND")}


def diagnostics(folder: Path, **fields: str) -> list[tuple[str, int, int, str]]:
    values = {"file": "algorithms/scale.py", "version": "2", "params": "{factor: 2}", **fields}
    (folder / "spec.yaml").write_text(SPEC.format(**values))
    with pytest.raises(SpecError) as err:
        load_spec(folder / "spec.yaml")
    return [(Path(d.file).name, d.line, d.col, d.message) for d in err.value.diagnostics]


def test_a_file_plugin_applies_offline_from_the_plan_even_after_the_file_changes(project: Path) -> None:
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    before = current(project)
    (project / "scale.yaml").write_text(SPEC.format(file="algorithms/scale.py", version="2", params="{factor: 2}"))
    code, out, err = run(project, "plan", "scale.yaml", "-o", "scale.plan.json")
    assert code == 0, out + err
    plan = json.loads((project / "scale.plan.json").read_text())
    assert plan["spec"]["files"]["algorithms/scale.py"]["text"] == PLUGIN
    assert plan["settings"]["replay"]["algorithm"] == {"name": "scale", "file": "algorithms/scale.py",
                                                       "version": "2", "params": {"factor": 2}}
    # edited after the review: a different factor and version; the plan still runs what was reviewed
    (project / "algorithms" / "scale.py").write_text(PLUGIN.replace("* params.factor", "* params.factor * 100")
                                                     .replace('"2"', '"3"'))
    code, out, err = run(project, "apply", "scale.plan.json")
    assert code == 0, out + err
    after = current(project)
    assert after.keys() == before.keys()
    for key, (value, attrs) in after.items():
        assert value == before[key][0] * 2 and attrs["algorithm"] == "scale@2"
    op = plan["operation"]["id"]
    code, report, _ = run(project, "report", op)
    assert code == 0
    assert "`scale` version 2 from `algorithms/scale.py`" in report and '"factor": 2' in report
    assert run(project, "rollback", op, "--auto-approve")[0] == 0
    assert current(project) == before


def test_a_path_leading_outside_the_spec_folder_is_refused_at_its_position(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    (tmp_path / "scale.py").write_text(PLUGIN)
    [(name, line, col, msg)] = diagnostics(folder, file="../scale.py")
    assert (name, line, col) == ("spec.yaml", 12, 11)
    assert msg.startswith("spec.algorithm.file: '../scale.py' leads outside the spec's folder")
    [(name, line, col, msg)] = diagnostics(folder, file="/etc/scale.py")
    assert (name, line, col) == ("spec.yaml", 12, 11) and "is absolute" in msg


def test_a_missing_file_a_wrong_name_a_wrong_version_and_bad_params_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "algorithms").mkdir()
    (tmp_path / "algorithms" / "scale.py").write_text(PLUGIN)
    [(_, line, col, msg)] = diagnostics(tmp_path, file="algorithms/nope.py")
    assert (line, col) == (12, 11) and msg.startswith("spec.algorithm.file: file 'algorithms/nope.py' not found")
    (tmp_path / "algorithms" / "other.py").write_text(PLUGIN.replace('"scale"', '"smooth"'))
    [(_, line, col, msg)] = diagnostics(tmp_path, file="algorithms/other.py")
    assert (line, col) == (11, 11)
    assert "defines no algorithm named 'scale' (it defines smooth)" in msg
    [(_, line, col, msg)] = diagnostics(tmp_path, version="1")
    assert (line, col) == (13, 14)
    assert msg == ("spec.algorithm.version: '1' is not the scale in algorithms/scale.py, which is version 2: "
                   "set version: '2'")
    [(_, line, col, msg)] = diagnostics(tmp_path, params="{factor: -1}")
    assert (line, col) == (14, 22)  # at the value of factor
    assert msg.startswith("spec.algorithm.params.factor: Input should be greater than 0 (algorithm scale@2")
    (tmp_path / "algorithms" / "broken.py").write_text("class Scale:\n    name = 'scale'\n    def run(self\n")
    [(name, line, _, msg)] = diagnostics(tmp_path, file="algorithms/broken.py")
    assert name == "broken.py" and line == 3 and msg.startswith("Python syntax error")


def test_the_shipped_file_plugin_example_applies_after_the_quickstart_and_clips_what_it_should(
        project: Path) -> None:
    """examples/replay-algorithm-file.yaml passes its gate on the recorded week (nothing outside its range);
    with a bound inside the data it clips exactly the values beyond it and flags them."""
    assert run(project, "apply", "quickstart.yaml", "--auto-approve")[0] == 0
    before = current(project)
    code, out, err = run(project, "apply", "replay-algorithm-file.yaml", "--auto-approve")
    assert code == 0, out + err
    assert current(project) == before
    bound = sorted(v for v, _ in before.values())[-10]  # the 9 largest values lie above it
    tight = (project / "replay-algorithm-file.yaml").read_text().replace("high: 200000", f"high: {bound}")
    (project / "tight.yaml").write_text(tight.replace("threshold: 0.95", "threshold: 0.0"))
    code, out, err = run(project, "apply", "tight.yaml", "--auto-approve")
    assert code == 0, out + err
    changed = {k: v for k, v in current(project).items() if v != before[k]}
    assert len(changed) == sum(1 for v, _ in before.values() if v > bound) >= 1
    for key, (value, attrs) in changed.items():
        assert value == bound and attrs["algorithm"] == "clip_range@1" and attrs["original"] == before[key][0]
