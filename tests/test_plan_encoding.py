"""The plan file's encoding: canonical JSON cut into lines (joined back, byte for byte canonical JSON),
whatever floats a driver or setting holds; a diff of two plans shows the ranges that changed."""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aurumplan.catalog import load_catalog
from aurumplan.config import load_config
from aurumplan.hashing import canonical_json, canonical_json_float_free, sha256_hex
from aurumplan.intervals import IntervalSet, parse_ts
from aurumplan.plan.builder import HASHED_EXCLUDE, plan_hash, plan_json, seal
from aurumplan.plan.layout import lay_out, text_of
from aurumplan.plan.make import plan_spec
from aurumplan.plan.planfile import read_plan
from aurumplan.state import open_state
from aurumplan.state.models import WatermarkRef

SPEC = """\
apiVersion: aurumplan/v1
kind: Backfill
metadata: {name: enc}
spec:
  source: eia
  datasets: [ELEC.DEMAND]
  series: [PJM, MISO]
  window: {start: 2023-01-01, end: 2024-12-31}
"""

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.characters(exclude_categories=("Cs",))),
    lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
    | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), max_size=6), inner, max_size=4),
    max_leaves=25)


@given(plain)
def test_float_free_encoder_writes_canonical_json_bytes(value: Any) -> None:
    assert canonical_json_float_free(value) == canonical_json(value).encode()


@pytest.fixture()
def plan(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "aurumplan.yaml").write_text("state: sqlite:///state.db\nwarehouse: sqlite:///wh.db\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    config = load_config(tmp_path / "aurumplan.yaml")
    planned = plan_spec(tmp_path / "spec.yaml", load_catalog(config), open_state(config.state_url), cwd=tmp_path)
    assert planned.plan["estimates"]["requests"] >= 2
    return planned.plan


def _canonical_text(plan: dict[str, Any]) -> str:
    """The file text as json.dumps alone would write it."""
    body = canonical_json({k: v for k, v in plan.items() if k not in HASHED_EXCLUDE})
    return body[:-1] + f',"plan_id":"{sha256_hex(body)}"}}\n'


def _joined(text: str) -> str:
    """The file's lines without their newlines and indentation: the canonical JSON they lay out."""
    return "".join(line.lstrip(" ") for line in text.splitlines()) + "\n"


def _extracts(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in plan["graph"]["nodes"] if n["kind"] == "extract"]


def test_sealed_text_is_canonical_json(plan: dict[str, Any], tmp_path: Path) -> None:
    text = seal(plan)
    assert _joined(text) == _canonical_text(plan)
    (tmp_path / "p.json").write_text(text)
    assert read_plan(tmp_path / "p.json").plan_id == plan["plan_id"]


@pytest.mark.parametrize("where", ["settings", "params", "body", "page"])
@pytest.mark.parametrize("value", [1e-05, 2.5e-07, 1e16, 1.5e22, 0.1])
def test_floats_anywhere_keep_canonical_bytes_and_read_back(plan: dict[str, Any], tmp_path: Path, where: str,
                                                             value: float) -> None:
    """orjson would write 1e-05 as 0.00001: floats must never reach it, wherever a driver puts them."""
    node = _extracts(plan)[-1]
    if where == "settings":
        plan["settings"]["retries"]["backoff_seconds"] = value
    elif where == "params":
        node["request"]["params"] = (*node["request"]["params"], ("lat", value))
    elif where == "body":
        node["request"]["body"] = {"series": ["A"], "scale": [value]}
    else:
        node["request"]["page"] = value
    text = seal(plan)
    assert _joined(text) == _canonical_text(plan)
    (tmp_path / "p.json").write_text(text)
    data = read_plan(tmp_path / "p.json").to_dict()
    assert plan_hash(data) == data["plan_id"] == plan["plan_id"]


def test_nan_in_a_request_is_refused_as_canonical_json_refuses_it(plan: dict[str, Any]) -> None:
    node = _extracts(plan)[0]
    node["request"]["params"] = (*node["request"]["params"], ("x", math.nan))
    with pytest.raises(ValueError):
        canonical_json(plan)
    with pytest.raises(ValueError):
        seal(plan)


def test_old_plan_files_still_verify(plan: dict[str, Any], tmp_path: Path) -> None:
    """A plan written by json.dumps alone (earlier versions) reads back unchanged."""
    plan["settings"]["rateLimit"] = 1e-05
    (tmp_path / "old.json").write_text(_canonical_text(plan))
    data = read_plan(tmp_path / "old.json").to_dict()
    assert data == json.loads(_canonical_text(plan))


def test_the_recorded_plan_is_the_canonical_json_of_the_whole_plan(plan: dict[str, Any]) -> None:
    """What apply stores with the operation (plan_of_operation reads it back) is canonical_json(plan)."""
    seal(plan)
    plan["created_at"] = "2026-11-29T00:00:00Z"
    plan["settings"]["retries"]["backoff_seconds"] = 1e-05
    assert plan_json(plan) == canonical_json(plan)


def test_a_diff_of_two_plans_shows_the_range_that_changed(tmp_path: Path) -> None:
    """A reviewer's `git diff`: the plan after one month was loaded differs from the first plan in a
    few lines, and those lines name the month."""
    (tmp_path / "aurumplan.yaml").write_text("state: sqlite:///state.db\nwarehouse: sqlite:///wh.db\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    config = load_config(tmp_path / "aurumplan.yaml")
    store = open_state(config.state_url)

    def planned() -> str:
        return plan_spec(tmp_path / "spec.yaml", load_catalog(config), store, cwd=tmp_path).text

    before = planned()
    month = IntervalSet([(parse_ts("2024-03-01"), parse_ts("2024-04-01"))])
    for series in ("MISO", "PJM"):
        store.set_watermarks("eia", "ELEC.DEMAND", series, month, WatermarkRef("l1", "op1", "ck1", "v1"), 744)
    after = planned()
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert len(before.splitlines()) > 40
    assert 0 < len(changed) <= 24, "\n".join(changed)
    assert any('"2024-03-01T00:00Z"' in line and '"unchanged"' in line for line in changed if line[0] == "+")
    assert json.loads(after)["plan_id"] != json.loads(before)["plan_id"]


@given(plain)
def test_laid_out_lines_join_to_canonical_json_and_parse_back(value: Any) -> None:
    lines = lay_out(value, float_free=False)
    assert b"".join(frag for _, frag in lines) == canonical_json(value).encode()
    assert json.loads(text_of(lines)) == json.loads(canonical_json(value))
