"""docs/spec-reference.md, rendered from the models so the page cannot drift from the code.

Regenerate with
`.venv/bin/python -c "from aurumplan.spec.reference import write_reference; write_reference()"`.
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
import typing
from pathlib import Path
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, PlainValidator
from pydantic.fields import FieldInfo

from aurumplan import yamlpos as y
from aurumplan.spec import models as m
from aurumplan.spec import types as t

_PARSERS = {t.parse_duration: "duration", t.parse_when: "date or datetime", t.parse_date: "date",
            t.parse_datetime: "datetime", t.parse_hours: "hours", t.parse_rate_limit: "`auto` or number"}
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any"}
_NESTED = (m.Metadata, m.Window, m.Retries, m.Validation, m.Algorithm, m.Archive, m.TimeRange, m.Incremental,
           m.RollbackWhen)

_INTRO = """\
# Operation spec reference

<!-- Generated from aurumplan/spec/models.py by aurumplan.spec.reference.render_reference();
     do not edit by hand. A test fails when this page and the models differ. -->

An operation spec is one YAML document: `apiVersion`, `kind`, `metadata` and `spec`. Unknown keys are
errors (with a "did you mean"). `aurumplan validate SPEC...` reports every problem of every file as
`FILE:LINE:COL: message`. The JSON schema of the same format is `schemas/operation.schema.json`.
"""

_FORMATS = """\
## Value formats

- **date**: `2024-01-01` (a YAML date or a quoted string). As a window `end` it is inclusive: the whole
  day, in `spec.timezone`.
- **datetime**: `2024-01-01T09:00:00`, optionally with `Z` or an offset (`+01:00`). A datetime with an
  offset is converted to UTC; a naive datetime is wall time in `spec.timezone`. As an `end` it is
  exclusive.
- **duration**: a number with a unit: `500ms`, `10s`, `5m`, `1h`, `1d`; a bare number is seconds. The
  models hold a `datetime.timedelta`.
- **hours**: local hours of `date`, 0..23: an inclusive range `"10-16"`, a list `[14, 15, 16]`, or one
  hour `14`; held as a sorted tuple of distinct hours. On a daylight-saving day the hours are local
  wall-clock hours: on a 25-hour fall-back day the repeated hour covers both occurrences; on a 23-hour
  spring-forward day the skipped hour selects nothing.
- **timezone**: an IANA name (`UTC`, `America/New_York`).
- **path**: relative to the spec file and inside the spec's folder tree (symlinks are resolved); the
  file must exist. Python files (`migration`, `transform`) are checked, not run, when the spec is
  validated: they must parse and define the named function.
"""

_RULES = """\
## Rules across fields

- `metadata.reason` is required for `Replay` and `Reprocess`.
- `window.end` must not be before `window.start` (a date end is inclusive, so start = end is one day).
- `retries.backoff` must not exceed `retries.maxBackoff`.
- `datasets` and `series` list each name once; they must exist in the catalog (`series` may name a
  prefix: `PJM` selects `PJM.NG`, `PJM.COL`, ... in ELEC.GEN), and the source must not be `frozen`.
- Replay: `type: schema_correction` needs `schemaVersion`; `type: algorithm_update` needs `algorithm`;
  `migration` is only for `schema_correction`.
- Replay: rows are stamped with `schemaVersion`, else the catalog's version; a Replay without
  `schemaVersion` over rows at another version is a `!` conflict in the plan, and a `schema_correction`
  rewrites the stored rows through `migrate(record)` (docs/quality.md, "Schema versions").
- Reprocess takes exactly one selector: `date` (optionally with `hours`), `timeRange`, `failedRecords`,
  `incremental`, or `window`. `hours` needs `date`. `window` is allowed only together with `datasets`
  (a dataset-specific reprocess over a window); without `datasets`, select with `date` or `timeRange`.
  `hours` only applies to hourly datasets.
- Reprocess `incremental.field` must be a revision field the source publishes for every selected dataset
  (the catalog's `revision_fields`; built in: `realtime_start` for `fred`, none for the others).
"""


def _parser_name(info: FieldInfo) -> str | None:
    for meta in info.metadata:
        if isinstance(meta, PlainValidator) and meta.func in _PARSERS:
            return _PARSERS[meta.func]
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, PlainValidator) and meta.func in _PARSERS:
                return _PARSERS[meta.func]
            if isinstance(meta, m.SpecRelativePath):
                return "path"
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names)
    if origin is Literal:
        return "enum" if len(args) > 1 else f"`{args[0]}`"
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _literal_choices(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is Literal:
        return [str(a) for a in typing.get_args(annotation)]
    found: list[str] = []
    for arg in typing.get_args(annotation):
        found.extend(_literal_choices(arg))
    return found


def _constraints(info: FieldInfo) -> str:
    parts: list[str] = []
    bounds = {type(x): x for x in info.metadata}
    lo = bounds.get(Ge) or bounds.get(Gt)
    hi = bounds.get(Le) or bounds.get(Lt)
    if isinstance(lo, Ge) and isinstance(hi, Le):
        parts.append(f"{lo.ge}..{hi.le}")
    else:
        parts += [f">= {lo.ge}"] if isinstance(lo, Ge) else [f"> {lo.gt}"] if isinstance(lo, Gt) else []
        parts += [f"<= {hi.le}"] if isinstance(hi, Le) else [f"< {hi.lt}"] if isinstance(hi, Lt) else []
    if MinLen in bounds and not _parser_name(info):
        parts.append(f"min length {bounds[MinLen].min_length}")
    if MaxLen in bounds:
        parts.append(f"max length {bounds[MaxLen].max_length}")
    choices = _literal_choices(info.annotation)
    if len(choices) > 1:
        parts.append("one of " + ", ".join(f"`{c}`" for c in choices))
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if "pattern" in extra:
        parts.append(f"matches `{extra['pattern']}`")
    return "; ".join(parts)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "—"
    if isinstance(value, dt.timedelta):
        return f"`{t.format_duration(value)}`"
    if isinstance(value, BaseModel):
        return "defaults"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _table(model: type[BaseModel], names: list[str]) -> str:
    rows = ["| Key | Type | Default | Constraints | Description |", "|---|---|---|---|---|"]
    for name in names:
        info = model.model_fields[name]
        kind = _parser_name(info) or _type_name(info.annotation)
        cells = [f"`{name}`", kind, _default(info), _constraints(info), info.description or ""]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _own_fields(model: type[BaseModel]) -> list[str]:
    own = inspect.get_annotations(model)
    return [n for n in model.model_fields if n in own]


def _limits() -> str:
    return f"""\
## Limits

Specs and aurumplan.yaml are bounded before they cost time or memory; each limit is an error at the
offending line (`FILE:LINE:COL: message`):

- a file of at most {y.MAX_BYTES // 1024} KiB (a real spec is a few KB);
- at most {y.MAX_VALUES:,} values (map entries, list items, scalars) per file, YAML aliases counted each time
  they are used, so an alias bomb ("billion laughs") fails at once instead of expanding;
- at most {y.MAX_LIST:,} items in one list (e.g. `series`): split a larger operation into several specs;
- at most {y.MAX_DEPTH} levels of nesting;
- window dates in the years {m.MIN_YEAR}..{m.MAX_YEAR}; an impossible date (`2024-13-01`) is reported at
  its value.
"""


def render_reference() -> str:
    """The whole reference page as Markdown."""
    parts = [_INTRO, "\n## Document\n\n", _table(m.Operation, list(m.Operation.model_fields)),
             "\n## Common spec fields (every kind)\n\n", _table(m.BaseSpec, list(m.BaseSpec.model_fields))]
    for kind, model in m.SPEC_MODELS.items():
        parts.append(f"\n## kind: {kind}\n\n{_doc(model)}\n\nFields it adds or changes:\n\n")
        parts.append(_table(model, _own_fields(model)))
    for nested in _NESTED:
        parts.append(f"\n## {nested.__name__}\n\n{_doc(nested)}\n\n")
        parts.append(_table(nested, list(nested.model_fields)))
    parts += ["\n", _FORMATS, "\n", _RULES, "\n", _limits()]
    return "".join(parts)


def write_reference(path: str | Path = "docs/spec-reference.md") -> Path:
    out = Path(path)
    out.write_text(render_reference(), encoding="utf-8")
    return out
