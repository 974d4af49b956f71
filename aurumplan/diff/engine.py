"""Scope vs watermark state -> ChangeSet: every interval with its action and reason.

Backfill creates only what is missing; Replay replaces what is loaded and reports (never
silently creates) what is not; Reprocess replaces what is loaded and creates what is not,
subject to its `conflicts` policy. Ranges held by another running operation, a frozen
source, or a schema-version mismatch become conflicts, which block apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any, Protocol

from aurumplan.compile.scope import Scope
from aurumplan.hashing import sha256_hex
from aurumplan.intervals import IntervalMap, IntervalSet


class PlanReader(Protocol):
    """The read-only slice of the state planning needs: the store, state/litereader.py on a SQLite file,
    or api.EmptyState before there is a state. Every one answers every read (an empty state with nothing),
    so a reader that lacks one fails instead of planning as if nothing were there."""

    def watermarks(self, source: str, dataset: str | None = None,
                   series: Iterable[str] | None = None) -> Mapping[tuple[str, str], IntervalMap[Any]]: ...

    def leases(self, active_only: bool = True) -> list[Any]: ...

    def freezes(self, source: str | None = None) -> list[Any]: ...

    def recent_runs(self, source: str, limit: int = 5) -> list[Any]: ...

    def attempts_of_spec(self, spec_sha256: str) -> list[Any]: ...


@dataclass(frozen=True)
class Action:
    """One coalesced piece of work (or non-work) on one series."""

    action: str  # create | replace | unchanged | missing | conflict
    where: IntervalSet
    reason: str
    load_id: str | None = None


@dataclass
class SeriesChange:
    series_id: str
    actions: list[Action] = field(default_factory=list)
    fingerprint: str = ""

    def where(self, *kinds: str) -> IntervalSet:
        parts = [a.where for a in self.actions if a.action in kinds]
        if len(parts) == 1:
            return parts[0]
        return IntervalSet([iv for w in parts for iv in w])


@dataclass
class DatasetChange:
    dataset: str
    grain: str
    series: dict[str, SeriesChange] = field(default_factory=dict)
    cascade_from: str | None = None


@dataclass
class ChangeSet:
    source: str
    kind: str
    datasets: dict[str, DatasetChange] = field(default_factory=dict)

    @property
    def conflicts(self) -> list[tuple[str, str, Action]]:
        return [(d.dataset, s.series_id, a) for d in self.datasets.values() for s in d.series.values()
                for a in s.actions if a.action == "conflict"]


_REF_ATTRS = attrgetter("load_id", "checksum", "schema_version")
_LOAD_ID, _CHECKSUM, _SCHEMA = attrgetter("load_id"), attrgetter("checksum"), attrgetter("schema_version")
_START, _END, _VALUE = itemgetter(0), itemgetter(1), itemgetter(2)


def _ref_parts(ref: Any) -> tuple[Any, ...]:
    """(load_id, checksum, schema_version) of a watermark value, whatever its shape."""
    try:
        return _REF_ATTRS(ref)
    except AttributeError:
        pass
    if isinstance(ref, tuple):
        return str(ref[0]), str(ref[1] if len(ref) > 1 else ""), str(ref[2] if len(ref) > 2 else "")
    return str(ref), "", ""


def range_fingerprint(loaded: IntervalMap[Any], wanted: IntervalSet) -> str:
    """What the state holds inside wanted: load versions and checksums, as one hash."""
    return _held_fingerprint(loaded.restrict(wanted))


def _held_fingerprint(held: IntervalMap[Any]) -> str:
    """The hash of watermarks already restricted to the wanted range.

    The repr of (start, end, load_id, checksum, schema_version) tuples (ints and strings) is stable
    across runs and machines, and much cheaper than canonical JSON on this hot path (one per
    series). The tuples are zipped at C speed when the values have those attributes.
    """
    items = held.items()
    try:
        refs = list(map(_VALUE, items))
        rows = list(zip(map(_START, items), map(_END, items), map(_LOAD_ID, refs), map(_CHECKSUM, refs),
                        map(_SCHEMA, refs), strict=True))
    except AttributeError:
        rows = [(s, e, *_ref_parts(v)) for s, e, v in items]
    return sha256_hex(repr(rows))


def _schema_mismatched(here: IntervalMap[Any], expected_schema: str) -> IntervalMap[Any]:
    """The items loaded under another schema version than expected (none, usually: checked at C speed)."""
    items = here.items()
    try:
        if {*map(_SCHEMA, map(_VALUE, items))} <= {None, "", expected_schema}:
            return IntervalMap._raw(())
    except (AttributeError, TypeError):
        pass
    return IntervalMap._raw(tuple((s, e, v) for s, e, v in items
                                  if getattr(v, "schema_version", None) not in (None, "", expected_schema)))


def _lease_conflicts(leases: list[Any], source: str, dataset: str, series_id: str, wanted: IntervalSet,
                     own_operation: str | None) -> list[Action]:
    out = []
    for lease in leases:
        if (lease.source, lease.dataset, lease.series_id) != (source, dataset, series_id):
            continue
        if own_operation and lease.operation_id == own_operation:
            continue
        held = wanted & IntervalSet([(lease.start, lease.end)])
        if held and getattr(lease, "paused", False):
            out.append(Action("conflict", held, f"held by paused operation {lease.operation_id}: resume or cancel it"))
        elif held:
            out.append(Action("conflict", held, f"held by running operation {lease.operation_id} "
                                               f"(host {lease.host}, pid {lease.pid})"))
    return out


def diff(scope: Scope, state: PlanReader, *, conflicts_policy: str = "latest_wins",
         target_schema: str | None = None, own_operation: str | None = None,
         migrating: bool = False) -> ChangeSet:
    """Compare what the scope wants with what the state holds.

    A Replay writes `target_schema` (its schemaVersion), else the catalog's version; without a
    schemaVersion it may not go over rows at another version (that would silently revert a
    migration). A migrating Replay (schema_correction) leaves rows already at its target alone.
    """
    src = scope.source
    cs = ChangeSet(src.name, scope.kind)
    leases = state.leases(active_only=True)
    frozen = _frozen(state, src.name, src.frozen)
    everything = state.watermarks(src.name) if len(scope.datasets) > 8 else None
    for name, ds_scope in scope.datasets.items():
        ds = ds_scope.dataset
        loaded_all = everything if everything is not None else state.watermarks(src.name, name,
                                                                                list(ds_scope.series))
        dchange = DatasetChange(name, ds.grain.value, cascade_from=ds_scope.cascade_from)
        expected_schema = target_schema if scope.kind == "Replay" and target_schema else ds.schema_version
        for sid, selections in ds_scope.series.items():
            loaded: IntervalMap[Any] = loaded_all.get((name, sid), IntervalMap())
            change = SeriesChange(sid)
            wanted = ds_scope.wanted(sid)
            held = loaded.restrict(wanted)  # restricted once: every selection lies inside wanted
            change.fingerprint = _held_fingerprint(held)
            blocked = IntervalSet()
            if frozen:
                change.actions.append(Action("conflict", wanted, frozen))
                blocked = wanted
            for a in _lease_conflicts(leases, src.name, name, sid, wanted, own_operation):
                change.actions.append(a)
                blocked = blocked | a.where
            for sel in selections:
                where = sel.where - blocked if blocked else sel.where
                here = held if where == wanted else held.restrict(where)
                if scope.kind == "Replay" and (migrating or not target_schema):
                    here, taken = _replay_versions(change, here, expected_schema, migrating)
                    where = where - taken if taken else where
                _classify(change, where, sel.reason, here, scope.kind, conflicts_policy, expected_schema)
            change.actions = _coalesce(change.actions)
            dchange.series[sid] = change
        cs.datasets[name] = dchange
    return cs


def _frozen(state: PlanReader, source: str, in_config: bool) -> str | None:
    """Why the source is frozen (in the config, or by `aurumplan freeze` in the state), or None."""
    if in_config:
        return f"source '{source}' is frozen in the config"
    for f in state.freezes(source):
        return f"source '{source}' is frozen: {f.reason} (by {f.by}; `aurumplan unfreeze {source}` lifts it)"
    return None


def _replay_versions(change: SeriesChange, here: IntervalMap[Any], expected_schema: str,
                     migrating: bool) -> tuple[IntervalMap[Any], IntervalSet]:
    """The loaded ranges a Replay may replace; refused and already migrated ones become actions.

    Without `schemaVersion`, rows at another version than the catalog's are `! conflict` (docs/quality.md,
    "Schema versions"); a migration skips rows already at its target (migrating them twice would
    apply it twice). Returns what is left to replace, and the ranges now decided.
    """
    if migrating:
        done = IntervalMap._raw(tuple((s, e, v) for s, e, v in here.items()
                                      if getattr(v, "schema_version", None) == expected_schema))
        if not len(done):
            return here, IntervalSet()
        taken = done.domain()
        change.actions.append(Action("unchanged", taken, f"already at schema {expected_schema}"))
        return here.restrict(here.domain() - taken), taken
    other = _schema_mismatched(here, expected_schema)
    if not len(other):
        return here, IntervalSet()
    for ref, ivs in sorted(other.by_value().items(), key=lambda kv: kv[1].intervals):
        load_id, _, schema = _ref_parts(ref)
        change.actions.append(Action("conflict", ivs, f"loaded at schema {schema} by {load_id}; this Replay "
                                                      f"writes schema {expected_schema} (the catalog's): add "
                                                      f"schemaVersion: {expected_schema} to revert it knowingly"))
    taken = other.domain()
    return here.restrict(here.domain() - taken), taken


def _classify(change: SeriesChange, where: IntervalSet, reason: str, here: IntervalMap[Any], kind: str,
              policy: str, expected_schema: str) -> None:
    """Actions for one selection; `here` is the watermark map already restricted to `where`."""
    held = here.domain()
    missing = where - held
    if missing:
        if kind == "Replay":
            change.actions.append(Action("missing", missing, "not loaded: a Replay does not create data "
                                                             "(use a Backfill)"))
        else:
            change.actions.append(Action("create", missing, reason))
    if kind == "Backfill" or (kind == "Reprocess" and policy == "keep_existing"):
        mismatched = _schema_mismatched(here, expected_schema) if kind == "Backfill" else IntervalMap._raw(())
        for ref, ivs in sorted(mismatched.by_value().items(), key=lambda kv: kv[1].intervals):
            load_id, _, schema = _ref_parts(ref)
            change.actions.append(Action("conflict", ivs, f"loaded as schema {schema} by {load_id}; "
                                                          f"catalog expects {expected_schema}"))
        kept = held - mismatched.domain() if len(mismatched) else held
        reason = "already loaded" if kind == "Backfill" else "kept (conflicts: keep_existing)"
        if kept:
            change.actions.append(Action("unchanged", kept, reason))
        return
    for ref, ivs in sorted(here.by_value().items(), key=lambda kv: kv[1].intervals):
        load_id, _, _ = _ref_parts(ref)
        if policy == "fail":
            change.actions.append(Action("conflict", ivs, f"already loaded by {load_id} (conflicts: fail)",
                                         load_id))
        else:
            change.actions.append(Action("replace", ivs, f"{reason}; replaces load {load_id}", load_id))


def _coalesce(actions: list[Action]) -> list[Action]:
    """Merge actions with the same kind, reason and load into one interval set."""
    acc: dict[tuple[str, str, str | None], list[IntervalSet]] = {}
    for a in actions:
        if a.where:
            acc.setdefault((a.action, a.reason, a.load_id), []).append(a.where)
    order = {"conflict": 0, "create": 1, "replace": 2, "missing": 3, "unchanged": 4}
    out = [Action(k[0], v[0] if len(v) == 1 else IntervalSet([iv for w in v for iv in w]), k[1], k[2])
           for k, v in acc.items()]
    return sorted(out, key=lambda a: (order[a.action], a.where.intervals, a.reason))
