"""Validation scripts: checks a spec brings (`validation.scripts`), scored and weighed like built-in ones.

A script is a Python file in the spec's folder defining `check(data: ScriptData)`, returning a score
in [0, 1] or a `ScriptResult` (score plus findings). The plan embeds its text, so apply runs what was
reviewed. A script that fails to load, raises, or returns anything else stops the gate with one line
naming the file and line (docs/quality.md, "Validation scripts").
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aurumplan.catalog.models import DatasetDef
from aurumplan.errors import AurumError
from aurumplan.intervals import fmt_ts, parse_ts
from aurumplan.quality.expected import period_end
from aurumplan.quality.frame import DatasetFrame
from aurumplan.quality.model import CheckResult, Finding, make_finding


class QualityScriptError(AurumError):
    """A validation script could not judge the data (it failed to load, raised, or returned garbage)."""


@dataclass(frozen=True)
class ScriptSeries:
    """One judged series as a script sees it: ISO-8601 UTC period starts, values as floats (None: NULL)."""

    series_id: str
    periods: tuple[str, ...] = ()
    values: tuple[float | None, ...] = ()
    units: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class ScriptData:
    """What `check(data)` receives: one dataset's rows in the window being judged (staged rows at the gate)."""

    source: str
    dataset: str
    window: tuple[str, str]
    grain: str
    unit: str
    series: Mapping[str, ScriptSeries]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScriptFinding:
    """A problem a script found: the series, what is wrong, and the period starts (ISO-8601) it concerns."""

    series_id: str
    message: str
    periods: Sequence[str] = ()


@dataclass(frozen=True)
class ScriptResult:
    """A score in [0, 1] and the findings behind it."""

    score: float
    findings: Sequence[ScriptFinding] = ()


CheckFunction = Callable[[ScriptData], Any]


def _where(rel: str, exc: BaseException) -> str:
    """`rel:LINE` of the innermost frame of the script in exc's traceback, else rel."""
    line = None
    for fs in traceback.extract_tb(exc.__traceback__):
        if fs.filename == rel:
            line = fs.lineno
    return f"{rel}:{line}" if line else rel


@dataclass(frozen=True)
class ScriptCheck:
    """A loaded validation script; `name` (its spec-relative path) names its result and weight."""

    name: str
    function: CheckFunction

    def run(self, ds: DatasetDef, frame: DatasetFrame, series: Sequence[str],
            params: Mapping[str, Any] | None = None) -> CheckResult:
        """Call the script on the judged series and turn what it returns into a CheckResult."""
        data = script_data(ds, frame, series, params or {})
        try:
            got = self.function(data)
        except Exception as exc:  # user code: any failure is one line
            raise QualityScriptError(f"validation script {_where(self.name, exc)}: raised "
                                     f"{type(exc).__name__}: {exc}",
                                     hint="fix the script, then plan and apply again: the plan embeds it") from None
        return self._result(ds, got)

    def _result(self, ds: DatasetDef, got: Any) -> CheckResult:
        score = got.score if isinstance(got, ScriptResult) else got
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score) \
                or not 0 <= score <= 1:
            shown = repr(got)[:80]
            raise QualityScriptError(f"validation script {self.name}: check() returned {shown}; return a score "
                                     "in [0, 1] or ScriptResult(score, findings)",
                                     hint="see docs/quality.md, 'Validation scripts'")
        findings: list[Finding] = []
        end = partial(period_end, ds)
        for f in (got.findings if isinstance(got, ScriptResult) else ()):
            if not isinstance(f, ScriptFinding):
                raise QualityScriptError(f"validation script {self.name}: a finding is {repr(f)[:80]}; "
                                         "findings are ScriptFinding(series_id, message, periods)")
            try:
                starts = sorted({parse_ts(p) for p in f.periods})
            except (AttributeError, TypeError, ValueError):
                raise QualityScriptError(f"validation script {self.name}: finding '{f.message}' has periods "
                                         f"{list(f.periods)[:3]}; give ISO-8601 period starts") from None
            findings.append(make_finding(ds.name, str(f.series_id), starts, end, str(f.message), "script"))
        return CheckResult(self.name, float(score), findings, {"script": self.name})


def _number(value: Any) -> float | None:
    """A stored value as a float; NULL and anything not numeric as None."""
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def script_data(ds: DatasetDef, frame: DatasetFrame, series: Sequence[str],
                params: Mapping[str, Any]) -> ScriptData:
    """The judged series of frame as plain tuples (series without rows have empty ones)."""
    out: dict[str, ScriptSeries] = {}
    for sid in series:
        s = frame.get(sid)
        out[sid] = ScriptSeries(sid, tuple(fmt_ts(p) for p in s.periods),
                                tuple(_number(v) for v in s.values), tuple(s.units))
    return ScriptData(frame.source, frame.dataset, (fmt_ts(frame.window[0]), fmt_ts(frame.window[1])),
                      str(ds.grain), ds.unit, out, dict(params))


def load_script(rel: str, text: str) -> ScriptCheck:
    """The script's check function, from the text the plan embeds."""
    namespace: dict[str, Any] = {"__name__": f"aurumplan_check_{abs(hash(rel))}", "__file__": rel}
    try:
        exec(compile(text, rel, "exec"), namespace)
    except SyntaxError as exc:
        raise QualityScriptError(f"validation script {rel}:{exc.lineno or 1}:{exc.offset or 1}: "
                                 f"Python syntax error: {exc.msg}") from None
    except Exception as exc:  # user code: any failure is one line
        raise QualityScriptError(f"validation script {_where(rel, exc)}: raised {type(exc).__name__} while "
                                 f"loading: {exc}") from None
    fn = namespace.get("check")
    if not callable(fn):
        raise QualityScriptError(f"validation script {rel}: defines no function check(data) -> float | ScriptResult")
    return ScriptCheck(rel, fn)


def load_scripts(settings: Mapping[str, Any], files: Mapping[str, Any]) -> list[ScriptCheck]:
    """The scripts a plan's validation settings name, from its embedded files."""
    out = []
    for rel in (settings.get("validation") or {}).get("scripts") or ():
        entry = files.get(rel)
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            raise QualityScriptError(f"validation script {rel}: not embedded in the plan; re-plan the spec")
        out.append(load_script(rel, entry["text"]))
    return out
