"""Every shipped spec and config validates against its JSON schema as an editor loads it.

yaml-language-server (VS Code, Neovim, JetBrains) reads YAML 1.2 core: an unquoted `2024-01-01` is the
string "2024-01-01", not a date. The loader here is ruamel's YAML 1.2 with timestamps kept as their
text, so a schema that only accepted dates converted some other way would fail here as in the editor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import ScalarNode

ROOT = Path(__file__).parents[2]
SPECS = sorted(p for folder in ("examples", "plans") for p in (ROOT / folder).glob("*.yaml")
               if p.name != "aurumplan.yaml")
CONFIGS = [ROOT / "examples" / "aurumplan.yaml"]
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)


class EditorConstructor(SafeConstructor):
    """YAML 1.2 core as editors load it: a timestamp-looking scalar stays the text written."""

    def construct_yaml_timestamp(self, node: ScalarNode, values: Any = None) -> str:
        return str(node.value)


EditorConstructor.add_constructor("tag:yaml.org,2002:timestamp", EditorConstructor.construct_yaml_timestamp)


def editor_load(path: Path) -> Any:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    yaml.Constructor = EditorConstructor
    return yaml.load(path.read_text())


def schema_of(path: Path) -> Path:
    """The schema the file's modeline names, as the editor resolves it (relative to the file)."""
    m = MODELINE.search(path.read_text())
    assert m, f"{path.relative_to(ROOT)} has no `# yaml-language-server: $schema=...` line"
    return (path.parent / m.group(1)).resolve()


@pytest.mark.parametrize("path", SPECS + CONFIGS, ids=[p.relative_to(ROOT).as_posix() for p in SPECS + CONFIGS])
def test_shipped_file_validates_as_an_editor_loads_it(path: Path) -> None:
    schema_path = schema_of(path)
    expected = "config.schema.json" if path in CONFIGS else "operation.schema.json"
    assert schema_path == ROOT / "schemas" / expected
    data = editor_load(path)
    errors = list(jsonschema.Draft202012Validator(json.loads(schema_path.read_text())).iter_errors(data))
    assert errors == [], [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_unquoted_dates_reach_the_schema_as_text() -> None:
    """The loader really is the editor's: the dates a schema sees are the strings written in the file."""
    data = editor_load(ROOT / "examples" / "backfill-eia.yaml")
    assert data["spec"]["window"] == {"start": "2024-01-01", "end": "2024-01-07"}
    schema = json.loads((ROOT / "schemas" / "operation.schema.json").read_text())
    data["spec"]["window"]["start"] = "January 1st"
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data))
