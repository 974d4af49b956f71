"""YAML read with ruamel.yaml keeping the line and column of every key and value.

Specs and aurumplan.yaml both go through here so that every error, from a syntax slip to a
value out of range, can point at `FILE:LINE:COL`.

Hostile input is bounded before it costs anything (docs/spec-reference.md, "Limits"): a file
larger than MAX_BYTES is refused unread, and reading stops at MAX_VALUES values (aliases count
each time they are used, so a "billion laughs" file fails after MAX_VALUES, not after expanding),
MAX_LIST items in one list or MAX_DEPTH levels of nesting.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError

from aurumplan.errors import Diagnostic

Path = tuple[str | int, ...]

MAX_BYTES = 256 * 1024
"""Largest spec or config file read (a real one is a few KB; parsing YAML with positions is slow)."""
MAX_VALUES = 50_000
"""Most values (map entries, list items, scalars) one file may hold, aliases counted where used."""
MAX_LIST = 10_000
"""Most items in one list (e.g. `series`)."""
MAX_DEPTH = 32
"""Deepest nesting of maps and lists."""


class _Constructor(RoundTripConstructor):
    """Round-trip constructor whose bad dates (2024-13-01) are errors at the value, not at 1:1."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(None, None, f"invalid date {node.value!r}: {exc}", node.start_mark) from None


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


class _TooBig(Exception):
    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


@dataclass
class YamlDoc:
    """Plain data (dicts, lists, scalars) plus where each path came from (1-based)."""

    file: str
    data: Any
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """Position of path's key (key=True) or value, else of its nearest known ancestor."""
        p = tuple(path)
        while True:
            table = self.keys if key else self.values
            if p in table:
                return table[p]
            if p in self.keys:
                return self.keys[p]
            if not p:
                return 1, 1
            p = p[:-1]

    def diag(self, path: Sequence[str | int], message: str, *, key: bool = False) -> Diagnostic:
        line, col = self.where(path, key=key)
        return Diagnostic(self.file, line, col, message)


def _plain(node: Any, path: Path, doc: YamlDoc, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(path, f"more than {MAX_VALUES} values (YAML aliases count each time they are used): "
                            "this cannot be a spec or config; remove the aliases or split the file")
    if len(path) > MAX_DEPTH:
        raise _TooBig(path, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for k, v in node.items():
            p = (*path, k)
            try:
                kl, kc = node.lc.key(k)
                doc.keys[p] = (kl + 1, kc + 1)
                vl, vc = node.lc.value(k)
                doc.values[p] = (vl + 1, vc + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            out[k] = _plain(v, p, doc, budget)
        return out
    if isinstance(node, CommentedSeq):
        if len(node) > MAX_LIST:
            raise _TooBig(path, f"a list of {len(node)} items, above the limit of {MAX_LIST}: split the operation")
        items = []
        for i, v in enumerate(node):
            p = (*path, i)
            try:
                il, ic = node.lc.item(i)
                doc.values[p] = (il + 1, ic + 1)
                doc.keys[p] = (il + 1, ic + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            items.append(_plain(v, p, doc, budget))
        return items
    if isinstance(node, dt.datetime):
        return dt.datetime(node.year, node.month, node.day, node.hour, node.minute, node.second,
                           node.microsecond, tzinfo=node.tzinfo)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _flow_depth(text: str) -> tuple[int, int] | None:
    """(line, col) where `[`/`{` nesting first passes MAX_DEPTH, outside quotes and comments; else None.

    The YAML parser recurses per level and takes seconds on thousands of levels, so this is
    checked on the text first.
    """
    depth, line, col, quote, prev = 0, 1, 0, "", "\n"
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and prev in " \t\n[{,:":
            quote = ch
        elif ch == "#" and prev in " \t\n":
            j = text.find("\n", i)
            i, prev = (n if j < 0 else j), "#"
            continue
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, col
        elif ch in "]}":
            depth -= 1
        prev = ch
        i += 1
    return None


def load_yaml(text: str, file: str) -> YamlDoc:
    """Parse text; a syntax error or a limit exceeded becomes a Diagnostic list via YamlSyntaxError."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise YamlSyntaxError([Diagnostic(file, 1, 1, f"file is {size // 1024} KiB, above the limit of "
                                                      f"{MAX_BYTES // 1024} KiB: split the operation")])
    deep = _flow_depth(text)
    if deep is not None:
        raise YamlSyntaxError([Diagnostic(file, deep[0], deep[1], f"nested more than {MAX_DEPTH} levels deep")])
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        text = problem if problem.startswith("invalid date") else f"YAML syntax error: {problem}"
        raise YamlSyntaxError([Diagnostic(file, line, col, text)]) from None
    except RecursionError:
        raise YamlSyntaxError([Diagnostic(file, 1, 1, f"nested more than {MAX_DEPTH} levels deep")]) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. bad tags)
        raise YamlSyntaxError([Diagnostic(file, 1, 1, f"YAML syntax error: {exc}")]) from None
    doc = YamlDoc(file, None)
    try:
        doc.data = _plain(node, (), doc, [MAX_VALUES])
    except _TooBig as exc:
        raise YamlSyntaxError([doc.diag(exc.path, exc.message)]) from None
    return doc


class YamlSyntaxError(Exception):
    """Carries the diagnostics of an unparsable file; callers wrap it in their SpecError kind."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(str(d) for d in diagnostics))
        self.diagnostics = diagnostics


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a close match exists, else empty."""
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _members(annotation: Any) -> list[tuple[str | None, type[BaseModel]]]:
    """The models an annotation can hold, each with its discriminator tag (if any)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(None, annotation)]
    out: list[tuple[str | None, type[BaseModel]]] = []
    args = typing.get_args(annotation)
    tag = next((getattr(m, "tag", None) for m in getattr(annotation, "__metadata__", ())
                if type(m).__name__ == "Tag"), None)
    for arg in args:
        for t, model in _members(arg):
            out.append((t or tag, model))
    return out


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model class that owns the last key of loc, following nested fields and tags."""
    candidates: list[tuple[str | None, type[BaseModel]]] = [(None, model)]
    for part in loc[:-1]:
        if isinstance(part, int) or not candidates:
            continue
        tagged = [m for t, m in candidates if t == part]
        if tagged:
            candidates = [(None, tagged[0])]
            continue
        owner = next((m for _, m in candidates if part in m.model_fields), None)
        if owner is not None:
            candidates = _members(owner.model_fields[part].annotation)
        # else: a key of a dict[str, Model] (e.g. a source name): the same models apply below it
    return candidates[0][1] if len(candidates) == 1 else None


def _choices(ctx: dict[str, Any] | None) -> list[str]:
    """The allowed values pydantic lists in a literal/enum error (`'a', 'b' or 'c'`)."""
    return re.findall(r"'([^']*)'", str((ctx or {}).get("expected", "")))


_BOUNDS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_short", "too_long")


def validation_diagnostics(err: ValidationError | Sequence[ErrorDetails], doc: YamlDoc,
                           model: type[BaseModel], prefix: Path = ()) -> list[Diagnostic]:
    """Each pydantic error as a Diagnostic at the offending key or value.

    Locations name the YAML keys only (discriminator tags and union branches pydantic adds are
    dropped); an error about a whole mapping points at its key; an unknown key or value says
    what would be valid, with a did-you-mean. err may be a ValidationError or its (filtered) errors().
    """
    out: list[Diagnostic] = []
    for e in err.errors() if isinstance(err, ValidationError) else err:
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path: list[str | int] = list(prefix)
        node: Any = doc.data
        for p in prefix:
            node = node.get(p) if isinstance(node, dict) else None
        for part in loc:
            in_map = isinstance(node, dict) and part in node
            in_seq = isinstance(node, list) and isinstance(part, int) and part < len(node)
            if in_map or in_seq:
                path.append(part)
                node = node[part]
            elif e["type"] in ("extra_forbidden", "missing") and part == loc[-1]:
                path.append(part)
        kind = e["type"]
        where = ".".join(str(p) for p in path) or "document"
        if kind == "extra_forbidden":
            owner = _model_at(model, list(loc))
            choices = list(owner.model_fields) if owner else []
            hint = did_you_mean(str(loc[-1]), choices)
            if not hint and choices:
                hint = f"; valid keys here: {', '.join(choices)}"
            out.append(doc.diag(path, f"unknown key '{loc[-1]}'{hint}", key=True))
        elif kind == "missing":
            out.append(doc.diag(path[:-1], f"missing required key '{loc[-1]}'", key=True))
        elif kind in ("literal_error", "enum"):
            choices = _choices(e.get("ctx"))
            value = e.get("input")
            hint = did_you_mean(str(value), choices)
            out.append(doc.diag(path, f"{where}: unknown value {value!r}: use one of "
                                      f"{', '.join(choices)}{hint}"))
        else:
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            typed = kind in _BOUNDS or kind.endswith(("_parsing", "_type"))
            if typed and not isinstance(e.get("input"), dict | list) and len(repr(e.get("input"))) <= 40:
                msg = f"{msg} (got {e.get('input')!r})"
            out.append(doc.diag(path, f"{where}: {msg}", key=isinstance(node, dict)))
    return _drop_misspelled_missing(out)


def _drop_misspelled_missing(diags: list[Diagnostic]) -> list[Diagnostic]:
    """`missing 'window'` says nothing new next to `unknown key 'windwo' (did you mean 'window'?)`."""
    suggested = {re.search(r"did you mean '([^']*)'", d.message) for d in diags
                 if d.message.startswith("unknown key ")}
    names = {m.group(1) for m in suggested if m}
    return [d for d in diags if not (d.message.startswith("missing required key ")
                                     and d.message.split("'")[1] in names)]
