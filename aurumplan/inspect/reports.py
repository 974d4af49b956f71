"""What `check`, `coverage` and `report` show: JSON-ready dicts, and the report's renderings.

Every function returns the dict `--json` prints; the CLI's text views are made from the same
dict, so scripts and people see the same figures. `check` judges what is loaded: without
`--dataset` only the datasets with any active rows are judged, and in each the series that have
any active rows (anywhere, so a series loaded elsewhere but absent from the window counts as
missing there); `--series` names the series instead.
"""

from __future__ import annotations

import html
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aurumplan.catalog import Catalog
from aurumplan.config import Config
from aurumplan.errors import AurumError, CatalogError, OperationError
from aurumplan.inspect.progress import progress, stored_plan
from aurumplan.inspect.status import attempts as lineage_attempts
from aurumplan.intervals import DAY, Interval, fmt_ts, parse_ts
from aurumplan.plan.model import Plan
from aurumplan.plan.render import human_duration
from aurumplan.quality import (
    CHECKS,
    DatasetFrame,
    compare_frames,
    compare_versions,
    coverage,
    coverage_to_dicts,
    evaluate,
    evaluate_frame,
    load_frame,
    normalize_checks,
    quality_to_dict,
)
from aurumplan.quality.compare import displaced_frame, migration_effect
from aurumplan.quality.expected import ExpectedSeries, expected_series
from aurumplan.quality.params import quality_params as gate_params
from aurumplan.state import Checkpoint, Operation, open_state
from aurumplan.warehouse import Load, Warehouse, open_warehouse
from aurumplan.warehouse.reads import active_series

FORMATS = ("markdown", "json", "html")


def parse_window(text: str) -> Interval:
    """`A:B` or `A..B` as half-open UTC seconds: a date B is inclusive (the whole day), a datetime B exclusive."""
    sep = ".." if ".." in text else ":"
    a, _, b = text.partition(sep)
    try:
        if sep == ":" and text.count(":") != 1:
            raise ValueError
        start, end = parse_ts(a), parse_ts(b) + (DAY if len(b.strip()) == 10 else 0)
    except ValueError:
        raise AurumError(f"invalid --window '{text}': use START:END dates (END inclusive), e.g. "
                         "2024-01-01:2024-12-31, or START..END datetimes (END exclusive)") from None
    if end <= start:
        raise AurumError(f"invalid --window '{text}': END is before START")
    return start, end


def _sqlite_missing(url: str) -> bool:
    prefix = "sqlite:///"
    return url.startswith(prefix) and ":memory:" not in url and not Path(url[len(prefix):]).exists()


def _warehouse(config: Config) -> Warehouse | None:
    """The warehouse for reading; None when its SQLite file does not exist (nothing loaded, nothing created)."""
    return None if _sqlite_missing(config.warehouse_url) else open_warehouse(config.warehouse_url)


def loaded_series(wh: Warehouse, source: str) -> dict[str, set[str]]:
    """dataset -> series with any active row."""
    with wh.connect() as conn:
        return active_series(conn, source)


def operation_series(wh: Warehouse | None, source: str, operation: str) -> dict[str, set[str]]:
    """dataset -> the series the operation's committed loads of source declare (`--operation`)."""
    out: dict[str, set[str]] = {}
    for load in (wh.loads_for_operation(operation) if wh else []):
        if load.source == source and load.status == "committed":
            out.setdefault(load.dataset, set()).update(load.series)
    if not out:
        raise CatalogError(f"operation {operation} has no committed loads of source '{source}'",
                           hint="see `aurumplan ops list` and `aurumplan report OP`")
    return out


def check_loaded(config: Config, catalog: Catalog, source: str, window: str, dataset: str | None = None,
                 checks: Sequence[str] | None = None, *, series: Sequence[str] | None = None,
                 threshold: float = 0.95, operation: str | None = None) -> dict[str, Any]:
    """Quality of the active version in the window, per dataset; `passed` only if every judged one passes.

    The series judged are `expected_series`, narrowed by `series` or by what `operation` loaded."""
    src = catalog.source(source)
    names = [catalog.dataset(source, dataset).name] if dataset else sorted(src.datasets)
    span = parse_window(window)
    selected = normalize_checks(checks or ["all"])
    qualities, judged_series, skipped = [], [], []
    known: set[str] = set()
    wh = _warehouse(config)
    try:
        loaded = loaded_series(wh, source) if wh else {}
        by_op = operation_series(wh, source, operation) if operation else None
        for name in names:
            ds, have = src.datasets[name], loaded.get(name, set())
            known |= set(ds.series) | have
            if by_op is not None:  # the definition coverage uses
                want = expected_series(ds, have, narrow=by_op.get(name, ()), by="operation")
            else:
                want = expected_series(ds, have, narrow=series or None)
            if not want.series or not (have or dataset):
                skipped.append({"dataset": name, "reason": "nothing loaded" if not have else
                                f"not loaded by {operation}" if by_op is not None else "none of --series in it"})
                continue
            judged = list(want.series)
            if wh is None:
                q = evaluate_frame(ds, DatasetFrame(source, name, span), selected, series=judged)
            else:
                with wh.connect() as conn:
                    q = evaluate(conn, catalog, source, name, span, selected, series=judged)
            qualities.append(q)
            judged_series.append(want)
    finally:
        if wh is not None:
            wh.close()
    unknown = sorted(set(series or ()) - known)
    if unknown:
        raise CatalogError(f"unknown series {', '.join(unknown)} of source '{source}'"
                           + (f" dataset '{dataset}'" if dataset else ""))
    out = quality_to_dict(qualities, threshold)
    for d, want in zip(out["datasets"], judged_series, strict=True):
        d["series"] = list(want.series)
        d["expected"] = want.to_dict()
    out.update(source=source, window=[fmt_ts(span[0]), fmt_ts(span[1])], checks=list(selected),
               score=round(min(q.score for q in qualities), 6) if qualities else None,
               passed=bool(qualities) and bool(out["passed"]), skipped=skipped)
    return out


def coverage_report(config: Config, catalog: Catalog, source: str, monthly: bool = False,
                    dataset: str | None = None, *, window: str | None = None,
                    series: Sequence[str] | None = None, operation: str | None = None) -> dict[str, Any]:
    """Active records per dataset and day (or month) against what is expected there: the series of
    `expected_series`, as `check` judges them."""
    catalog.source(source)
    if dataset is not None:
        catalog.dataset(source, dataset)
    span = parse_window(window) if window else None
    rows = []
    expected: dict[str, ExpectedSeries] = {}
    wh = _warehouse(config)
    if wh is not None:
        with wh:
            narrow: Sequence[str] | Mapping[str, Sequence[str]] | None = series
            if operation:
                narrow = {k: sorted(v) for k, v in operation_series(wh, source, operation).items()}
            with wh.connect() as conn:
                rows = coverage(conn, catalog, source, monthly, dataset, span, series=narrow, expected=expected)
    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = per.setdefault(r.dataset, {"dataset": r.dataset, "records": 0, "with_value": 0, "expected": 0,
                                       "buckets": 0, "complete_buckets": 0, "empty_buckets": 0,
                                       "first": r.bucket, "last": r.bucket})
        d["records"] += r.records
        d["with_value"] += r.with_value
        d["expected"] += r.expected
        d["buckets"] += 1
        d["complete_buckets"] += int(r.share is not None and r.share >= 1)
        d["empty_buckets"] += int(r.records == 0 and r.expected > 0)
        d["last"] = r.bucket
    for d in per.values():
        d["share"] = round(d["records"] / d["expected"], 6) if d["expected"] else None
        if d["dataset"] in expected:
            d["expected_series"] = expected[d["dataset"]].to_dict()
    return {"source": source, "bucket": "month" if monthly else "day",
            "window": [fmt_ts(span[0]), fmt_ts(span[1])] if span else None,
            "datasets": list(per.values()), "rows": coverage_to_dicts(rows)}


# ---- operation report ----------------------------------------------------------------------------

def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _seconds(c: Checkpoint) -> float | None:
    return round(c.finished_at - c.started_at, 3) if c.started_at and c.finished_at else None


def _figures(op: Operation, plan: Plan | None, cps: list[Checkpoint], catalog: Catalog) -> dict[str, Any]:
    """The operation's counters: from its summary (every run summed when apply ends), else from its
    checkpoints through the one progress calculation (inspect/progress.py)."""
    s = op.summary or {}
    p = progress(plan, cps, catalog.sources.get(op.source), running=op.status == "running")
    starts = [c.started_at for c in cps if c.started_at]
    ends = [c.finished_at for c in cps if c.finished_at]
    planned = s.get("planned") or (plan.summary if plan else {})
    periods = {"loaded": p.periods_committed, "failed": p.periods_failed,
               "skipped": planned.get("unchanged", 0) + planned.get("missing", 0)}
    return {
        "periods": s.get("periods") or periods,
        "records": s.get("records", p.records),
        "requests": s.get("requests", p.requests),
        "bytes": s.get("bytes", p.bytes),
        "throttles": s.get("throttles", p.throttles),
        "retries": s.get("retries", p.retries),
        "outcomes": dict(sorted((s.get("outcomes") or p.outcomes).items())),
        "duration_seconds": s.get("duration_seconds", round(max(ends) - min(starts), 3) if starts and ends else 0.0),
        "cpu_seconds": s.get("cpu_seconds", 0.0),
        "nodes": dict(sorted((s.get("nodes") or p.by_status).items())),
        "failures": s.get("failures") or [f"{c.node_id}: {c.error}" for c in cps if c.error],
        "failure_log": s.get("failure_log"),
        "planned": planned,
        "estimates": s.get("estimates") or (plan.estimates if plan else {}),
    }


def _performance(fig: dict[str, Any], cps: list[Checkpoint], top_n: int) -> dict[str, Any]:
    dur = float(fig["duration_seconds"] or 0)
    timed = sorted((c for c in cps if _seconds(c) is not None), key=lambda c: -(_seconds(c) or 0))
    busy = sum(_seconds(c) or 0 for c in timed)
    est = fig["estimates"]
    return {"records_per_second": round(fig["records"] / dur, 3) if dur else None,
            "requests_per_second": round(fig["requests"] / dur, 3) if dur else None,
            "seconds_per_request": round(busy / fig["requests"], 3) if fig["requests"] else None,
            "vs_estimate": {k: {"estimated": est.get(e), "actual": fig[a]} for k, e, a in
                            (("requests", "requests", "requests"), ("records", "records", "records"),
                             ("bytes", "bytes", "bytes"),
                             ("min_duration_seconds", "min_duration_seconds", "duration_seconds")) if e in est},
            "slowest_nodes": [{"node": c.node_id, "seconds": _seconds(c), "requests": c.requests,
                               "records": c.records, "attempts": c.attempts} for c in timed[:top_n]]}


def _gate(op: Operation, qrs: list[Any], cps: list[Checkpoint], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The quality gate's verdict per dataset: score, per-check scores, decision, first findings."""
    per_check = {q["dataset"]: q.get("checks") or {} for q in (op.summary or {}).get("quality", [])}
    decisions = {c.node_id.rsplit("/", 1)[0]: c.detail.get("decision") for c in cps if c.node_id.endswith("/validate")}
    latest = {q.dataset: q for q in qrs}
    out = []
    for name, q in latest.items():
        parts = q.detail.get("ranges") or [q.detail]
        checks = per_check.get(name) or {k: v.get("score") for k, v in (parts[0].get("checks") or {}).items()}
        findings = [f"{k}: {f['series_id']}: {f['message']} "
                    f"[{', '.join(f'{a}..{b}' for a, b in f['periods'][:2])}{' ...' if len(f['periods']) > 2 else ''}]"
                    for p in parts for k, v in (p.get("checks") or {}).items() for f in v.get("findings", [])]
        out.append({"dataset": name, "score": round(q.score, 6), "passed": q.passed,
                    "threshold": (settings.get("validation") or {}).get("threshold"),
                    "profile": (settings.get("validation") or {}).get("profile"),
                    "expected_series": q.detail.get("expected_series"),
                    "decision": decisions.get(name),
                    "checks": {k: v if v is None else round(v, 6) for k, v in checks.items()},
                    "findings": findings[:20], "more_findings": max(0, len(findings) - 20)})
    return out


def _loads(loads: list[Load]) -> list[dict[str, Any]]:
    by: dict[str, list[Load]] = {}
    for x in loads:
        by.setdefault(x.dataset, []).append(x)
    return [{"dataset": d, "loads": len(g), "records": sum(x.records for x in g),
             "status": dict(Counter(x.status for x in g)),
             "window": [fmt_ts(min(x.period_start for x in g)), fmt_ts(max(x.period_end for x in g))]}
            for d, g in sorted(by.items())]


def _comparisons(wh: Warehouse, catalog: Catalog, source: str, loads: list[Load], settings: dict[str, Any],
                 top_n: int) -> list[dict[str, Any]]:
    """Before/after per dataset of a Replay or Reprocess: committed loads against what they displaced,
    staged ones (halted at the gate) against the active version, rolled-back ones against what they had displaced."""
    checks = (settings.get("validation") or {}).get("checks") or CHECKS
    params = gate_params(settings)
    out = []
    known = catalog.source(source).datasets
    for name in sorted({x.dataset for x in loads} & set(known)):
        group = [x for x in loads if x.dataset == name]
        state = next((s for s in ("committed", "staged", "rolled_back") if any(x.status == s for x in group)), None)
        if state is None:
            continue
        chosen = [x for x in group if x.status == state]
        ids = [x.load_id for x in chosen]
        span = (min(x.period_start for x in chosen), max(x.period_end for x in chosen))
        with wh.connect() as conn:
            if state == "rolled_back":
                before = displaced_frame(conn, source, name, span, ids)
                after = load_frame(conn, source, name, span, load_ids=ids)
                c = compare_frames(known[name], before, after, top_n=top_n, checks=checks, params=params)
            else:
                c = compare_versions(conn, catalog, source, name, span, ids, top_n=top_n, checks=checks,
                                     params=params)
        out.append({**c.to_dict(), "state": state})
    return out


def _migrations(wh: Warehouse, catalog: Catalog, source: str, loads: list[Load]) -> list[dict[str, Any]]:
    """Per dataset, what a schema_correction's committed loads did to the rows they replaced."""
    known = catalog.source(source).datasets
    out = []
    for name in sorted({x.dataset for x in loads if x.status == "committed"} & set(known)):
        ids = [x.load_id for x in loads if x.dataset == name and x.status == "committed"]
        with wh.connect() as conn:
            out.append(migration_effect(conn, known[name], source, ids))
    return out


def _archives(cps: list[Checkpoint]) -> list[dict[str, Any]]:
    """The files a Replay's `archive:` wrote before each commit (docs/replay.md, "Archive and retention")."""
    out: list[dict[str, Any]] = []
    for c in sorted(cps, key=lambda c: c.node_id):
        if c.node_id.endswith("/commit"):
            d = c.detail or {}
            for rec in [*(d.get("commits") or []), d.get("pending") or {}]:
                a = rec.get("archive")
                if a and a.get("file") and all(x["file"] != a["file"] for x in out):
                    out.append({"dataset": c.node_id.rsplit("/", 1)[0], "file": a["file"], "rows": a["rows"],
                                "format": a["format"]})
    return out


def operation_report(config: Config, catalog: Catalog, op_id: str, *, top_n: int = 10) -> dict[str, Any]:
    """What an operation did: figures, performance, quality gate, loads, and for Replay/Reprocess before/after."""
    if _sqlite_missing(config.state_url):
        raise OperationError(f"no operation {op_id}", hint="`aurumplan ops list` shows them")
    with open_state(config.state_url, create=True) as store:
        op = store.get_operation(op_id)
        cps = store.checkpoints(op_id)
        qrs = store.quality_results(op_id)
        tries = lineage_attempts(store, op)
        attempts = tries if len(tries) > 1 else []
    plan = stored_plan(op)
    settings = plan.settings.model_dump(mode="json", exclude_unset=True) if plan else {}
    fig = _figures(op, plan, cps, catalog)
    kinds = {n.id: n.kind for n in plan.graph.nodes} if plan else {}
    data: dict[str, Any] = {
        "operation": {"id": op.id, "kind": op.kind, "source": op.source, "status": op.status,
                      "reason": op.reason, "owner": op.owner, "labels": op.labels, "parent_id": op.parent_id,
                      "name": plan.operation.name if plan else None,
                      "created_at": _iso(op.created_at), "updated_at": _iso(op.updated_at)},
        "attempts": attempts,
        "figures": fig, "performance": _performance(fig, cps, top_n), "quality": _gate(op, qrs, cps, settings),
        "nodes": [{"node": c.node_id, "kind": kinds.get(c.node_id), "status": c.status,
                   "requests": c.requests, "records": c.records, "bytes": c.bytes, "attempts": c.attempts,
                   "seconds": _seconds(c), "error": c.error} for c in sorted(cps, key=lambda c: c.node_id)],
        "loads": [], "comparison": None, "migration": None, "archives": _archives(cps),
        "algorithm": (settings.get("replay") or {}).get("algorithm")}
    wh = _warehouse(config)
    if wh is not None:
        with wh:
            loads = wh.loads_for_operation(op_id)
            data["loads"] = _loads(loads)
            if op.kind in ("Replay", "Reprocess"):
                data["comparison"] = _comparisons(wh, catalog, op.source, loads, settings, top_n)
            if (settings.get("replay") or {}).get("type") == "schema_correction":
                data["migration"] = _migrations(wh, catalog, op.source, loads)
    return data


# ---- rendering -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    head: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Pre:
    text: str


Block = str | Table | Pre
Section = tuple[int, str, list[Block]]


def _pct(x: Any) -> str:
    return "–" if x is None else f"{x:.2%}"


def _num(x: Any) -> str:
    return "–" if x is None else f"{x:,}" if isinstance(x, int) else f"{x:,.6g}"


def _comparison_sections(c: dict[str, Any]) -> list[Section]:
    w = c["window"]
    blocks: list[Block] = [
        f"{w[0]} – {w[1]}, {c['state']} loads. {c['changed']:,} rows changed, {c['added']:,} added, "
        f"{c['removed']:,} removed, {c['unchanged']:,} unchanged.",
        Table(["check", "before", "after", "change"],
              [[k, _pct(s["before"]), _pct(s["after"]), f"{(s['after'] - s['before']) * 100:+.2f} pts"]
               for k, s in c["scores"].items()]),
        Table(["series", "changed", "added", "removed", "unchanged", "largest change"],
              [[sid, v["changed"], v["added"], v["removed"], v["unchanged"], _num(v["max_abs_change"])]
               for sid, v in sorted(c["per_series"].items())])]
    if c["largest"]:
        blocks += ["Largest changes:", Table(["series", "period", "before", "after", "diff"],
                                             [[x["series_id"], x["period"], _num(x["before"]), _num(x["after"]),
                                               "–" if x["diff"] is None else f"{x['diff']:+,.6g}"]
                                              for x in c["largest"]])]
    blocks.append(Pre("\n".join(c["diff"])))
    return [(3, c["dataset"], blocks)]


def _migration_blocks(effects: list[dict[str, Any]]) -> list[Block]:
    if not effects:
        return ["No committed loads: nothing was migrated."]

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} ({n:,})" for k, n in d.items()) or "–"

    return [Table(["dataset", "rows migrated", "rows dropped", "schema version", "unit", "attributes added",
                   "attributes removed"],
                  [[m["dataset"], _num(m["migrated"]), _num(m["dropped"]), counts(m["versions"]), counts(m["units"]),
                    counts(m["attributes_added"]), counts(m["attributes_removed"])] for m in effects])]


def _sections(data: dict[str, Any]) -> tuple[str, list[Section]]:
    op, fig, perf = data["operation"], data["figures"], data["performance"]
    head = [f"Source `{op['source']}`, status **{op['status']}**, created {op['created_at']}, "
            f"updated {op['updated_at']}."]
    head += [f"{k.capitalize()}: {op[k]}." for k in ("reason", "owner") if op.get(k)]
    if op.get("labels"):
        head.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(op["labels"].items())) + ".")
    p = fig["periods"]
    figures = Table(["figure", "value"], [
        ["periods loaded", _num(p.get("loaded"))], ["periods failed", _num(p.get("failed"))],
        ["periods skipped", _num(p.get("skipped"))], ["records", _num(fig["records"])],
        ["requests", _num(fig["requests"])], ["bytes", _num(fig["bytes"])], ["throttles", _num(fig["throttles"])],
        ["retries", _num(fig["retries"])],
        ["requests by outcome", ", ".join(f"{k} {v}" for k, v in fig["outcomes"].items()) or "–"],
        ["failures", _num(len(fig["failures"]))],
        ["duration", human_duration(fig["duration_seconds"] or 0)], ["CPU seconds", _num(fig["cpu_seconds"])],
        ["nodes", ", ".join(f"{k} {v}" for k, v in fig["nodes"].items()) or "–"]])
    vs = perf["vs_estimate"]
    perf_blocks: list[Block] = [
        f"{_num(perf['records_per_second'])} records/s, {_num(perf['requests_per_second'])} requests/s, "
        f"{_num(perf['seconds_per_request'])} s of node time per request.",
        Table(["figure", "estimated", "actual"], [[k, _num(v["estimated"]), _num(v["actual"])] for k, v in vs.items()])]
    if perf["slowest_nodes"]:
        perf_blocks += ["Slowest nodes:", Table(["node", "seconds", "requests", "records", "attempts"],
                                                [[n["node"], _num(n["seconds"]), n["requests"], n["records"],
                                                  n["attempts"]] for n in perf["slowest_nodes"]])]
    sections: list[Section] = [(2, "Operation", list(head)), (2, "Figures", [figures]),
                               (2, "Performance", perf_blocks)]
    if data["quality"]:
        checks = [c for c in CHECKS if any(c in q["checks"] for q in data["quality"])]
        checks += sorted({c for q in data["quality"] for c in q["checks"]} - set(CHECKS))  # validation scripts
        profiles = sorted({q["profile"] for q in data["quality"] if q.get("profile")})
        gate: list[Block] = [f"Judged by quality profile `{p}` (aurumplan.yaml quality_profiles)." for p in profiles]
        gate += [Table(["dataset", "score", "threshold", "passed", "decision", *checks],
                                   [[q["dataset"], _pct(q["score"]), _pct(q["threshold"]),
                                     "yes" if q["passed"] else "**no**", q["decision"] or "–",
                                     *(_pct(q["checks"].get(c)) for c in checks)] for q in data["quality"]])]
        gate += [f"{q['dataset']}: {q['expected_series']['text']}." for q in data["quality"]
                 if q.get("expected_series")]
        gate += [f"- {q['dataset']}: {f}" for q in data["quality"] for f in q["findings"]]
        sections.append((2, "Quality gate", gate))
    if data["loads"]:
        sections.append((2, "Loads", [Table(["dataset", "loads", "records", "status", "window"], [
            [x["dataset"], x["loads"], _num(x["records"]), ", ".join(f"{k} {v}" for k, v in x["status"].items()),
             f"{x['window'][0]} – {x['window'][1]}"] for x in data["loads"]])]))
    if data.get("algorithm"):  # what an algorithm_update ran on the data (docs/replay.md, "Algorithms")
        a = data["algorithm"]
        where = f" from `{a['file']}` (the text embedded in the plan)" if a.get("file") else ""
        sections.append((2, "Algorithm", [f"`{a['name']}` version {a['version']}{where}, params "
                                          f"`{json.dumps(a.get('params') or {}, sort_keys=True)}`."]))
    if data.get("migration") is not None:
        sections.append((2, "Schema migration", _migration_blocks(data["migration"])))
    if data["comparison"] is not None:
        sections.append((2, "Before and after", [] if data["comparison"] else ["No loads to compare."]))
        for c in data["comparison"]:
            sections += _comparison_sections(c)
    if data.get("archives"):
        sections.append((2, "Archive", [
            "The versions this operation replaced, exported before its commits (`aurumplan archive restore FILE` "
            "puts them back after `aurumplan gc` removed them):",
            Table(["dataset", "rows", "file"],
                  [[a["dataset"], _num(a["rows"]), a["file"]] for a in data["archives"]])]))
    if fig["failures"]:
        fails: list[Block] = [f"- {f}" for f in fig["failures"][:50]]
        if fig.get("failure_log"):
            fails.append(f"Failure log: `{fig['failure_log']}` (a Reprocess spec can take it as failedRecords).")
        sections.append((2, "Failures", fails))
    return f"{op['kind']} {op['id']}: {op['status']}", sections


def _md_cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _markdown(title: str, sections: list[Section]) -> str:
    out = [f"# {title}", ""]
    for level, name, blocks in sections:
        out += [f"{'#' * level} {name}", ""]
        for b in blocks:
            if isinstance(b, Table):
                out += ["| " + " | ".join(b.head) + " |", "|" + "---|" * len(b.head)]
                out += ["| " + " | ".join(_md_cell(x) for x in r) + " |" for r in b.rows]
            elif isinstance(b, Pre):
                out += ["```", b.text, "```"]
            else:
                out.append(b)
            if not (isinstance(b, str) and b.startswith("- ")):
                out.append("")
        if out[-1] != "":
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;"
        "margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}th{background:#f4f4f4}"
        "pre{background:#f7f7f7;padding:.6em;overflow:auto}")


def _inline(text: str) -> str:
    """Escaped text with the two Markdown marks the sections use: **bold** and `code`."""
    parts = html.escape(text, quote=True).split("**")
    text = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html(title: str, sections: list[Section]) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    for level, name, blocks in sections:
        out.append(f"<h{level}>{html.escape(name)}</h{level}>")
        items: list[str] = []
        for b in [*blocks, ""]:
            if isinstance(b, str) and b.startswith("- "):
                items.append(f"<li>{_inline(b[2:])}</li>")
                continue
            if items:
                out += ["<ul>", *items, "</ul>"]
                items = []
            if isinstance(b, Table):
                out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in b.head) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{_inline(str(x))}</td>" for x in r) + "</tr>" for r in b.rows]
                out.append("</table>")
            elif isinstance(b, Pre):
                out.append(f"<pre>{html.escape(b.text)}</pre>")
            elif b:
                out.append(f"<p>{_inline(b)}</p>")
    return "\n".join([*out, "</body></html>"]) + "\n"


def render_report(data: dict[str, Any], fmt: str = "markdown") -> str:
    """The report of `operation_report` as markdown, json or html."""
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    if fmt not in FORMATS:
        raise AurumError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}")
    title, sections = _sections(data)
    return _markdown(title, sections) if fmt == "markdown" else _html(title, sections)
