"""`aurumplan health`: is everything an apply needs up? (docs/operations.md#health)

Checks: the state store (reachable, schema this version understands), the warehouse, each source's
API (one cheap request, logged against the shared quota, with the key; skipped with offline), the
daily quota left, leases held by dead processes and interrupted operations. A check's detail is one
line and never holds a key: any key text is masked before it is returned.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from aurumplan.catalog import Catalog, SourceDef
from aurumplan.catalog.pacing import Pace, Pacer
from aurumplan.config import Config
from aurumplan.errors import AurumError, TerminalSourceError, ThrottledError
from aurumplan.intervals import DAY, IntervalSet
from aurumplan.observe.fleet import daily_cap, quota_used
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.keys import api_key
from aurumplan.sources.registry import get_driver
from aurumplan.state import SqlStateStore, open_state
from aurumplan.state.holders import holder, shown_status
from aurumplan.warehouse import open_warehouse

PROBE_TIMEOUT = 10.0


@dataclass
class Check:
    """One health check: what, whether it passed, and one line of why."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mask(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _sqlite_missing(url: str) -> bool:
    prefix = "sqlite:///"
    return url.startswith(prefix) and ":memory:" not in url and not Path(url[len(prefix):]).exists()


def check_state(config: Config) -> tuple[Check, SqlStateStore | None]:
    """The state opens (without being created) at a schema revision this aurumplan reads."""
    try:
        store = open_state(config.state_url, create=False)
    except AurumError as exc:
        return Check("state", False, str(exc).splitlines()[0]), None
    return Check("state", True, f"{store.url} reachable, serial {store.serial()}"), store


def check_warehouse(config: Config) -> Check:
    url = config.warehouse_url
    if _sqlite_missing(url):
        return Check("warehouse", True, "not created yet (the first apply creates it)")
    try:
        wh = open_warehouse(url)
    except AurumError as exc:
        return Check("warehouse", False, str(exc).splitlines()[0])
    shown = wh.url
    wh.close()
    return Check("warehouse", True, f"{shown} reachable")


def _probe_request(source: SourceDef, now: float) -> tuple[Any, Any, RequestSpec]:
    """The cheapest request of a source: one series, one period a month ago."""
    ds = next((d for d in source.datasets.values() if d.series and d.derive is None), None)
    if ds is None:
        raise AurumError(f"source '{source.name}' has no dataset with series to probe")
    t = int(now // DAY * DAY) - 30 * int(DAY)
    start, end = IntervalSet([(t, t + int(DAY))]).align(ds.grain).span or (t, t + int(DAY))
    req = RequestSpec(source.name, ds.name, (ds.series[0],), start, end, 1)
    return get_driver(source.driver), ds, req


def check_source(source: SourceDef, store: SqlStateStore | None, now: float,
                 transport: httpx.BaseTransport | None = None) -> Check:
    """One request with the key: reachable and key accepted, or why not."""
    name = f"source {source.name}"
    key = api_key(source)
    if key is None:
        if source.recordings:
            return Check(name, True, f"replays recordings from {source.recordings}: no key needed, not probed")
        return Check(name, False, f"environment variable {source.api_key_env} is not set")
    if store is not None and source.quota.windows():
        wait = store.reserve_request(source.name, Pacer(Pace.of(source.quota, source.headroom)).shared_windows())
        if wait > 0:
            return Check(name, True, f"not probed: the quota is in use, next request allowed in {wait:.0f}s")
    try:
        driver, ds, req = _probe_request(source, now)
        call = driver.first_call(source, ds, req)
        with httpx.Client(timeout=PROBE_TIMEOUT, transport=transport) as client:
            response = client.send(call.build(client, key))
            driver.parse(source, ds, req, call, response)
    except ThrottledError:
        return Check(name, True, "reachable, key accepted, throttled right now")
    except TerminalSourceError as exc:
        return Check(name, False, _mask(f"key rejected or request refused: {exc}", key))
    except AurumError as exc:
        return Check(name, False, _mask(f"API error: {exc}", key))
    except httpx.TimeoutException:
        return Check(name, False, f"unreachable: no answer from {source.base_url} in {PROBE_TIMEOUT:g}s")
    except httpx.TransportError as exc:
        return Check(name, False, f"unreachable: {type(exc).__name__} calling {source.base_url}")
    return Check(name, True, f"reachable, key accepted ({source.base_url})")


def check_quota(source: SourceDef, store: SqlStateStore, now: float) -> Check:
    """Requests left of the daily quota (the last 24 hours of the shared request log)."""
    used = quota_used(store, source.name, now=now)
    cap = daily_cap(source.quota)
    name = f"quota {source.name}"
    if cap is None:
        return Check(name, True, f"no daily quota; {used} requests in the last 24h")
    left = max(0, cap - used)
    return Check(name, left > 0, f"{left} of {cap} requests left today ({used} used in the last 24h)")


def check_leases(store: SqlStateStore) -> list[Check]:
    """Leases whose holder is dead: they block other operations until unlocked."""
    out = []
    seen: set[str] = set()
    for lease in store.leases(active_only=False):
        if lease.released or lease.paused or lease.operation_id in seen:
            continue
        seen.add(lease.operation_id)
        op = store.find_operation(lease.operation_id)
        if op is not None and op.status == "paused":
            continue
        h = holder(store, lease.operation_id)
        if not h.alive:
            out.append(Check("leases", False, f"operation {lease.operation_id} holds leases but {h.describe()}: "
                             f"resume it, or `aurumplan state unlock --operation {lease.operation_id} --force`"))
    return out or [Check("leases", True, "no lease held by a dead process")]


def check_operations(store: SqlStateStore) -> list[Check]:
    out = []
    for op in store.list_operations(active_only=True):
        shown, why = shown_status(store, op)
        if shown == "interrupted":
            out.append(Check("operations", False, f"{op.id} {why}"))
    return out or [Check("operations", True, "no interrupted operation")]


def health(config: Config, catalog: Catalog, sources: list[str] | None = None, offline: bool = False,
           now: float | None = None, transport: httpx.BaseTransport | None = None) -> list[Check]:
    """Every check, in order; `sources` defaults to those the config names (else every catalog source)."""
    at = time.time() if now is None else now
    names = sources or sorted(config.sources) or sorted(catalog.sources)
    srcs = [catalog.source(n) for n in names]
    state, store = check_state(config)
    checks = [state, check_warehouse(config)]
    try:
        for src in srcs:
            if not offline:
                checks.append(check_source(src, store, at, transport))
            if store is not None:
                checks.append(check_quota(src, store, at))
        if store is not None:
            checks += check_leases(store) + check_operations(store)
    finally:
        if store is not None:
            store.close()
    return checks
