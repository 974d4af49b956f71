"""ChangeSet + graph -> the plan: plain, canonical data that apply needs and nothing else.

The plan is deterministic (same spec + same state -> byte-identical file; `created_at` sits
outside the hashed part), self-contained (the spec text and the Python files it names are
embedded; keys appear only as environment variable names) and versioned (`format_version`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
from itertools import chain
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import Any

from aurumplan import __version__
from aurumplan.catalog import SourceDef
from aurumplan.catalog.estimate import Observed, estimate, pace_of
from aurumplan.catalog.quotas import days_needed, min_duration_seconds
from aurumplan.compile.graph import JobGraph, graph_to_json
from aurumplan.config import Quota
from aurumplan.diff import ChangeSet
from aurumplan.hashing import canonical_json, canonical_json_float_free, fingerprint, sha256_hex
from aurumplan.intervals import IntervalSet, fmt_ts
from aurumplan.plan.layout import COMMA, lay_out_object, sha256_of, text_of

FORMAT_VERSION = 1
HASHED_EXCLUDE = ("created_at", "plan_id", "signature")
PLAN_KEY_ENV = "AURUMPLAN_PLAN_KEY"
"""When set, plans are signed (HMAC-SHA256 of plan_id) and apply accepts only plans signed with it."""


def effective_rate(source: SourceDef, rate_limit: Any) -> float:
    """Requests per second: an explicit rateLimit, or headroom x the tightest quota window."""
    if rate_limit not in (None, "auto"):
        return float(rate_limit)
    windows = source.quota.windows()
    if not windows:
        return math.inf
    return min(n / w for w, n in windows) * source.headroom


def _actions_json(ds_change: Any, grain: Any) -> list[dict[str, Any]]:
    """Series with identical actions are grouped, so one line reads for many series."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for sid, change in sorted(ds_change.series.items()):
        for a in change.actions:
            groups.setdefault((a.action, a.where.intervals, a.reason, a.load_id), []).append(sid)
    out = []
    for (action, ivs, reason, load_id), series in groups.items():
        where = IntervalSet.from_normalized(ivs)
        entry: dict[str, Any] = {"action": action, "series": series, "intervals": where.to_json(),
                                 "periods": where.periods(grain) * len(series), "reason": reason}
        if load_id:
            entry["load_id"] = load_id
        out.append(entry)
    order = {"conflict": 0, "create": 1, "replace": 2, "missing": 3, "unchanged": 4}
    return sorted(out, key=lambda e: (order[e["action"]], e["intervals"], e["series"], e["reason"]))


def operation_id(kind: str, source: str, span_end: int | None, seed: str) -> str:
    """KIND_YYYYMMDD_SOURCE_xxxxxx: the last day the operation covers and a content hash."""
    day = fmt_ts(span_end - 1)[:10].replace("-", "") if span_end else "00000000"
    return f"{kind.upper()}_{day}_{source.upper()}_{sha256_hex(seed)[:6]}"


def build_plan(*, op: Any, spec_text: str, spec_file: str, embedded_files: dict[str, str], source: SourceDef,
               changes: ChangeSet, graph: JobGraph, settings: dict[str, Any],
               warnings: list[str] | None = None, published_until: int | None = None,
               observed: Observed | None = None) -> dict[str, Any]:
    """The plan document (without created_at), with plan_id = hash of its content.

    `published_until`: the hour a window reaching the present was clipped at, recorded so the plan
    re-compiles to itself when applied later (apply/verify.py); absent otherwise, so plans of past
    windows stay byte-identical whenever they are made.
    `observed`: the source's figures from earlier runs for the duration estimate (catalog/estimate.py).
    """
    datasets = []
    fingerprints: dict[str, str] = {}
    counts = {"create": 0, "replace": 0, "unchanged": 0, "missing": 0, "conflict": 0}
    last_end: int | None = None  # the end of everything the plan mentions, for the operation id
    for name, dchange in changes.datasets.items():
        grain = source.datasets[name].grain
        actions = _actions_json(dchange, grain)
        dcounts = dict.fromkeys(counts, 0)
        for a in actions:
            dcounts[a["action"]] += a["periods"]
        for k, v in dcounts.items():
            counts[k] += v
        for sid, change in sorted(dchange.series.items()):
            fingerprints[f"{name}|{sid}"] = change.fingerprint
            ends = [span[1] for a in change.actions if (span := a.where.span) is not None]
            if ends:
                last_end = max(ends) if last_end is None else max(last_end, *ends)
        datasets.append({"dataset": name, "grain": grain.value, "cascade_from": dchange.cascade_from,
                         "actions": actions, "counts": dcounts})
    gjson = graph_to_json(graph)
    nodes = gjson["nodes"]
    extract = [n for n in nodes if n["kind"] == "extract"]
    records = sum(n.get("expected_rows", 0) for n in nodes if n["kind"] in ("extract", "derive"))
    migrating = (settings.get("replay") or {}).get("type") == "schema_correction"  # rewrites stored rows
    requests = 0 if migrating else len(extract)
    rate = effective_rate(source, settings.get("rateLimit"))
    explicit = None if settings.get("rateLimit") in (None, "auto") else float(settings["rateLimit"])
    recorded = bool(source.recordings)  # answered from recordings: no quota spent, no pacing
    min_seconds = min_duration_seconds(requests, Quota() if recorded else source.quota, source.headroom,
                                       None if recorded else explicit)
    observed = observed or Observed()
    steps = sum(1 for n in nodes if n["kind"] in ("validate", "commit"))
    about = estimate(requests, pace_of(source.quota, source.headroom, explicit, recorded),
                     int(settings.get("concurrency", 1)), steps, observed)
    days = days_needed(requests, source.quota, source.headroom)
    warnings = list(warnings or [])
    if days > 1:
        warnings.append(f"this operation needs {requests} requests, more than one day's quota of "
                        f"'{source.name}': it will take at least {days} days")
    estimates = {"requests": requests, "records": records,
                 "bytes": 0 if migrating else records * source.avg_response_bytes_per_row,
                 "min_duration_seconds": round(min_seconds, 3), "duration_seconds": round(about, 3),
                 "rate_per_second": None if math.isinf(rate) else round(rate, 6),
                 "days_of_quota": days, "basis": observed.basis()}
    seed = fingerprint([sha256_hex(spec_text), fingerprints])
    plan: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "aurumplan_version": __version__,
        "operation": {"id": operation_id(op.kind, source.name, last_end, seed),
                      "kind": op.kind, "name": op.metadata.name, "source": source.name,
                      "reason": op.metadata.reason, "owner": op.metadata.owner,
                      "labels": dict(op.metadata.labels or {})},
        "spec": {"file": spec_file, "sha256": sha256_hex(spec_text), "text": spec_text,
                 "files": {k: {"sha256": sha256_hex(v), "text": v} for k, v in sorted(embedded_files.items())}},
        "source": {"name": source.name, "driver": source.driver, "base_url": source.base_url,
                   "api_key_env": source.api_key_env, "quota": source.quota.model_dump(exclude_none=True),
                   "headroom": source.headroom, "recordings": source.recordings},
        "settings": settings,
        "summary": counts,
        "datasets": datasets,
        "fingerprints": fingerprints,
        "graph": {"nodes": nodes, "edges": gjson["edges"]},
        "estimates": estimates,
        "warnings": warnings,
    }
    if published_until is not None:
        plan["published_until"] = fmt_ts(published_until)
    return plan


# Built by build_plan and compile.graph from strings, ints, None, lists and str-keyed dicts only:
# these, ~99% of a large plan's bytes, are encoded by orjson (same bytes as canonical_json, 4x faster).
_FLOAT_FREE = frozenset(("datasets", "fingerprints", "graph"))
_REQUEST = methodcaller("get", "request")
_METHOD, _URL, _PARAMS = itemgetter("method"), itemgetter("url"), itemgetter("params")


def _requests_float_free(graph: Any) -> bool:
    """Extract nodes carry their driver's first call, the one part of the graph a driver builds.

    A call is usually exactly method, url and params, all strings (params as (name, value) pairs):
    that is checked at C speed by joining them. Any other shape has its requests walked.
    """
    try:
        requests = list(filter(None, map(_REQUEST, graph["nodes"])))
    except (TypeError, KeyError, AttributeError):
        return not _holds_float(graph)
    try:
        if {*map(len, requests)} <= {3}:
            "".join(map(_METHOD, requests))
            "".join(map(_URL, requests))
            "".join(chain.from_iterable(chain.from_iterable(map(_PARAMS, requests))))
            return True
    except (TypeError, KeyError):
        pass
    return not any(map(_holds_float, requests))


def _holds_float(obj: Any) -> bool:
    if isinstance(obj, float):
        return True
    if isinstance(obj, dict):
        return any(_holds_float(v) for v in obj.values())
    if isinstance(obj, list | tuple | set | frozenset):
        return any(_holds_float(v) for v in obj)
    return False


def _hashed_pieces(plan: dict[str, Any], exclude: tuple[str, ...] = HASHED_EXCLUDE) -> list[bytes]:
    """The canonical JSON (UTF-8) of everything in the plan but `exclude`, in pieces, without
    its closing brace: the float-free bulk goes through orjson, the few small parts that may hold
    floats (settings, quota, estimates) through json.dumps. Joined, byte for byte canonical_json.
    """
    pieces: list[bytes] = []
    for k in sorted(k for k in plan if k not in exclude):
        v = plan[k]
        pieces.append(b"," if pieces else b"{")
        pieces.append(canonical_json(k).encode() + b":")
        if k in _FLOAT_FREE and (k != "graph" or _requests_float_free(v)):
            pieces.append(canonical_json_float_free(v))
        else:
            pieces.append(canonical_json(v).encode())
    return pieces or [b"{"]


def _hash(pieces: list[bytes]) -> str:
    h = hashlib.sha256()
    for p in pieces:
        h.update(p)
    h.update(b"}")
    return h.hexdigest()


def seal(plan: dict[str, Any]) -> str:
    """Set plan_id (the hash of the canonical JSON of everything else) and return the file text.

    The file is that canonical JSON cut into lines (plan/layout.py) with plan_id (and the signature)
    on the last lines: read_plan parses it and verifies plan_id by hashing the rest again.
    """
    lines = lay_out_object([(k, plan[k], k in _FLOAT_FREE and (k != "graph" or _requests_float_free(plan[k])))
                            for k in plan if k not in HASHED_EXCLUDE])
    plan["plan_id"] = sha256_of(lines)
    signature = sign(plan["plan_id"])
    tail = f',"signature":"{signature}"' if signature else ""
    if signature:
        plan["signature"] = signature
    closing = lines.pop()
    if len(lines) > 1:
        lines.append(COMMA)
    lines.append((1, f'"plan_id":"{plan["plan_id"]}"{tail}'.encode()))
    lines.append(closing)
    body = text_of(lines)
    lines.clear()  # 23 MB of fragments for a large plan: freed before the text is decoded from the joined copy
    return body.decode()


def sign(plan_id: str) -> str | None:
    """HMAC-SHA256 of the plan id with AURUMPLAN_PLAN_KEY, or None without a key (the key is never written)."""
    key = os.environ.get(PLAN_KEY_ENV)
    if not key:
        return None
    return hmac.new(key.encode(), plan_id.encode(), hashlib.sha256).hexdigest()


def plan_hash(plan: dict[str, Any]) -> str:
    return _hash(_hashed_pieces(plan))


def plan_json(plan: dict[str, Any]) -> str:
    """canonical_json(plan) of the whole plan (what apply records with the operation), with the
    same fast encoding as the plan file: a large plan is tens of megabytes of JSON."""
    pieces = _hashed_pieces(plan, exclude=())
    pieces.append(b"}")
    return b"".join(pieces).decode()


def spec_relative(path: Path, cwd: Path) -> str:
    try:
        return str(path.resolve().relative_to(cwd.resolve()))
    except ValueError:
        return str(path)
