"""An algorithm_update Replay runs its algorithm on each extract node's staged records, per series in period
order, before the node counts as staged (docs/replay.md, "Algorithms"). The rows it replaces are the load's
own staged rows, so a rollback of the operation restores what was committed before, unchanged."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import Any

from aurumplan.algorithms import Algorithm, AlgorithmFileError, UnknownAlgorithm, from_file, resolve
from aurumplan.errors import OperationError, PlanError
from aurumplan.warehouse import Warehouse
from aurumplan.warehouse.rows import Record


def algorithm_of(algorithm: Mapping[str, Any], files: Mapping[str, str]) -> Algorithm:
    """The plan's algorithm: installed, or from the file text the plan embedded (never the file on disk now)."""
    rel = algorithm.get("file")
    if rel is None:
        impl = resolve(algorithm["name"])
    elif rel not in files:
        raise PlanError(f"the plan names algorithm file {rel} but does not embed it: re-plan the spec")
    else:
        try:
            impl = from_file(files[rel], rel, algorithm["name"])
        except (AlgorithmFileError, UnknownAlgorithm) as exc:
            raise PlanError(f"{rel} (embedded in the plan): {exc}", hint="re-plan the spec") from None
    if str(algorithm.get("version")) not in (impl.version, f"v{impl.version}"):
        raise PlanError(f"the plan asks for {impl.name} version {algorithm.get('version')}, but "
                        f"{rel or 'the installed one'} is version {impl.version}", hint="re-plan the spec")
    return impl


def run_algorithm(wh: Warehouse, load_id: str, source: str, dataset: str, algorithm: Mapping[str, Any],
                  files: Mapping[str, str] | None = None) -> int:
    """Rewrite the staged load through the algorithm; returns the records staged after it.

    files: the plan's embedded files by spec-relative path (an algorithm with `file` runs that text)."""
    impl = algorithm_of(algorithm, files or {})
    params = impl.Params.model_validate(algorithm.get("params") or {})
    rows = list(wh.read_rows(source, dataset, load_id=load_id))
    out: list[Record] = []
    for sid, group in groupby(rows, key=lambda r: r.series_id):
        records = [{"source": r.source, "dataset": r.dataset, "series_id": r.series_id, "period": r.period,
                    "value": r.value, "unit": r.unit, "attributes": r.attributes} for r in group]
        try:
            result = impl.run(records, params)
        except Exception as exc:  # a plug-in's code: one line naming it and the series, never a traceback
            raise OperationError(f"algorithm {impl.name}@{impl.version} failed on {sid}: "
                                 f"{type(exc).__name__}: {exc}") from None
        for rec in result:
            if rec.get("series_id", sid) != sid:
                raise OperationError(f"algorithm {impl.name}@{impl.version} moved a record of {sid} to "
                                     "another series: an algorithm works within one series")
            value = rec.get("value")
            out.append((sid, int(rec["period"]), None if value is None else float(value), rec.get("unit"),
                        rec.get("attributes")))
    wh.discard_staged(load_id, restage=True)
    for i in range(0, len(out), 5000):
        wh.write_records(load_id, source, dataset, out[i:i + 5000])
    return len(out)
