"""JSON schemas of specs and aurumplan.yaml, generated from the models (editors and CI use them).

The committed files in schemas/ are this module's output; a test fails when they drift.
Regenerate with `aurumplan schema --out schemas/`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from aurumplan.config import Config
from aurumplan.spec.models import KINDS, Operation
from aurumplan.spec.types import format_duration, format_when

DRAFT = "https://json-schema.org/draft/2020-12/schema"
LOADER_FIELDS = ("root", "file")  # set by load_config, never written by a user


class _Generator(GenerateJsonSchema):
    """Defaults in the form a user writes them (10s, 2024-01-01), not pydantic's ISO durations."""

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, dt.timedelta):
            return format_duration(dft)
        if isinstance(dft, dt.date):
            return format_when(dft)
        if isinstance(dft, tuple):
            return [self.encode_default(x) for x in dft]
        return super().encode_default(dft)


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(schema_generator=_Generator)


def operation_schema() -> dict[str, Any]:
    """The spec schema: `spec` is checked against the model of the document's `kind`."""
    schema = model_schema(Operation)
    schema["$schema"] = DRAFT
    schema["title"] = "aurumplan operation spec"
    schema["properties"]["spec"] = {"type": "object", "description": schema["properties"]["spec"]["description"]}
    rules: list[dict[str, Any]] = []
    for kind in KINDS:
        then: dict[str, Any] = {"properties": {"spec": {"$ref": f"#/$defs/{kind}Spec"}}}
        if kind != "Backfill":
            then["properties"]["metadata"] = {"required": ["reason"]}
        rules.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]}, "then": then})
    schema["allOf"] = rules
    return schema


def config_schema() -> dict[str, Any]:
    """The aurumplan.yaml schema, without the fields the loader sets itself."""
    schema = model_schema(Config)
    schema["$schema"] = DRAFT
    schema["title"] = "aurumplan project configuration (aurumplan.yaml)"
    for name in LOADER_FIELDS:
        schema["properties"].pop(name, None)
    if "required" in schema:
        schema["required"] = [r for r in schema["required"] if r not in LOADER_FIELDS]
    return schema


def render_schema(schema: dict[str, Any]) -> str:
    """The committed form: sorted keys, indent 2, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


SCHEMA_FILES = {"operation.schema.json": operation_schema, "config.schema.json": config_schema}


def write_schemas(folder: str | Path) -> list[Path]:
    """Write both schema files into folder; returns the paths written."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in SCHEMA_FILES.items():
        path = out / name
        path.write_text(render_schema(build()), encoding="utf-8")
        written.append(path)
    return written
