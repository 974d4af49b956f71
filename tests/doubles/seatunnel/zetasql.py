"""SIMULATED: SeaTunnel's Sql transform (Zeta SQL), run on SQLite with Zeta's functions emulated.

The query of a Sql transform runs against one in-memory table named like its input, holding the
Http source's rows with the columns of `schema.fields` (SeaTunnel's JSON reader fills absent keys
with null and turns scalars into text for `string` fields). The Zeta functions aurumplan's
generated queries use are registered as Python functions, written from SeaTunnel's SQL function
docs: PARSEDATETIME(text, Java pattern) and DATEADD(timestamp, n, unit) with timestamps as
`YYYY-MM-DD HH:MM:SS` text, and CONCAT (null parts skipped). SQLite already has CASE, CAST,
COALESCE, SUBSTRING, LIKE, IN and backtick identifiers.

Known differences: SQLite's CAST of non-numeric text gives 0.0 where Zeta fails the job, so the
generated SQL must exclude every non-numeric marker before its CASTs (it does for the markers the
drivers know); Zeta-only functions not listed above are unknown here and fail the job.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

TS = "%Y-%m-%d %H:%M:%S"
_JAVA = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_UNITS = {"SECOND": dt.timedelta(seconds=1), "MINUTE": dt.timedelta(minutes=1), "HOUR": dt.timedelta(hours=1),
          "DAY": dt.timedelta(days=1), "WEEK": dt.timedelta(weeks=1)}
_SQL_TYPES = {"string": "TEXT", "int": "INTEGER", "bigint": "INTEGER", "double": "REAL", "float": "REAL",
              "boolean": "INTEGER"}


def parsedatetime(text: str | None, pattern: str) -> str | None:
    if text is None:
        return None
    fmt = re.sub(r"'([^']*)'|yyyy|MM|dd|HH|mm|ss", lambda m: m.group(1) if m.group(1) is not None
                 else _JAVA[m.group(0)], pattern)
    return dt.datetime.strptime(text, fmt).strftime(TS)


def dateadd(ts: str | None, n: int, unit: str) -> str | None:
    if ts is None:
        return None
    return (dt.datetime.strptime(ts, TS) + int(n) * _UNITS[str(unit).upper()]).strftime(TS)


def concat(*parts: Any) -> str:
    return "".join(str(p) for p in parts if p is not None)


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if kind == "string":
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    return value


def run_query(query: str, table: str, fields: Mapping[str, str], rows: Iterable[Mapping[str, Any]]
              ) -> list[dict[str, Any]]:
    """The query's result rows (column name -> value) over `rows` as table `table`."""
    db = sqlite3.connect(":memory:")
    try:
        db.create_function("PARSEDATETIME", 2, parsedatetime, deterministic=True)
        db.create_function("DATEADD", 3, dateadd, deterministic=True)
        db.create_function("CONCAT", -1, concat, deterministic=True)
        cols = list(fields)
        kinds = [str(fields[c]).lower() for c in cols]
        db.execute(f'CREATE TABLE "{table}" (' + ", ".join(
            f"`{c}` {_SQL_TYPES.get(k, 'TEXT')}" for c, k in zip(cols, kinds, strict=True)) + ")")
        db.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(cols))})',
                       [[_cell(r.get(c), k) for c, k in zip(cols, kinds, strict=True)] for r in rows])
        cur = db.execute(query)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        db.close()
