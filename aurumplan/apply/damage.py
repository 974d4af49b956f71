"""Damage: scan current data, quarantine what is damaged, write the recovery specs (docs/emergency.md).

A damage report (schemas/damage-report.v1.json) lists, per dataset and series and check, the damaged
ranges, the finding, and which loads (and so which operations) wrote the damaged versions; ranges
with no current version are `missing`. `quarantine` hides the damaged versions, `recover` turns
the report into specs that go through the usual plan and apply.
"""

from __future__ import annotations

import io
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from aurumplan.apply.lifecycle import transition, who
from aurumplan.catalog import Catalog
from aurumplan.config import Config
from aurumplan.errors import AurumError, OperationError
from aurumplan.hashing import sha256_hex
from aurumplan.inspect.reports import parse_window
from aurumplan.intervals import Grain, IntervalSet, fmt_ts, parse_ts
from aurumplan.quality.evaluate import evaluate, normalize_checks
from aurumplan.quality.expected import period_end
from aurumplan.state import open_state
from aurumplan.warehouse import Warehouse, open_warehouse

REPORT_VERSION = 1
CHUNK_PERIODS = 744
"""A scan judges at most this many periods of a dataset at a time (a month of hours, two years of days,
62 years of months): memory stays bounded on long windows, and a coarse series still has enough values
in a chunk for the outlier rule to judge it (docs/quality.md)."""
NOT_DAMAGE = frozenset({"not_judged"})
"""Finding kinds that say a check could not judge, not that anything is wrong."""


def _ivs(s: IntervalSet) -> list[list[str]]:
    return [[fmt_ts(a), fmt_ts(b)] for a, b in s]


def _parse_ivs(rows: list[list[str]]) -> IntervalSet:
    return IntervalSet([(parse_ts(a), parse_ts(b)) for a, b in rows])


def scan(config: Config, catalog: Catalog, source: str, window: str | None = None,
         checks: list[str] | None = None) -> dict[str, Any]:
    """Run the quality checks over current data and return the damage report (see module doc)."""
    src = catalog.source(source)
    selected = normalize_checks(checks or ["all"])
    with open_warehouse(config.warehouse_url) as wh:
        loaded = wh.loaded_series(source)
        span = parse_window(window) if window else wh.current_span(source)
        found: dict[tuple[str, str, str], tuple[IntervalSet, list[str]]] = {}
        for dataset, series in loaded.items():
            if dataset not in src.datasets or span is None:
                continue
            for chunk in _chunks(src.datasets[dataset].grain, span):
                with wh.connect() as conn:
                    q = evaluate(conn, catalog, source, dataset, chunk, selected, series=series)
                for check, result in q.results.items():
                    for f in result.findings:
                        if not f.periods or f.kind in NOT_DAMAGE:
                            continue
                        where, messages = found.get((dataset, f.series_id, check), (IntervalSet(), []))
                        if f.message not in messages and len(messages) < 5:
                            messages.append(f.message)
                        found[(dataset, f.series_id, check)] = (where | IntervalSet(f.periods), messages)
        damage = [_attribute(wh, catalog, source, ds, sid, check, where, messages)
                  for (ds, sid, check), (where, messages) in sorted(found.items())]
        created = time.time()
        body = {"source": source, "window": [fmt_ts(span[0]), fmt_ts(span[1])] if span else None,
                "checks": list(selected), "damage": damage}
        rid = f"DAMAGE_{time.strftime('%Y%m%d', time.gmtime(created))}_{source.upper()}_" \
              f"{sha256_hex(json.dumps(body, sort_keys=True) + str(created))[:6]}"
        return {"version": REPORT_VERSION, "id": rid, "created_at": fmt_ts(int(created)), "by": who(), **body,
                "periods": sum(d["periods"] for d in damage)}


def _chunks(grain: Grain, span: tuple[int, int]) -> Iterator[tuple[int, int]]:
    """[start, end) cut into pieces of at most CHUNK_PERIODS periods of the grain."""
    a = span[0]
    while a < span[1]:
        b = min(grain.add(grain.floor(a), CHUNK_PERIODS), span[1])
        yield a, b
        a = b


def _attribute(wh: Warehouse, catalog: Catalog, source: str, dataset: str, series_id: str, check: str,
               where: IntervalSet, messages: list[str]) -> dict[str, Any]:
    """Which loads and operations wrote the current versions in `where`; what has no version is missing."""
    ds = catalog.dataset(source, dataset)
    by_load: dict[tuple[str, str], list[int]] = {}
    present = IntervalSet()
    for s, e in where:
        for period, lid, op in wh.current_versions(source, (dataset, series_id, s, e)):
            by_load.setdefault((lid, op), []).append(period)
    loads_out = []
    for (lid, op), periods in sorted(by_load.items()):
        got = IntervalSet((p, period_end(ds, p)) for p in periods)
        present = present | got
        replaced = sum(wh.displaced_by(lid, source, (dataset, series_id, s, e)) for s, e in got)
        loads_out.append({"load_id": lid, "operation_id": op, "ranges": _ivs(got), "periods": len(periods),
                          "replaced": replaced})
    missing = where - present
    return {"dataset": dataset, "series_id": series_id, "check": check, "findings": messages,
            "ranges": _ivs(where), "periods": where.periods(ds.grain), "loads": loads_out,
            "missing": _ivs(missing)}


def read_report(path: str | Path) -> dict[str, Any]:
    """A damage report written by `scan`; one clear error when it is not one."""
    try:
        data: dict[str, Any] = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise AurumError(f"{path}: not a readable damage report: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != REPORT_VERSION or "damage" not in data:
        raise AurumError(f"{path}: not a damage report of version {REPORT_VERSION} (write one with `aurumplan scan`)")
    return data


def _present_ranges(report: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """The report's damaged ranges that have a current version, merged per dataset and series."""
    per: dict[tuple[str, str], IntervalSet] = {}
    for d in report["damage"]:
        for ld in d["loads"]:
            key = (d["dataset"], d["series_id"])
            per[key] = per.get(key, IntervalSet()) | _parse_ivs(ld["ranges"])
    return [(ds, sid, s, e) for (ds, sid), where in sorted(per.items()) for s, e in where]


def quarantine(config: Config, report_path: str | Path, mode: str = "strict") -> dict[str, Any]:
    """Hide a report's damaged versions from observations_current; recorded as a Quarantine operation."""
    report = read_report(report_path)
    source = report["source"]
    ranges = _present_ranges(report)
    if not ranges:
        raise OperationError(f"{report_path}: no damaged version is current: nothing to quarantine")
    qid = f"QUARANTINE_{time.strftime('%Y%m%d', time.gmtime())}_{source.upper()}_" \
          f"{sha256_hex(report['id'] + mode + str(time.time()))[:6]}"
    with open_state(config.state_url, create=True) as store:
        reason = f"quarantine ({mode}) of damage report {report['id']}"
        store.create_operation(qid, "Quarantine", source, status="running", reason=reason, owner=None,
                               labels={"damage_report": report["id"], "mode": mode}, host=socket.gethostname(),
                               pid=os.getpid(), summary={})
        with open_warehouse(config.warehouse_url) as wh:
            rows = wh.quarantine(qid, source, ranges, mode=mode, reason=reason, report_id=report["id"])
        out = {"quarantine_id": qid, "source": source, "mode": mode, "report_id": report["id"], "periods": rows,
               "ranges": len(ranges)}
        store.update_operation(qid, summary=out)
        transition(store, qid, "succeeded", event="quarantine", **out)
        store.log_emergency("quarantine", source, out)
        return out


def release(config: Config, quarantine_id: str) -> dict[str, Any]:
    """Undo a quarantine: hidden versions come back where nothing newer became current."""
    with open_state(config.state_url, create=True) as store:
        op = store.get_operation(quarantine_id)
        if op.kind != "Quarantine":
            raise OperationError(f"{quarantine_id} is a {op.kind}, not a quarantine")
        with open_warehouse(config.warehouse_url) as wh:
            out: dict[str, Any] = dict(wh.release(quarantine_id))
        transition(store, quarantine_id, "rolled_back", event="release", **out)
        store.log_emergency("release", op.source, out)
        return out


def recover(config: Config, catalog: Catalog, report_path: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write reviewable recovery specs for a damage report; never applies anything.

    A rollback line where the damaging operation replaced earlier versions (they were current
    before it); a Replay (`type: correction`) of damaged ranges otherwise; a Reprocess
    `failedRecords` for ranges with no current version.
    """
    report = read_report(report_path)
    source, rid = report["source"], report["id"]
    catalog.source(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    to_replay: dict[tuple[str, str], IntervalSet] = {}
    rollbacks: dict[str, list[str]] = {}
    missing: list[dict[str, Any]] = []
    for d in report["damage"]:
        for ld in d["loads"]:
            if ld["replaced"] >= ld["periods"] and ld["operation_id"]:
                rollbacks.setdefault(ld["operation_id"], []).append(f"{d['dataset']} {d['series_id']}")
                continue
            key = (d["dataset"], d["series_id"])
            to_replay[key] = to_replay.get(key, IntervalSet()) | _parse_ivs(ld["ranges"])
        for s, e in _parse_ivs(d["missing"]):
            missing.append({"operation_id": rid, "source": source, "dataset": d["dataset"], "series": [d["series_id"]],
                            "interval": [fmt_ts(s), fmt_ts(e)], "request": {}, "error": f"{d['check']}: "
                            + "; ".join(d["findings"][:1]), "attempts": 0})
    replay: dict[tuple[str, tuple[int, int]], set[str]] = {}  # one Replay per dataset and range, its series
    for (dataset, sid), where in to_replay.items():
        for iv in where:
            replay.setdefault((dataset, iv), set()).add(sid)
    written: list[str] = []
    reason = f"recovery of damage report {rid}"
    for n, ((dataset, (s, e)), series) in enumerate(sorted(replay.items()), 1):
        spec = {"apiVersion": "aurumplan/v1", "kind": "Replay",
                "metadata": {"name": f"recover-{n:03d}", "reason": reason, "labels": {"damage_report": rid}},
                "spec": {"source": source, "datasets": [dataset], "series": sorted(series),
                         "window": {"start": fmt_ts(s), "end": fmt_ts(e)}, "type": "correction"}}
        written.append(_write(out / f"replay-{n:03d}.yaml", spec))
    if missing:
        log = out / "missing.jsonl"
        log.write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in missing))
        spec = {"apiVersion": "aurumplan/v1", "kind": "Reprocess",
                "metadata": {"name": "recover-missing", "reason": reason, "labels": {"damage_report": rid}},
                "spec": {"source": source, "failedRecords": log.name}}
        written.append(_write(out / "reprocess-missing.yaml", spec))
    if rollbacks:
        lines = [f"# Rollbacks for damage report {rid}: these operations replaced good versions with damaged",
                 "# ones; review, then run each line (a rollback undoes the whole operation)."]
        for op, places in sorted(rollbacks.items()):
            lines += [f"# {op} wrote damage in: {', '.join(sorted(set(places)))}", f"aurumplan rollback {op}"]
        written.append(_write_text(out / "rollbacks.sh", "\n".join(lines) + "\n"))
    with open_state(config.state_url, create=True) as store:
        summary = {"report_id": rid, "out_dir": str(out), "files": written, "rollbacks": sorted(rollbacks),
                   "replays": len(replay), "missing_ranges": len(missing)}
        store.log_emergency("recover", source, {**summary, "by": who()})
        return summary


def _write(path: Path, spec: dict[str, Any]) -> str:
    buf = io.StringIO()
    dumper = YAML(typ="safe", pure=True)
    dumper.default_flow_style = False
    dumper.dump(spec, buf)
    return _write_text(path, buf.getvalue())


def _write_text(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)
