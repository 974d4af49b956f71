"""Just enough SQL scanning for SeaTunnel's Sql transform: find the top-level FROM table.

The transform's FROM table must be its plugin_input name (docs/seatunnel.md); the renderer rewrites it
per source and the conformance check compares it. Strings, quoted identifiers, comments and
parenthesised sub-expressions are skipped, so `CAST(x AS STRING)` or `'from'` never match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT = re.compile(r'\$\{[^}]+\}|"(?:[^"]|"")+"|`[^`]+`|[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)*')


@dataclass(frozen=True)
class FromClause:
    """Where the top-level FROM keyword starts and the table name after it (span and text)."""

    keyword_start: int
    table_start: int
    table_end: int
    table: str


def _skip_quoted(sql: str, i: int) -> int:
    q = sql[i]
    j = i + 1
    while j < len(sql):
        if sql[j] == q:
            if j + 1 < len(sql) and sql[j + 1] == q:  # doubled quote escapes itself
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


def find_from(sql: str) -> FromClause | None:
    """The first FROM at parenthesis depth 0, outside strings and comments, or None."""
    depth = 0
    i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            i = _skip_quoted(sql, i)
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif (depth == 0 and sql[i:i + 4].lower() == "from"
              and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] in "_$"))
              and (i + 4 == n or not (sql[i + 4].isalnum() or sql[i + 4] in "_$"))):
            j = i + 4
            while j < n and sql[j].isspace():
                j += 1
            m = _IDENT.match(sql, j)
            if not m:
                return None
            return FromClause(i, m.start(), m.end(), m.group(0))
        i += 1
    return None


def unquote_ident(name: str) -> str:
    """`"a"` / `` `a` `` -> a, so that quoted and bare table names compare equal."""
    if len(name) >= 2 and name[0] == name[-1] and name[0] in '"`':
        return name[1:-1].replace(name[0] * 2, name[0])
    return name
