"""Schema: each record has the shape and the schema version the dataset expects.

A row is flagged when its value is not a number or NULL, its unit differs from the catalog's unit,
its period is not the start of a period of the dataset's grain (in its zone), its attributes are not
NULL or a JSON object, or its schema version is not the expected one. Units compare normalised
(quality/units.py), and only when the expected version is the catalog's: the catalog describes rows
at its own schema version, not those a migration wrote. A row's version is its attributes'
`schema_version`, else its load's `schema_version` (when the loads table has that column), else
the catalog's `schema_version`. The expected version is `expected_version` (a schema_correction
replay's target) or the catalog's. Rows whose period the database could not read count as flagged.
Score = 1 - flagged rows / rows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from aurumplan.catalog.models import DatasetDef
from aurumplan.quality.expected import is_aligned, period_end
from aurumplan.quality.frame import DatasetFrame
from aurumplan.quality.model import CheckResult, Finding, make_finding, ratio_score
from aurumplan.quality.units import same_unit

_UNPARSED = object()


def _parse_attrs(text: str | None, cache: dict[str | None, Any]) -> Any:
    """The attributes as a dict, None for NULL, or _UNPARSED when not a JSON object."""
    try:
        return cache[text]
    except KeyError:
        pass
    if text is None or text == "":
        out: Any = None
    else:
        try:
            out = json.loads(text)
        except ValueError:
            out = _UNPARSED
        if not isinstance(out, dict):
            out = _UNPARSED
    cache[text] = out
    return out


_NUMBER_TYPES = frozenset((float, int, type(None)))


def _clean_versions(ds: DatasetDef, periods: list[int], values: list[Any], units: list[str | None],
                    attrs: list[str | None], loads: list[str], expected_version: str,
                    load_versions: Mapping[str, str], aligned: dict[int, bool],
                    cache: dict[str | None, Any]) -> Counter[str] | None:
    """The rows' schema versions when no row of the series has any problem, else None.

    Judges each distinct value type, unit, period and (attributes, load) pair once, with the
    per-row work in C (set, map, Counter): a staged million rows are checked before every commit.
    A series with any problem goes through the row-by-row path, which names the rows.
    """
    if not {*map(type, values)} <= _NUMBER_TYPES:
        return None
    if ds.unit and expected_version == ds.schema_version and not all(same_unit(u, ds.unit) for u in set(units)):
        return None
    for p in set(periods).difference(aligned):
        aligned[p] = is_aligned(ds, p)
    if not all(map(aligned.__getitem__, periods)):
        return None
    out: Counter[str] = Counter()
    for (a, lid), n in Counter(zip(attrs, loads, strict=True)).items():
        parsed = _parse_attrs(a, cache)
        if parsed is _UNPARSED:
            return None
        version = str((parsed or {}).get("schema_version") or load_versions.get(lid) or ds.schema_version)
        if version != expected_version:
            return None
        out[version] += n
    return out


def check_schema(ds: DatasetDef, frame: DatasetFrame, series: Sequence[str], *,
                 params: Mapping[str, Any] | None = None,
                 load_versions: Mapping[str, str] | None = None) -> CheckResult:
    """Field types, unit, period alignment, attributes JSON and schema version (see module doc)."""
    expected_version = str((params or {}).get("expected_version") or ds.schema_version)
    load_versions = load_versions or {}
    catalog_unit = bool(ds.unit) and expected_version == ds.schema_version
    end = partial(period_end, ds)
    cache: dict[str | None, Any] = {}
    aligned: dict[int, bool] = {}
    findings: list[Finding] = []
    versions: Counter[str] = Counter()
    counts = Counter[str]()
    rows = frame.bad_periods
    bad_rows = frame.bad_periods
    for sid in series:
        s = frame.get(sid)
        rows += len(s)
        attrs: list[str | None] = s.attributes if s.attributes is not None else [None] * len(s)
        loads = s.load_ids if s.load_ids is not None else [""] * len(s)
        clean = _clean_versions(ds, s.periods, s.values, s.units, attrs, loads, expected_version, load_versions,
                                aligned, cache)
        if clean is not None:
            versions.update(clean)
            continue
        problems: dict[str, list[int]] = {}
        row_bad: set[int] = set()
        for i, (p, v, u, a, lid) in enumerate(zip(s.periods, s.values, s.units, attrs, loads, strict=True)):
            kinds: list[str] = []
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                kinds.append("value_type")
            if catalog_unit and not same_unit(u, ds.unit):
                kinds.append("unit")
            ok = aligned.get(p)
            if ok is None:
                ok = aligned[p] = is_aligned(ds, p)
            if not ok:
                kinds.append("misaligned")
            parsed = _parse_attrs(a, cache)
            if parsed is _UNPARSED:
                kinds.append("attributes")
                parsed = None
            version = (parsed or {}).get("schema_version") or load_versions.get(lid) or ds.schema_version
            versions[str(version)] += 1
            if str(version) != expected_version:
                kinds.append("schema_version")
            for k in kinds:
                problems.setdefault(k, []).append(p)
            if kinds:
                row_bad.add(i)
        bad_rows += len(row_bad)
        messages = {"value_type": "values that are neither a number nor NULL",
                    "unit": f"rows whose unit is not the catalog unit {ds.unit!r}",
                    "misaligned": f"periods not aligned to the {ds.grain.value} grain ({ds.timezone})",
                    "attributes": "rows whose attributes are not a JSON object",
                    "schema_version": f"rows not at schema version {expected_version}"}
        for kind, periods in problems.items():
            counts[kind] += len(periods)
            findings.append(make_finding(ds.name, sid, sorted(set(periods)), end,
                                         f"{len(periods)} {messages[kind]}", kind))
    if frame.bad_periods:
        findings.append(Finding(ds.name, "*", (), f"{frame.bad_periods} rows whose period is not a timestamp",
                                "bad_period", frame.bad_periods))
        counts["bad_period"] = frame.bad_periods
    stats = {"rows": rows, "flagged": bad_rows, "expected_version": expected_version,
             "versions": dict(versions), "problems": dict(counts), "unit": ds.unit}
    return CheckResult("schema", ratio_score(bad_rows, rows), findings, stats)
