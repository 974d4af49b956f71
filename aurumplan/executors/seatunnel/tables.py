"""The SeaTunnel option tables (options.yaml), loaded once into plain typed records.

Kept as data so that a new SeaTunnel release is a table edit, not a code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any

from ruamel.yaml import YAML

TYPES = frozenset({"string", "int", "long", "bool", "enum", "map", "list", "object", "any"})
Version = tuple[int, int, int]


def parse_version(v: str) -> Version:
    """'2.3.12' / '2.3.9-SNAPSHOT' -> (2, 3, 12); why: versions compare as numbers, not text."""
    m = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", str(v))
    if not m:
        raise ValueError(f"not a SeaTunnel version: {v!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


@dataclass(frozen=True)
class Option:
    """One option key: its type, whether it is required, and the first version that reads it."""

    key: str
    type: str
    required: bool = False
    since: Version | None = None
    values: tuple[str, ...] = ()
    sub: Table | None = None


@dataclass(frozen=True)
class Table:
    """Options of a plugin (or env, or an object option), plus aliases, removed keys and rules."""

    options: dict[str, Option]
    aliases: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    passthrough_prefixes: tuple[str, ...] = ()

    def lookup(self, key: str) -> Option | None:
        """The option for key, following an alias (an alias never carries `since`)."""
        if key in self.options:
            return self.options[key]
        if key in self.aliases:
            target = self.options[self.aliases[key]]
            return Option(key, target.type, False, None, target.values, target.sub)
        return None

    def is_prefix(self, path: str) -> bool:
        """True when some dotted key starts with `path.` (HOCON nests `a.b = 1` as a { b = 1 })."""
        head = path + "."
        return any(k.startswith(head) for k in (*self.options, *self.aliases, *self.removed))


@dataclass(frozen=True)
class Tables:
    """Everything options.yaml says, by stage and lower-cased plugin name."""

    seatunnel_version: str
    wiring_since: Version
    env: Table
    plugins: dict[str, dict[str, tuple[str, Table]]]  # stage -> lower name -> (canonical name, table)

    def plugin(self, stage: str, name: str) -> tuple[str, Table] | None:
        return self.plugins[stage].get(name.lower())


def _option(key: str, spec: Any) -> Option:
    if isinstance(spec, str):
        spec = {"type": spec}
    t = spec.get("type")
    if t not in TYPES:
        raise ValueError(f"options.yaml: {key}: unknown type {t!r}")
    since = parse_version(spec["since"]) if spec.get("since") else None
    sub = _table({"options": spec["options"]}) if "options" in spec else None
    return Option(key, t, bool(spec.get("required", False)), since, tuple(spec.get("values", ())), sub)


def _table(spec: dict[str, Any], common: dict[str, Any] | None = None) -> Table:
    common = common or {}
    opts = {k: _option(k, v) for k, v in {**common.get("options", {}), **spec.get("options", {})}.items()}
    aliases = {**common.get("aliases", {}), **spec.get("aliases", {})}
    for alias, target in aliases.items():
        if target not in opts:
            raise ValueError(f"options.yaml: alias {alias} -> unknown option {target}")
    return Table(opts, aliases, dict(spec.get("removed", {})), dict(spec.get("rules", {})),
                 tuple(spec.get("passthrough_prefixes", ())))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


@lru_cache(maxsize=1)
def load_tables() -> Tables:
    """Parse the packaged options.yaml (cached: it never changes at run time)."""
    text = (files("aurumplan.executors.seatunnel") / "options.yaml").read_text(encoding="utf-8")
    raw = _plain(YAML(typ="safe", pure=True).load(text))
    plugins: dict[str, dict[str, tuple[str, Table]]] = {}
    for stage in ("source", "transform", "sink"):
        common = raw["common"][stage]
        plugins[stage] = {n.lower(): (n, _table(s, common)) for n, s in raw[stage].items()}
    return Tables(str(raw["seatunnel_version"]), parse_version(raw["wiring_names_since"]),
                  _table(raw["env"]), plugins)
