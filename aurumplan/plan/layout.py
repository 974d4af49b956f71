"""The plan file's line layout: canonical JSON cut into lines so `git diff` of two plans shows which
datasets, actions and nodes changed (docs/team-workflow.md#plans-in-pull-requests).

Lines are cut only between JSON tokens, so the file parses to the same data as the one-line form,
and the fragments joined without their newlines and indentation are byte for byte canonical_json:
that is what the plan id hashes. A dict is cut into one key per line down to depth 2 and a list into
one item per line down to depth 3 (plan > datasets > dataset > actions; plan > graph > nodes), and
only when its one-line form is longer than WIDTH: a dataset's action, a graph node or edge, and below
the top two levels a list of plain values, stay one line.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aurumplan.hashing import canonical_json, canonical_json_float_free

WIDTH = 100
DICT_DEPTH = 3  # dicts at depth < 3 may be cut
LIST_DEPTH = 4  # lists at depth < 4 may be cut
INDENT = b"  "

Line = tuple[int, bytes]  # (depth, fragment); depth GLUED: the fragment ends the line before (a comma)
GLUED = -1
COMMA: Line = (GLUED, b",")


def encode(value: Any, float_free: bool) -> bytes:
    """canonical_json of value as UTF-8; orjson when the caller knows it holds no float.

    orjson's result keeps a 4 KB allocation however short the text: copied to its own size, or the
    20,000 node lines of a large plan would hold 190 MB instead of 20 MB.
    """
    return bytes(memoryview(canonical_json_float_free(value))) if float_free else canonical_json(value).encode()


def lay_out(value: Any, float_free: bool, depth: int = 0) -> list[Line]:
    """value as lines whose fragments concatenate to its canonical JSON."""
    if isinstance(value, dict):
        if depth >= DICT_DEPTH or not value or not all(isinstance(k, str) for k in value):
            return [(depth, encode(value, float_free))]
        parts = [_prefixed(canonical_json(k).encode() + b":", lay_out(value[k], float_free, depth + 1))
                 for k in sorted(value)]
        return _join(b"{", parts, b"}", depth)
    if isinstance(value, list | tuple):
        if depth >= LIST_DEPTH or not value or (depth >= 2 and not any(isinstance(v, _CONTAINERS) for v in value)):
            return [(depth, encode(value, float_free))]
        d = depth + 1
        if all(_is_leaf(v, d) for v in value):  # graph nodes and edges: one line each, without recursion
            return _join(b"[", [[(d, encode(v, float_free))] for v in value], b"]", depth)
        return _join(b"[", [lay_out(v, float_free, d) for v in value], b"]", depth)
    return [(depth, encode(value, float_free))]


_CONTAINERS = (dict, list, tuple)


def _is_leaf(value: Any, depth: int) -> bool:
    """True when lay_out would keep value on one line whatever its length."""
    if isinstance(value, dict):
        return depth >= DICT_DEPTH
    if isinstance(value, list | tuple):
        return depth >= LIST_DEPTH or (depth >= 2 and not any(isinstance(v, _CONTAINERS) for v in value))
    return True


def _prefixed(head: bytes, lines: list[Line]) -> list[Line]:
    """The key in front of its value's first line."""
    d, first = lines[0]
    return [(d, head + first), *lines[1:]]


def lay_out_object(items: list[tuple[str, Any, bool]]) -> list[Line]:
    """A top-level object of (key, value, float_free) in key order, always one key per line."""
    parts = [_prefixed(canonical_json(k).encode() + b":", lay_out(v, ff, 1)) for k, v, ff in sorted(items)]
    return _join(b"{", parts, b"}", 0, cut=True)


def _join(open_: bytes, parts: list[list[Line]], close: bytes, depth: int, cut: bool = False) -> list[Line]:
    """One line when every part is one line and they fit WIDTH (unless cut), else open / parts with commas
    / close."""
    if not cut and all(len(p) == 1 for p in parts) and \
            len(open_) + len(close) + sum(len(p[0][1]) + 1 for p in parts) - 1 <= WIDTH:
        return [(depth, open_ + b",".join(p[0][1] for p in parts) + close)]
    out: list[Line] = [(depth, open_)]
    for i, part in enumerate(parts):
        if i:
            out.append(COMMA)  # not frag + b",": a copy of every node of a large plan
        out.extend(part)
    out.append((depth, close))
    return out


def text_of(lines: list[Line]) -> bytes:
    """The file bytes: one fragment a line, indented by depth (a GLUED fragment ends the line before)."""
    indents = [INDENT * d for d in range(LIST_DEPTH + 2)]
    pieces: list[bytes] = []
    for d, frag in lines:
        if d != GLUED:
            if pieces:
                pieces.append(b"\n")
            pieces.append(indents[d])
        pieces.append(frag)
    pieces.append(b"\n")
    return b"".join(pieces)


def sha256_of(lines: list[Line]) -> str:
    """sha256 of the fragments joined: of the canonical JSON the lines lay out."""
    h = hashlib.sha256()
    for _, frag in lines:
        h.update(frag)
    return h.hexdigest()
