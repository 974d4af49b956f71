"""Shipped specs are valid; committed schemas and reference page equal what the models generate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from aurumplan.catalog import load_catalog
from aurumplan.catalog.check import check_spec
from aurumplan.config import load_config
from aurumplan.spec.loader import load_spec
from aurumplan.spec.reference import render_reference
from aurumplan.spec.schema import SCHEMA_FILES, operation_schema, render_schema

ROOT = Path(__file__).parents[2]
SPECS = sorted(p for folder in ("examples", "plans") for p in (ROOT / folder).glob("*.yaml")
               if p.name != "aurumplan.yaml")
BAD = Path(__file__).parent / "bad"
REGENERATE = "regenerate with `aurumplan schema --out schemas/`"


def plain(value: Any) -> Any:
    """YAML data as JSON sees it: dates and datetimes become ISO strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def yaml_data(path: Path) -> Any:
    return plain(YAML(typ="safe").load(path.read_text()))


def test_all_expected_examples_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SPECS}
    assert {"examples/backfill-eia.yaml", "examples/replay-eia.yaml", "examples/reprocess-hours.yaml",
            "examples/reprocess-timezone.yaml", "examples/reprocess-failed.yaml", "examples/backfill-fred.yaml",
            "examples/backfill-cpi.yaml", "examples/backfill-noaa.yaml", "examples/backfill-iso.yaml",
            "examples/replay-schema.yaml", "examples/quickstart.yaml", "plans/backfill-eia-2024.yaml",
            "plans/replay-eia-2024-12.yaml"} <= names


@pytest.mark.parametrize("path", SPECS, ids=[p.relative_to(ROOT).as_posix() for p in SPECS])
def test_shipped_spec_loads_and_passes_the_catalog(path: Path) -> None:
    loaded = load_spec(path)
    config = path.parent / "aurumplan.yaml"  # its folder's config: quality-profile.yaml names a profile there
    assert check_spec(loaded, load_catalog(load_config(config) if config.is_file() else None)) == []


@pytest.mark.parametrize("path", SPECS, ids=[p.relative_to(ROOT).as_posix() for p in SPECS])
def test_shipped_spec_matches_the_json_schema(path: Path) -> None:
    schema = json.loads((ROOT / "schemas" / "operation.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml_data(path))


@pytest.mark.parametrize("name", ["unknown-key-window", "unknown-kind", "concurrency-range", "hours-without-date",
                                  "two-selectors", "no-selector", "replay-no-reason", "bad-duration",
                                  "schema-correction-no-version", "reprocess-window-no-datasets",
                                  "threshold-range", "bad-rate-limit", "hours-out-of-range"])
def test_json_schema_rejects_what_the_loader_rejects(name: str) -> None:
    errors = list(jsonschema.Draft202012Validator(operation_schema()).iter_errors(yaml_data(BAD / f"{name}.yaml")))
    assert errors


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_committed_schema_matches_the_models(name: str) -> None:
    committed = (ROOT / "schemas" / name).read_text()
    assert committed == render_schema(SCHEMA_FILES[name]()), f"schemas/{name} is stale: {REGENERATE}"


def test_config_schema_leaves_out_loader_fields() -> None:
    schema = SCHEMA_FILES["config.schema.json"]()
    assert "root" not in schema["properties"] and "file" not in schema["properties"]
    assert {"state", "warehouse", "executor", "sources"} <= set(schema["properties"])


def test_reference_page_matches_the_models() -> None:
    committed = (ROOT / "docs" / "spec-reference.md").read_text()
    assert committed == render_reference(), (
        "docs/spec-reference.md is stale: regenerate with `.venv/bin/python -c "
        "\"from aurumplan.spec.reference import write_reference; write_reference()\"`")


def test_reference_names_every_field_of_every_kind() -> None:
    from aurumplan.spec import models

    page = render_reference()
    for model in (models.Operation, models.BackfillSpec, models.ReplaySpec, models.ReprocessSpec, models.Metadata,
                  models.Window, models.Retries, models.Validation, models.Algorithm, models.TimeRange,
                  models.Incremental, models.RollbackWhen):
        for name in model.model_fields:
            assert f"| `{name}` |" in page, (model.__name__, name)
