"""YAML read with ruamel.yaml keeping the line and column of every key and value.

Specs and aurumplan.yaml both go through here so that every error, from a syntax slip to a
value out of range, can point at `FILE:LINE:COL`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from aurumplan.errors import Diagnostic

Path = tuple[str | int, ...]


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


def _plain(node: Any, path: Path, doc: YamlDoc) -> Any:
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
            out[k] = _plain(v, p, doc)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, v in enumerate(node):
            p = (*path, i)
            try:
                il, ic = node.lc.item(i)
                doc.values[p] = (il + 1, ic + 1)
                doc.keys[p] = (il + 1, ic + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            items.append(_plain(v, p, doc))
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


def load_yaml(text: str, file: str) -> YamlDoc:
    """Parse text; a syntax error becomes a SpecError-ready Diagnostic list via YamlSyntaxError."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise YamlSyntaxError([Diagnostic(file, line, col, f"YAML syntax error: {problem}")]) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. bad tags)
        raise YamlSyntaxError([Diagnostic(file, 1, 1, f"YAML syntax error: {exc}")]) from None
    doc = YamlDoc(file, None)
    doc.data = _plain(node, (), doc)
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


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model class that owns the last key of loc, following nested fields."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            current = None
            continue
        current = _inner_model(fields[part].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def validation_diagnostics(err: ValidationError, doc: YamlDoc, model: type[BaseModel],
                           prefix: Path = ()) -> list[Diagnostic]:
    """Each pydantic error as a Diagnostic at the offending key or value."""
    out: list[Diagnostic] = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # discriminated unions add the tag to loc ("Backfill"); drop it when it is not a real key
        path: list[str | int] = list(prefix)
        node: Any = doc.data
        for p in prefix:
            node = node.get(p) if isinstance(node, dict) else None
        for part in loc:
            if (isinstance(node, dict) and part in node) or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
                path.append(part)
                node = node[part]
            elif e["type"] in ("extra_forbidden", "missing") and part == loc[-1]:
                path.append(part)
        kind = e["type"]
        if kind == "extra_forbidden":
            owner = _model_at(model, [p for p in loc])
            choices = list(owner.model_fields) if owner else []
            hint = did_you_mean(str(loc[-1]), choices)
            out.append(doc.diag(path, f"unknown key '{loc[-1]}'{hint}", key=True))
        elif kind == "missing":
            out.append(doc.diag(path[:-1], f"missing required key '{loc[-1]}'", key=True))
        else:
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            where = ".".join(str(p) for p in loc) or "document"
            out.append(doc.diag(path, f"{where}: {msg}"))
    return out
