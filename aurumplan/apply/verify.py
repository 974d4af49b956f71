"""What was reviewed is what runs: a saved plan is checked before apply writes anything.

1. Made by this aurumplan version (another version may compile the same spec differently).
2. Its recorded source settings (base URL, quota, headroom, key variable, recordings) equal the live
   config, unless the operator accepts the change (`--accept-config-change`, written to the audit trail).
3. Its graph is what its own embedded spec compiles to against the live catalog and state: a plan
   edited by hand (a node's window widened, checksum recomputed) or corrupted is refused.
4. No node writes outside the ranges the plan leases (create/replace actions).
docs/architecture.md ("Plan integrity") explains each check and its message.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from aurumplan import __version__
from aurumplan.apply.staleness import written
from aurumplan.catalog import Catalog, SourceDef
from aurumplan.errors import AurumError, PlanError
from aurumplan.intervals import IntervalSet, parse_ts
from aurumplan.plan.builder import plan_hash
from aurumplan.plan.make import plan_loaded
from aurumplan.plan.model import DataNode, Plan, SpecBlock
from aurumplan.spec.loader import LoadedSpec, parse_spec

COMPARED = ("datasets", "fingerprints", "graph", "settings", "summary")
"""The parts of a plan its spec determines (given catalog and state); any difference means an edit."""


def recorded_source(source: SourceDef) -> dict[str, Any]:
    """The source settings a plan records (plan/builder.py writes the same block)."""
    return {"name": source.name, "driver": source.driver, "base_url": source.base_url,
            "api_key_env": source.api_key_env, "quota": source.quota.model_dump(exclude_none=True),
            "headroom": source.headroom, "recordings": source.recordings}


def version_check(plan: Plan) -> None:
    made = plan.aurumplan_version
    if made != __version__:
        raise PlanError(f"plan {plan.operation.id} was made by aurumplan {made}; this is {__version__}",
                        hint="re-plan the spec with this version and review the new plan")


def config_changes(plan: Plan, source: SourceDef) -> list[str]:
    """Differences between the plan's recorded source settings and the live ones, one line each."""
    was, now = plan.source.model_dump(mode="json"), recorded_source(source)
    return [f"{k}: planned {was.get(k)!r}, now {now.get(k)!r}" for k in sorted(now) if was.get(k) != now.get(k)]


def within_leases(plan: Plan) -> None:
    """Every extract/derive node writes only inside the create/replace ranges the plan leases."""
    leased = written(plan)
    for n in plan.graph.nodes:
        if not isinstance(n, DataNode):
            continue
        for sid in n.series:
            outside = n.where(sid) - leased.get((n.dataset, sid), IntervalSet())
            if outside:
                first = outside.to_json()[0]
                raise PlanError(f"plan {plan.operation.id}: node {n.id} writes {n.dataset} {sid} "
                                f"{first[0]} .. {first[1]}, outside the ranges the plan creates or replaces "
                                "(the plan was edited or is corrupt)", hint="re-plan the spec and review it")


def compiles_to_itself(plan: Plan, catalog: Catalog, state: Any, cwd: Path) -> None:
    """Re-plan the embedded spec (with its embedded files) and compare with the plan."""
    spec = plan.spec
    with tempfile.TemporaryDirectory(prefix="aurumplan-verify-") as tmp:
        folder = _spec_folder(spec, cwd, Path(tmp))
        name = Path(spec.file).name or "spec.yaml"
        try:
            doc, op = parse_spec(spec.text, spec.file, folder)
            loaded = LoadedSpec(path=folder / name, text=spec.text,
                                sha256=hashlib.sha256(spec.text.encode()).hexdigest(), doc=doc, op=op)
            now = parse_ts(plan.published_until) if plan.published_until else None
            again = plan_loaded(loaded, catalog, state, cwd=cwd, own_operation=plan.operation.id, now=now).plan
        except AurumError as exc:
            raise PlanError(f"plan {plan.operation.id}: its embedded spec no longer plans ({exc})",
                            hint="re-plan the spec and review it") from None
    mine = plan.to_dict()
    differ = [k for k in COMPARED if plan_hash({k: again.get(k)}) != plan_hash({k: mine.get(k)})]
    if differ:
        raise PlanError(f"plan {plan.operation.id} is not what its own spec compiles to "
                        f"({', '.join(differ)} differ): it was edited by hand, is corrupt, or the catalog changed",
                        hint="re-plan the spec and review the new plan")


def _spec_folder(spec: SpecBlock, cwd: Path, tmp: Path) -> Path:
    """The spec's own folder when its file and the Python files it names are still there unchanged
    (spec-relative inputs such as a failure log resolve as at plan time); otherwise a folder holding the
    plan's embedded files, so the check judges what was reviewed and will run, not a later edit."""
    original: Path = (cwd / spec.file).resolve()
    if original.is_file() and original.read_text() == spec.text and all(
            _same_text(original.parent / rel, f.text) for rel, f in spec.files.items()):
        return original.parent
    for rel, f in spec.files.items():
        target = (tmp / rel).resolve()
        if tmp.resolve() in target.parents:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text)
    return tmp


def _same_text(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False
