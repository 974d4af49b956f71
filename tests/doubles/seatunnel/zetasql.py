"""SIMULATED: SeaTunnel's Sql transform (Zeta SQL), run on SQLite with Zeta's functions written in Python.

The query runs against one in-memory table named like its input, holding the Http source's typed
rows. What follows SeaTunnel (apache/seatunnel 15431c94, seatunnel-transforms-v2 sql/zeta/; the list
with files is in docs/seatunnel.md):

- Only Zeta's function names are accepted (ZetaSQLFunction); any other function fails the job
  ("Unsupported function"), even one SQLite has. The ones aurumplan's queries use are written from
  Zeta's code: CONCAT skips nulls; SUBSTRING and REGEXP_SUBSTR are H2's; COALESCE; PARSEDATETIME gives a LocalDateTime
  only when the pattern holds both `yy` and `mm`, a LocalDate (time of day dropped) when it holds
  `yy` alone, and fails on text the pattern does not fully match (so `yyyy-MM` fails: no day);
  DATEADD of hours/minutes/seconds leaves a LocalDate unchanged.
- CAST(x AS DOUBLE|INT|BIGINT|STRING|...) goes through SystemFunction.castAs: Java's parse, so a
  non-numeric text fails the job where SQLite would give 0.0.
- LIKE is case-sensitive (Zeta turns it into a Java regex).

Temporal values travel as text: a LocalDate as `YYYY-MM-DD`, a LocalDateTime as `YYYY-MM-DD HH:MM:SS`,
a LocalTime as `HH:MM:SS`. Known differences left: SQLite's three-valued logic for `<>` with NULL
(Zeta: `NULL <> 'x'` is true) and comparisons between text and timestamps (Zeta fails the job).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tests.doubles.seatunnel.httpsource import java_double, java_parse_double

TS, DATE, TIME = "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%H:%M:%S"
_ZETA_NAMES = """
ASCII BIT_LENGTH CHAR_LENGTH LENGTH OCTET_LENGTH CHAR CHR CONCAT CONCAT_WS HEXTORAW RAWTOHEX INSERT LOWER
LCASE UPPER UCASE LEFT RIGHT LOCATE INSTR POSITION LPAD RPAD LTRIM RTRIM TRIM REGEXP_REPLACE REGEXP_LIKE
REGEXP_SUBSTR REPEAT REPLACE SOUNDEX SPACE SUBSTRING SUBSTR TO_CHAR TRANSLATE ABS ACOS ASIN ATAN COS COSH COT
SIN SINH TAN TANH ATAN2 MOD CEIL CEILING EXP FLOOR LN LOG LOG10 RADIANS SQRT PI POWER RAND RANDOM ROUND SIGN
TRUNC TRUNCATE CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP NOW DATEADD TIMESTAMPADD DATEDIFF DATE_TRUNC
DAYNAME DAY_OF_MONTH DAY_OF_WEEK DAY_OF_YEAR EXTRACT FORMATDATETIME HOUR MINUTE MONTH MONTHNAME PARSEDATETIME
TO_DATE IS_DATE QUARTER SECOND WEEK YEAR FROM_UNIXTIME COALESCE IFNULL NULLIF UUID
"""  # ZetaSQLFunction's function names
ZETA_FUNCTIONS = frozenset(_ZETA_NAMES.split())
_KEYWORD_TEXT = "IN AND OR NOT CAST CASE WHEN THEN ELSE END SELECT FROM WHERE AS EXISTS VALUES LIKE"
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_SQL_TYPES = {"string": "TEXT", "int": "INTEGER", "bigint": "INTEGER", "tinyint": "INTEGER", "smallint": "INTEGER",
              "double": "REAL", "float": "REAL", "boolean": "INTEGER"}
_JAVA_FIELDS = {"yyyy": r"(?P<Y>\d{4})", "yy": r"(?P<y>\d{2})", "MM": r"(?P<m>\d{2})", "dd": r"(?P<d>\d{2})",
                "HH": r"(?P<H>\d{2})", "mm": r"(?P<M>\d{2})", "ss": r"(?P<S>\d{2})"}


class ZetaError(Exception):
    """A Zeta SQL error: the transform fails the job with this text."""


# ---------------------------------------------------------------- temporal values as text


def _kind(value: str) -> str:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", value):
        return "datetime"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return "date"
    return "time" if re.fullmatch(r"\d{2}:\d{2}:\d{2}", value) else "text"


def _java_pattern(pattern: str) -> re.Pattern[str]:
    """A DateTimeFormatter.ofPattern pattern (the letters aurumplan uses) as a full-match regex."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.index("'", i + 1)
            out.append(re.escape(pattern[i + 1:end]) if end > i + 1 else "'")
            i = end + 1
            continue
        for letters in ("yyyy", "yy", "MM", "dd", "HH", "mm", "ss"):
            if pattern.startswith(letters, i):
                out.append(_JAVA_FIELDS[letters])
                i += len(letters)
                break
        else:
            if pattern[i].isalpha():
                raise ZetaError(f"fake engine: pattern letter {pattern[i]!r} of {pattern!r} is not emulated")
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def parsedatetime(text: str | None, pattern: str) -> str | None:
    """DateTimeFunction.parsedatetime: LocalDateTime, LocalDate or LocalTime by the pattern's letters."""
    if text is None:
        return None
    m = _java_pattern(pattern).fullmatch(text)
    if m is None:
        raise ZetaError(f"java.time.format.DateTimeParseException: Text '{text}' could not be parsed")
    g = {k: int(v) for k, v in m.groupdict().items() if v is not None}
    year = g.get("Y", 2000 + g["y"] if "y" in g else None)
    wants = "datetime" if "yy" in pattern and "mm" in pattern else "date" if "yy" in pattern else \
        "time" if "mm" in pattern else None
    if wants is None:
        raise ZetaError(f"Unknown pattern letter {pattern} for function: PARSEDATETIME")
    try:
        if wants == "time":
            return dt.time(g["H"], g.get("M", 0), g.get("S", 0)).strftime(TIME)
        if year is None or "m" not in g or "d" not in g:
            raise KeyError
        day = min(g["d"], calendar.monthrange(year, g["m"])[1]) if 1 <= g["m"] <= 12 and g["d"] <= 31 else g["d"]
        date = dt.date(year, g["m"], day)  # ResolverStyle.SMART clamps the day to the month's end
        if wants == "date":
            return date.strftime(DATE)
        return dt.datetime(date.year, date.month, date.day, g.get("H", 0), g["M"], g.get("S", 0)).strftime(TS)
    except (KeyError, ValueError):
        raise ZetaError(f"java.time.format.DateTimeParseException: Text '{text}' could not be parsed: Unable to "
                        f"obtain Local{'DateTime' if wants == 'datetime' else 'Date'} from TemporalAccessor") from None


_STEPS = {"WEEK": dt.timedelta(weeks=1), "DAY": dt.timedelta(days=1), "HOUR": dt.timedelta(hours=1),
          "MINUTE": dt.timedelta(minutes=1), "SECOND": dt.timedelta(seconds=1)}


def _plus_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return d.replace(year=year, month=month, day=min(d.day, calendar.monthrange(year, month)[1]))


def dateadd(value: str | None, count: int, unit: str = "DAY") -> str | None:
    """DateTimeFunction.dateadd: a unit the value's type lacks leaves the value as it is."""
    if value is None:
        return None
    unit, kind = str(unit).upper(), _kind(value)
    if unit not in (*_STEPS, "YEAR", "MONTH", "MILLISECOND"):
        raise ZetaError(f"Unsupported dateTimeField: {unit} for function: DATEDIFF")
    if kind == "text":
        raise ZetaError(f"java.lang.ClassCastException: String cannot be cast to Temporal ({value})")
    n = int(count)
    if kind in ("date", "datetime"):
        fmt = DATE if kind == "date" else TS
        d = dt.datetime.strptime(value, fmt)
        if unit in ("YEAR", "MONTH"):
            moved = _plus_months(d.date(), n * (12 if unit == "YEAR" else 1))
            return dt.datetime.combine(moved, d.time()).strftime(fmt)
        if kind == "date" and unit in ("WEEK", "DAY"):
            return (d + n * _STEPS[unit]).strftime(fmt)
        if kind == "datetime" and unit in _STEPS:
            return (d + n * _STEPS[unit]).strftime(fmt)
        return value
    if unit in ("HOUR", "MINUTE", "SECOND"):
        t = dt.datetime.combine(dt.date(2000, 1, 1), dt.datetime.strptime(value, TIME).time()) + n * _STEPS[unit]
        return t.strftime(TIME)
    return value


def concat(*parts: Any) -> str:
    """StringFunction.concat: nulls skipped, each part as Java prints it."""
    return "".join(_java_string(p) for p in parts if p is not None)


def substring(s: str | None, start: int, length: int | None = None) -> str | None:
    """StringFunction.substring (H2's): 1-based, 0 counts as 1, a negative start counts from the end."""
    if s is None:
        return None
    sl = len(s)
    start = int(start)
    start = 1 if start == 0 else sl + start + 1 if start < 0 else start
    end = max(sl + 1, start) if length is None else start + int(length)
    start, end = max(start, 1), min(end, sl + 1)
    return "" if start > sl or end <= start else s[start - 1:end - 1]


def regexp_substr(*args: Any) -> str | None:
    """StringFunction.regexpSubstr (H2's): (input, regexp[, position, occurrence, mode, group]); other arities null."""
    if not args or args[0] is None:
        return None
    if len(args) not in (2,) and len(args) < 6:
        return None
    text, pattern = str(args[0]), str(args[1])
    position, occurrence, mode, group = (args[2:6] if len(args) >= 6 else (None, None, None, None))
    flags = 0
    for ch in str(mode or ""):
        flags = {"i": flags | re.IGNORECASE, "c": flags & ~re.IGNORECASE, "n": flags | re.DOTALL,
                 "m": flags | re.MULTILINE}.get(ch, flags)
    found = list(re.compile(pattern, flags).finditer(text, int(position or 1) - 1))
    n = int(occurrence or 1)
    if len(found) < n:
        return None
    return found[n - 1].group(int(group or 0))


def _java_string(value: Any) -> str:
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, str) and _kind(value) == "datetime":  # LocalDateTime.toString
        d = dt.datetime.strptime(value, TS)
        return d.strftime("%Y-%m-%dT%H:%M" + (":%S" if d.second else ""))
    return str(value)


def cast(value: Any, kind: str) -> Any:
    """SystemFunction.castAs for the types the fake emulates."""
    if value is None or value == kind:
        return None
    text = _java_string(value)
    try:
        if kind in ("VARCHAR", "STRING"):
            return text
        if kind in ("INT", "INTEGER", "BIGINT", "LONG"):
            if not re.fullmatch(r"[+-]?\d+", text):
                raise ValueError(f'For input string: "{text}"')
            return int(text)
        if kind in ("DOUBLE", "FLOAT"):
            return java_parse_double(text)
    except ValueError as exc:
        raise ZetaError(f"java.lang.NumberFormatException: {exc}") from None
    if kind in ("TIMESTAMP", "DATETIME") and isinstance(value, str) and _kind(value) in ("date", "datetime"):
        return value if _kind(value) == "datetime" else value + " 00:00:00"
    raise ZetaError(f"Unsupported CAST AS type: {kind}")


# ---------------------------------------------------------------- the query


def _strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|`[^`]*`", "''", sql)


def check_functions(sql: str) -> None:
    """Zeta knows a fixed list of functions; any other call fails the job."""
    for name in re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", _strip_literals(sql)):
        if name.upper() not in ZETA_FUNCTIONS and name.upper() not in _KEYWORDS:
            raise ZetaError(f"Unsupported function: {name}")


def _rewrite_casts(sql: str) -> str:
    """CAST(expr AS T) -> ZETA_CAST(expr, 'T'), innermost first, outside string literals."""
    while True:
        masked = re.sub(r"'(?:[^']|'')*'", lambda m: "x" * len(m.group(0)), sql)
        starts = [m.start() for m in re.finditer(r"\bCAST\s*\(", masked, re.IGNORECASE)]
        if not starts:
            return sql
        start = starts[-1]
        open_at = masked.index("(", start)
        depth, i = 0, open_at
        while True:
            if masked[i] == "(":
                depth += 1
            elif masked[i] == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        inner = sql[open_at + 1:i]
        m = re.search(r"\s+AS\s+([A-Za-z]+)\s*(\([^)]*\))?\s*$", inner, re.IGNORECASE)
        if m is None:
            raise ZetaError(f"fake engine: cannot read CAST({inner})")
        sql = f"{sql[:start]}ZETA_CAST({inner[:m.start()]}, '{m.group(1).upper()}'){sql[i + 1:]}"


def _guarded(errors: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a function for SQLite, keeping its error text (SQLite reports only that a function raised)."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            try:
                return fn(*args)
            except ZetaError as exc:
                errors.append(str(exc))
                raise
        return call
    return wrap


def _unsupported(name: str) -> Callable[..., Any]:
    def call(*_args: Any) -> Any:
        raise ZetaError(f"fake engine: Zeta function {name} is not emulated")
    return call


def _cell(value: Any, kind: str) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def run_query(query: str, table: str, fields: Mapping[str, str], rows: Iterable[Mapping[str, Any]]
              ) -> list[dict[str, Any]]:
    """The query's result rows (column name -> value) over `rows` as table `table`; ZetaError if Zeta fails."""
    check_functions(query)
    errors: list[str] = []
    guard = _guarded(errors)
    db = sqlite3.connect(":memory:")
    try:
        db.execute("PRAGMA case_sensitive_like = ON")
        for name in ("LOWER", "UPPER", "REPLACE", "TRIM", "LTRIM", "RTRIM", "ROUND", "ABS", "LENGTH", "INSTR",
                     "IFNULL", "NULLIF", "SUBSTR", "CHAR", "LOG", "LN", "POWER", "SQRT"):
            db.create_function(name, -1, guard(_unsupported(name)))
        db.create_function("PARSEDATETIME", 2, guard(parsedatetime), deterministic=True)
        db.create_function("DATEADD", -1, guard(dateadd), deterministic=True)
        db.create_function("CONCAT", -1, guard(concat), deterministic=True)
        db.create_function("SUBSTRING", -1, guard(substring), deterministic=True)
        db.create_function("ZETA_CAST", 2, guard(cast), deterministic=True)
        db.create_function("REGEXP_SUBSTR", -1, guard(regexp_substr), deterministic=True)
        cols = list(fields)
        kinds = [str(fields[c]).lower() for c in cols]
        db.execute(f'CREATE TABLE "{table}" (' + ", ".join(
            f"`{c}` {_SQL_TYPES.get(k, 'TEXT')}" for c, k in zip(cols, kinds, strict=True)) + ")")
        db.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(cols))})',
                       [[_cell(r.get(c), k) for c, k in zip(cols, kinds, strict=True)] for r in rows])
        try:
            cur = db.execute(_rewrite_casts(query))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except sqlite3.Error as exc:
            raise ZetaError(errors[0] if errors else str(exc)) from None
    finally:
        db.close()
