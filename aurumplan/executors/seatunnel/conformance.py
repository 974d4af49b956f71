"""Check a SeaTunnel job config against the option tables, since SeaTunnel will not.

`seatunnel.sh --check` is a no-op in every 2.3.x release (docs/seatunnel.md, "Executors") and unknown keys are
silently ignored at run time, so a misspelled `paging` only shows as a job that reads one page.
These checks run on the reader's output (or the renderer's), both forms alike.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from aurumplan.executors.seatunnel.sqltext import find_from, unquote_ident
from aurumplan.executors.seatunnel.tables import Option, Table, Version, load_tables, parse_version

STAGES = ("source", "transform", "sink")
RESERVED_VARIABLES = frozenset({
    "database_name", "schema_name", "table_name", "schema_full_name", "table_full_name",
    "primary_key", "unique_key", "field_names", "partition_keys",
})
_UNRESOLVED = re.compile(r"^\$\{\??[^}]+\}$")
_BOOL_WORDS = {"true", "false", "yes", "no", "on", "off"}
_SENSITIVE = re.compile(r"password|secret|token|api_?key|registrationkey", re.IGNORECASE)


def _v(version: Version) -> str:
    return ".".join(map(str, version))


def _is_unresolved(val: Any) -> bool:
    return isinstance(val, str) and bool(_UNRESOLVED.match(val))


def _is_set(val: Any) -> bool:
    """Set for the purpose of rules: present, not null, not false."""
    if val is None or val is False:
        return False
    return not (isinstance(val, str) and val.strip().lower() == "false")


def _type_problem(opt: Option, val: Any) -> str | None:
    """Why val cannot be read as opt.type (SeaTunnel/Typesafe coercions allowed), or None."""
    if val is None or opt.type == "any" or _is_unresolved(val):
        return None
    scalar = isinstance(val, (str, int, float, bool))
    t = opt.type
    if t == "string":
        ok = scalar
    elif t in ("int", "long"):
        ok = (isinstance(val, int) and not isinstance(val, bool)) or (
            isinstance(val, float) and val.is_integer()) or (
            isinstance(val, str) and re.fullmatch(r"\s*[+-]?\d+\s*", val) is not None)
    elif t == "bool":
        ok = isinstance(val, bool) or (isinstance(val, str) and val.strip().lower() in _BOOL_WORDS)
    elif t == "enum":
        ok = scalar and str(val).lower() in {v.lower() for v in opt.values}
        if not ok:
            return f"must be one of {', '.join(opt.values)}, got {val!r}"
    elif t in ("map", "object"):
        ok = isinstance(val, dict)
    else:  # list: SeaTunnel also splits a plain string on commas
        ok = isinstance(val, (list, str))
    return None if ok else f"must be {t}, got {type(val).__name__} {val!r}"


class _Checker:
    def __init__(self, version: Version) -> None:
        self.version = version
        self.problems: list[str] = []

    def walk(self, d: Mapping[str, Any], table: Table, where: str, prefix: str = "",
             present: dict[str, tuple[str, Any]] | None = None) -> dict[str, tuple[str, Any]]:
        """Check every key of d; return canonical option -> (key used, value)."""
        present = {} if present is None else present
        for key, val in d.items():
            path = prefix + key
            if prefix == "" and key == "plugin_name":
                continue
            if path in table.removed:
                self.problems.append(f"{where}: option '{path}' is not read by SeaTunnel: {table.removed[path]}")
                continue
            opt = table.lookup(path)
            if opt is not None:
                self.option(opt, path, val, table, where, present)
            elif isinstance(val, dict) and table.is_prefix(path):
                self.walk(val, table, where, path + ".", present)
            elif any((path + ".").startswith(p) for p in table.passthrough_prefixes):
                continue
            else:
                self.unknown(path, table, where)
        return present

    def option(self, opt: Option, path: str, val: Any, table: Table, where: str,
               present: dict[str, tuple[str, Any]]) -> None:
        canonical = table.aliases.get(path, path)
        if canonical in present:
            self.problems.append(
                f"{where}: both '{present[canonical][0]}' and '{path}' are set; they are the same option")
        present[canonical] = (path, val)
        if opt.since and self.version < opt.since:
            older = [a for a, t in table.aliases.items() if t == path]
            hint = f"; use '{older[0]}' for older versions" if older else ""
            self.problems.append(
                f"{where}: option '{path}' needs SeaTunnel >= {_v(opt.since)} (target {_v(self.version)}){hint}")
        why = _type_problem(opt, val)
        if why:
            self.problems.append(f"{where}: option '{path}' {why}")
        elif opt.sub is not None and isinstance(val, dict):
            sub_present = self.walk(val, opt.sub, f"{where}.{path}")
            self.rules(opt.sub, sub_present, f"{where}.{path}")

    def unknown(self, path: str, table: Table, where: str) -> None:
        near = difflib.get_close_matches(path, [*table.options, *table.aliases], n=1, cutoff=0.7)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        self.problems.append(f"{where}: unknown option '{path}'{hint}")

    def rules(self, table: Table, present: dict[str, tuple[str, Any]], where: str) -> None:
        """Required options and the table's one-of / conditional rules."""
        for key, opt in table.options.items():
            if opt.required and not (key in present and present[key][1] is not None):
                self.problems.append(f"{where}: missing required option '{key}'")
        is_set = {k for k, (_, v) in present.items() if _is_set(v)}
        for group in table.rules.get("at_least_one", []):
            if not is_set.intersection(group):
                self.problems.append(f"{where}: needs one of {', '.join(group)}")
        for group in table.rules.get("at_most_one", []):
            both = [k for k in group if k in is_set]
            if len(both) > 1:
                self.problems.append(f"{where}: sets more than one of {', '.join(both)}; choose one")
        for rule in table.rules.get("requires_if", []):
            key = rule["option"]
            if key not in present:
                continue
            val = present[key][1]
            fires = _is_set(val) if rule.get("present") else str(val).strip().lower() == str(
                rule.get("equals")).lower()
            for need in rule["require"]:
                if need not in is_set and fires:
                    self.problems.append(f"{where}: '{key}' = {val!r} needs option '{need}'")


def _names(val: Any) -> list[str]:
    if isinstance(val, list):
        return [str(x) for x in val]
    if isinstance(val, str):
        return [s.strip() for s in val.split(",") if s.strip()]
    return []


def _wiring(parsed: Mapping[str, Any], presents: dict[tuple[str, int], dict[str, tuple[str, Any]]],
            problems: list[str]) -> None:
    """plugin_input must name an upstream plugin_output; several plugins in a stage need wiring."""
    outputs: dict[str, str] = {}
    multi = any(len(parsed.get(s, [])) > 1 for s in STAGES)
    for stage in STAGES:
        for i, plugin in enumerate(parsed.get(stage, [])):
            where = f"{stage}[{i}] {plugin.get('plugin_name')}"
            present = presents.get((stage, i), {})
            out = present.get("plugin_output", (None, None))[1]
            ins = _names(present.get("plugin_input", (None, None))[1])
            if stage != "source":
                for name in ins:
                    if not _is_unresolved(name) and name not in outputs:
                        known = ", ".join(sorted(outputs)) or "none"
                        problems.append(f"{where}: plugin_input '{name}' names no upstream plugin_output "
                                        f"(known: {known})")
            if stage != "sink" and out is not None:
                if str(out) in outputs:
                    problems.append(f"{where}: plugin_output '{out}' is also the output of {outputs[str(out)]}")
                outputs[str(out)] = where
            if multi and stage != "source" and not ins:
                problems.append(f"{where}: no plugin_input, but the job has a stage with several plugins")
            if multi and stage != "sink" and out is None:
                problems.append(f"{where}: no plugin_output, but the job has a stage with several plugins")
            if stage == "transform" and str(plugin.get("plugin_name", "")).lower() == "sql":
                _sql_from(plugin, ins, where, problems)


def _sql_from(plugin: Mapping[str, Any], ins: list[str], where: str, problems: list[str]) -> None:
    query = plugin.get("query")
    if not isinstance(query, str) or len(ins) != 1:
        return
    clause = find_from(query)
    if clause is None:
        return
    table = unquote_ident(clause.table)
    if table != ins[0] and table.lower() != "dual":
        problems.append(f"{where}: query reads FROM '{table}' but plugin_input is '{ins[0]}'; "
                        "the FROM table must be the plugin_input name")


def check_config(parsed: Mapping[str, Any], version: str = "2.3.12") -> list[str]:
    """Every problem found in a parsed job config (reader output) for the target SeaTunnel version."""
    tables = load_tables()
    checker = _Checker(parse_version(version))
    env = parsed.get("env", {})
    if isinstance(env, Mapping):
        env_present = checker.walk(env, tables.env, "env")
        checker.rules(tables.env, env_present, "env")
    presents: dict[tuple[str, int], dict[str, tuple[str, Any]]] = {}
    for stage in STAGES:
        if not parsed.get(stage) and stage != "transform":
            checker.problems.append(f"{stage}: no plugin")
        for i, plugin in enumerate(parsed.get(stage, [])):
            name = str(plugin.get("plugin_name", ""))
            found = tables.plugin(stage, name)
            if found is None:
                known = ", ".join(n for n, _ in tables.plugins[stage].values())
                checker.problems.append(f"{stage}[{i}]: unknown {stage} plugin '{name}' (known: {known})")
                continue
            canonical, table = found
            where = f"{stage}[{i}] {canonical}"
            present = checker.walk(plugin, table, where)
            checker.rules(table, present, where)
            presents[(stage, i)] = present
    _wiring(parsed, presents, checker.problems)
    return checker.problems


def check_cli_variables(parsed: Mapping[str, Any], variables: Mapping[str, str]) -> list[str]:
    """Problems with `-i name=value` variables for this config (docs/seatunnel.md, "-i variables").

    `-i` values go through a regex pass over every string, the same pass that fills Http paging
    placeholders, and through an unquoted shell `$@`; so a variable named like a page field would
    freeze pagination, and spaces, commas or secrets in values break or leak.
    """
    problems: list[str] = []
    page_names: set[str] = set()
    for plugin in parsed.get("source", []):
        paging = plugin.get("pageing")
        if str(plugin.get("plugin_name", "")).lower() == "http" and isinstance(paging, dict):
            page_names.add(str(paging.get("page_field", "page")))
            if paging.get("cursor_field"):
                page_names.add(str(paging["cursor_field"]))
    for name, value in variables.items():
        if name in RESERVED_VARIABLES:
            problems.append(f"-i {name}: reserved placeholder name, SeaTunnel refuses it")
        if name in page_names:
            problems.append(f"-i {name}: same name as an Http paging placeholder; it would pin the page")
        if _SENSITIVE.search(name):
            problems.append(f"-i {name}: looks like a secret; -i values are visible in `ps`, use an env var")
        if not re.fullmatch(r"[A-Za-z_][\w.\-]*", name):
            problems.append(f"-i {name!r}: not a usable variable name")
        if re.search(r"\s", str(value)):
            problems.append(f"-i {name}: value contains whitespace, which seatunnel.sh splits")
        if "," in str(value):
            problems.append(f"-i {name}: value contains a comma, which SeaTunnel splits")
    return problems
