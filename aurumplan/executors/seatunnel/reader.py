"""Read SeaTunnel job configs the way SeaTunnel reads them, not the way plain HOCON does.

SeaTunnel's patched HOCON parser turns each child of `source`/`transform`/`sink` into a list
element with `plugin_name`, keeping order and duplicates; pyhocon would merge two `Console {}`
blocks into one (docs/seatunnel.md, "Duplicate plugin blocks"). So the stage blocks are cut out
textually here and only each plugin body (and the rest of the file, e.g. `env`) goes through pyhocon, unresolved.

Result shape, for both `.conf` and `.json`: {"env": dict, "source": [plugin], "transform": [plugin],
"sink": [plugin]}, each plugin a plain dict with "plugin_name" first. Unresolved substitutions
(`${X}`, which SeaTunnel fills from the environment or `-i`) come back as the text "${X}".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyhocon import ConfigFactory
from pyhocon.config_tree import ConfigQuotedString, ConfigSubstitution, ConfigTree, ConfigValues

from aurumplan.errors import ExecutorError

STAGES = ("source", "transform", "sink")
ParsedConfig = dict[str, Any]


class ConfigReadError(ExecutorError):
    """A SeaTunnel config cannot be read: the message says where and why."""


def read_config_file(path: str | Path) -> ParsedConfig:
    """Read a job config file; `.json` is the list form, `.sql` is refused, anything else is HOCON."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".sql":
        raise ConfigReadError(f"{p}: the SQL config format is not supported")
    return read_config(text, fmt="json" if p.suffix == ".json" else "hocon", name=str(p))


def read_config(text: str, *, fmt: str = "hocon", name: str = "<config>") -> ParsedConfig:
    """Parse config text (fmt "hocon" or "json") into env + ordered plugin lists."""
    if fmt == "json":
        return _read_json(text, name)
    if fmt != "hocon":
        raise ValueError(f"unknown config format {fmt!r}")
    return _read_hocon(text, name)


def _read_json(text: str, name: str) -> ParsedConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigReadError(f"{name}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise ConfigReadError(f"{name}: a JSON job config is an object with env/source/transform/sink")
    env = data.get("env", {})
    if not isinstance(env, dict):
        raise ConfigReadError(f"{name}: `env` must be an object")
    out: ParsedConfig = {"env": env}
    for stage in STAGES:
        plugins = data.get(stage, [])
        if not isinstance(plugins, list):
            raise ConfigReadError(f"{name}: `{stage}` must be a list of plugin objects in JSON form")
        for i, p in enumerate(plugins):
            if not isinstance(p, dict) or not isinstance(p.get("plugin_name"), str):
                raise ConfigReadError(f"{name}: {stage}[{i}] needs a string `plugin_name`")
        out[stage] = [{"plugin_name": p["plugin_name"], **p} for p in plugins]
    return out


# ---------------------------------------------------------------- HOCON: textual scan


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _skip_string(text: str, i: int, name: str) -> int:
    """i is at a quote; return the index just past the string (triple or single quoted)."""
    if text.startswith('"""', i):
        end = text.find('"""', i + 3)
        if end < 0:
            raise ConfigReadError(f"{name}:{_line_of(text, i)}: unterminated triple-quoted string")
        end += 3
        while end < len(text) and text[end] == '"':  # `""""` closes with the quotes as content
            end += 1
        return end
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        if c == "\n":
            break
        j += 1
    raise ConfigReadError(f"{name}:{_line_of(text, i)}: unterminated string")


def _skip_comment(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _is_comment(text: str, i: int) -> bool:
    return text[i] == "#" or text.startswith("//", i)


def _skip_ws(text: str, i: int, *, commas: bool = False) -> int:
    """Skip whitespace and comments (and commas between fields when commas=True)."""
    while i < len(text):
        c = text[i]
        if c.isspace() or (commas and c == ","):
            i += 1
        elif _is_comment(text, i):
            i = _skip_comment(text, i)
        else:
            break
    return i


def _match_brace(text: str, open_pos: int, name: str) -> int:
    """Index of the bracket closing the `{` or `[` at open_pos, skipping strings and comments."""
    stack: list[str] = []
    i = open_pos
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _skip_string(text, i, name)
            continue
        if _is_comment(text, i):
            i = _skip_comment(text, i)
            continue
        if c in "{[":
            stack.append("}" if c == "{" else "]")
        elif c in "}]":
            if not stack or stack.pop() != c:
                break
            if not stack:
                return i
        i += 1
    raise ConfigReadError(f"{name}:{_line_of(text, open_pos)}: unbalanced braces")


_KEY_STOP = set(" \t\r\n{}[]=:,#\"")


def _read_key(text: str, i: int, name: str) -> tuple[str, int]:
    """A field key at i (quoted or unquoted); returns (key, index after it)."""
    if text[i] == '"':
        end = _skip_string(text, i, name)
        return json.loads(text[i:end]), end
    j = i
    while j < len(text) and text[j] not in _KEY_STOP and not text.startswith("//", j):
        j += 1
    if j == i:
        raise ConfigReadError(f"{name}:{_line_of(text, i)}: expected a key, found {text[i]!r}")
    return text[i:j], j


def _object_after_key(text: str, i: int, name: str, key: str) -> tuple[int, int]:
    """After a key: optional `=`/`:` then `{`; return (open, close) brace indexes."""
    i = _skip_ws(text, i)
    if i < len(text) and text[i] in "=:":
        i = _skip_ws(text, i + 1)
    if i >= len(text) or text[i] != "{":
        found = "end of file" if i >= len(text) else repr(text[i])
        raise ConfigReadError(
            f"{name}:{_line_of(text, i)}: `{key}` must be an object block `{key} {{ ... }}`, found {found}"
            + (" (use a .json file for the list form)" if key in STAGES else "")
        )
    return i, _match_brace(text, i, name)


def _split_top_level(text: str, name: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """Blank out the stage blocks (keeping line numbers) and return their brace spans."""
    spans: dict[str, tuple[int, int]] = {}
    rest = list(text)
    i = _skip_ws(text, 0, commas=True)
    if i < len(text) and text[i] == "{":  # a root object in braces is allowed in HOCON
        close = _match_brace(text, i, name)
        text = text[: close] + " " + text[close + 1:]
        rest[i] = rest[close] = " "
        i += 1
    while True:
        i = _skip_ws(text, i, commas=True)
        if i >= len(text):
            break
        start = i
        key, i = _read_key(text, i, name)
        if key in STAGES:
            open_pos, close = _object_after_key(text, i, name, key)
            if key in spans:
                raise ConfigReadError(f"{name}:{_line_of(text, start)}: a second `{key}` block")
            spans[key] = (open_pos, close)
            for k in range(start, close + 1):
                if rest[k] != "\n":
                    rest[k] = " "
            i = close + 1
        else:
            i = _skip_value(text, i, name)
    return "".join(rest), spans


def _skip_value(text: str, i: int, name: str) -> int:
    """Skip a non-stage top-level field's value: an object/list, or the rest of its line."""
    i = _skip_ws(text, i)
    if i < len(text) and text[i] in "=:":
        i = _skip_ws(text, i + 1)
    while i < len(text) and text[i] != "\n":
        c = text[i]
        if c == '"':
            i = _skip_string(text, i, name)
        elif c in "{[":
            return _match_brace(text, i, name) + 1
        elif _is_comment(text, i) or c == ",":
            return i
        else:
            i += 1
    return i


def _plugin_blocks(text: str, open_pos: int, close: int, name: str, stage: str) -> list[tuple[str, str]]:
    """(plugin name, body text) of each child block of a stage, in order, duplicates kept."""
    out: list[tuple[str, str]] = []
    i = open_pos + 1
    while True:
        i = _skip_ws(text, i, commas=True)
        if i >= close:
            return out
        key, i = _read_key(text, i, name)
        if key in STAGES:
            raise ConfigReadError(f"{name}:{_line_of(text, i)}: a plugin may not be named `{key}`")
        b_open, b_close = _object_after_key(text, i, name, f"{stage}.{key}")
        # pad with newlines so that pyhocon's line numbers match the file's
        pad = "\n" * (_line_of(text, b_open) - 1)
        out.append((key, pad + text[b_open + 1: b_close]))
        i = b_close + 1


# ---------------------------------------------------------------- pyhocon -> plain data


def _plain(v: Any, where: str) -> Any:
    """pyhocon value -> plain Python; unresolved substitutions become "${X}" text."""
    if isinstance(v, ConfigTree):
        return {_unquote_key(k): _plain(x, where) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x, where) for x in v]
    if isinstance(v, ConfigValues):
        return _join_tokens(v, where)
    if isinstance(v, ConfigSubstitution):
        return _subst_text(v)
    return v


def _subst_text(s: ConfigSubstitution) -> str:
    return "${" + ("?" if s.optional else "") + str(s.variable) + "}"


def _join_tokens(v: ConfigValues, where: str) -> Any:
    toks = [t for t in v.tokens if t is not None]
    if len(toks) == 1 and isinstance(toks[0], ConfigSubstitution):
        return _subst_text(toks[0])
    parts: list[str] = []
    for n, t in enumerate(toks):
        last = n == len(toks) - 1
        if isinstance(t, ConfigSubstitution):
            parts.append(_subst_text(t) + ("" if last else (t.ws or "")))
        elif isinstance(t, ConfigQuotedString):
            parts.append(t.value + ("" if last else (t.ws or "")))
        elif isinstance(t, (ConfigTree, list, ConfigValues)):
            raise ConfigReadError(f"{where}: object or list concatenation with a substitution is not supported")
        else:
            parts.append(str(t))
    return "".join(parts)


def _unquote_key(k: str) -> str:
    if len(k) >= 2 and k[0] == '"' and k[-1] == '"':
        return str(json.loads(k))
    return k


def _parse_body(body: str, where: str) -> dict[str, Any]:
    try:
        # pyhocon reads `x = 1 ` at the very end of input as the string "1": end on a newline
        tree = ConfigFactory.parse_string(body.rstrip() + "\n", resolve=False)
    except Exception as e:  # pyhocon raises pyparsing and its own errors alike
        raise ConfigReadError(f"{where}: {e}") from None
    plain: dict[str, Any] = _plain(tree, where)
    return plain


def _read_hocon(text: str, name: str) -> ParsedConfig:
    rest, spans = _split_top_level(text, name)
    top = _parse_body(rest, name)
    env = top.get("env", {})
    if not isinstance(env, dict):
        raise ConfigReadError(f"{name}: `env` must be an object")
    out: ParsedConfig = {"env": env}
    for stage in STAGES:
        plugins: list[dict[str, Any]] = []
        if stage in spans:
            for plugin, body in _plugin_blocks(text, *spans[stage], name, stage):
                opts = _parse_body(body, f"{name}: {stage}.{plugin}")
                opts.pop("plugin_name", None)
                plugins.append({"plugin_name": plugin, **opts})
        out[stage] = plugins
    return out
