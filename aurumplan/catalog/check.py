"""A valid spec checked against the catalog and config: do the names it uses exist, may it write.

The spec loader knows the format; only the catalog knows which sources, datasets and series
exist, so these checks live here and point at the spec's own lines with a did-you-mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aurumplan.catalog.loader import Catalog
from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.catalog.quotas import rate_errors
from aurumplan.errors import Diagnostic, SpecError
from aurumplan.intervals import Grain
from aurumplan.spec.failures import numbered_failures
from aurumplan.spec.loader import LoadedSpec, load_spec
from aurumplan.spec.models import ReplaySpec, ReprocessSpec
from aurumplan.yamlpos import did_you_mean


def series_selected(dataset: DatasetDef, wanted: Iterable[str] | None) -> list[str]:
    """The dataset's series a spec's `series` names: an exact id, or a prefix before a dot.

    `PJM` selects `PJM` in ELEC.DEMAND and `PJM.NG`, `PJM.COL`, ... in ELEC.GEN, so one series
    list can span datasets whose ids share a respondent or station prefix.
    """
    if wanted is None:
        return list(dataset.series)
    names = set(wanted)
    return [s for s in dataset.series if s in names or any(s.startswith(w + ".") for w in names)]


def selected_datasets(loaded: LoadedSpec, source: SourceDef) -> list[DatasetDef]:
    """The catalog datasets the spec names (every dataset of the source when it names none)."""
    spec = loaded.op.spec
    if spec.datasets is None:
        return [source.datasets[k] for k in sorted(source.datasets)]
    return [source.datasets[d] for d in spec.datasets if d in source.datasets]


def check_spec(loaded: LoadedSpec, catalog: Catalog) -> list[Diagnostic]:
    """Every catalog/config problem of a loaded spec, at the spec's offending value."""
    doc, spec = loaded.doc, loaded.op.spec
    source = catalog.sources.get(spec.source)
    if source is None:
        known = ", ".join(sorted(catalog.sources))
        return [doc.diag(("spec", "source"), f"spec.source: unknown source '{spec.source}'"
                                             f"{did_you_mean(spec.source, catalog.sources)}; use one of {known}")]
    out: list[Diagnostic] = _profile_diagnostics(loaded, catalog)
    if source.frozen:
        out.append(doc.diag(("spec", "source"), f"spec.source: source '{spec.source}' is frozen (frozen: true in "
                                                 "aurumplan.yaml): nothing may write to it; unfreeze it first"))
    for i, name in enumerate(spec.datasets or ()):
        if name not in source.datasets:
            out.append(doc.diag(("spec", "datasets", i),
                                f"spec.datasets: unknown dataset '{name}' of source '{spec.source}'"
                                f"{did_you_mean(name, source.datasets)}; known: {', '.join(sorted(source.datasets))}"))
    if spec.rateLimit != "auto":
        out.extend(doc.diag(("spec", "rateLimit"), f"spec.rateLimit: {e} of source '{spec.source}'")
                   for e in rate_errors(float(spec.rateLimit), source.quota))
    chosen = selected_datasets(loaded, source)
    out.extend(_series_diagnostics(loaded, chosen))
    if isinstance(spec, ReplaySpec):
        out.extend(_schema_version_diagnostics(loaded, chosen))
    if isinstance(spec, ReprocessSpec):
        out.extend(_hours_diagnostics(loaded, chosen))
        out.extend(_failure_log_diagnostics(loaded, catalog))
        out.extend(_incremental_diagnostics(loaded, source, chosen))
    return out


def _profile_diagnostics(loaded: LoadedSpec, catalog: Catalog) -> list[Diagnostic]:
    """qualityProfile must name a profile of aurumplan.yaml's quality_profiles (docs/quality.md)."""
    name = getattr(loaded.op.spec, "qualityProfile", None)
    if name is None or name in catalog.quality_profiles:
        return []
    known = sorted(catalog.quality_profiles)
    fix = (f"use one of {', '.join(known)}" if known else
           "define it under quality_profiles: in aurumplan.yaml, or remove qualityProfile")
    return [loaded.doc.diag(("spec", "qualityProfile"), f"spec.qualityProfile: unknown quality profile '{name}'"
                            f"{did_you_mean(name, catalog.quality_profiles)}; {fix}")]


def _series_diagnostics(loaded: LoadedSpec, chosen: list[DatasetDef]) -> list[Diagnostic]:
    doc, spec = loaded.doc, loaded.op.spec
    if spec.series is None:
        return []
    listed = [ds for ds in chosen if ds.series]  # datasets added by config may not list series
    if not listed:
        return []
    known = sorted({s for ds in listed for s in ds.series})
    names = ", ".join(ds.name for ds in listed)
    out: list[Diagnostic] = []
    for i, name in enumerate(spec.series):
        if not any(series_selected(ds, [name]) for ds in listed):
            out.append(doc.diag(("spec", "series", i), f"spec.series: unknown series '{name}' in {names}"
                                                       f"{did_you_mean(name, known)}"))
    if out:
        return out
    for ds in listed:
        if not series_selected(ds, spec.series) and spec.datasets is not None:
            at = ("spec", "datasets", spec.datasets.index(ds.name))
            out.append(doc.diag(at, f"spec.datasets: none of the listed series is in '{ds.name}': "
                                    "remove the dataset or add its series"))
    return out


def _schema_version_diagnostics(loaded: LoadedSpec, chosen: list[DatasetDef]) -> list[Diagnostic]:
    """A re-fetching Replay stores rows as the source returns them: at the catalog's schema version only.

    Its `schemaVersion` may name that version (to revert migrated rows knowingly), never another one
    it would stamp on rows that are not in it (docs/quality.md, "Schema versions").
    """
    doc, spec = loaded.doc, loaded.op.spec
    assert isinstance(spec, ReplaySpec)
    if spec.schemaVersion is None or spec.type not in ("correction", "quality_improvement"):
        return []
    other = [ds for ds in chosen if ds.schema_version != spec.schemaVersion]
    if not other:
        return []
    versions = ", ".join(f"{ds.schema_version} for {ds.name}" for ds in other)
    return [doc.diag(("spec", "schemaVersion"), f"spec.schemaVersion: a {spec.type} Replay stores rows as the "
                                                f"source returns them, at the catalog's version ({versions}): "
                                                "name that version, or migrate with type: schema_correction")]


def _hours_diagnostics(loaded: LoadedSpec, chosen: list[DatasetDef]) -> list[Diagnostic]:
    doc, spec = loaded.doc, loaded.op.spec
    assert isinstance(spec, ReprocessSpec)
    if spec.hours is None:
        return []
    coarse = [ds for ds in chosen if ds.grain != Grain.HOURLY]
    if spec.datasets is not None:
        return [doc.diag(("spec", "datasets", spec.datasets.index(ds.name)),
                         f"spec.datasets: '{ds.name}' is {ds.grain}, so hours cannot select part of it: "
                         "drop hours or this dataset") for ds in coarse]
    if chosen and len(coarse) == len(chosen):
        return [doc.diag(("spec", "hours"), f"spec.hours: source '{spec.source}' has no hourly dataset: drop hours")]
    return []


def _incremental_diagnostics(loaded: LoadedSpec, source: SourceDef,
                             chosen: list[DatasetDef]) -> list[Diagnostic]:
    """`incremental.field` must be a revision signal the source publishes for every chosen dataset
    (the catalog's `revision_fields`): selecting by a field nobody reads would select by nothing.

    See docs/replay.md, "Incremental".
    """
    doc, spec = loaded.doc, loaded.op.spec
    assert isinstance(spec, ReprocessSpec)
    if spec.incremental is None or not chosen:
        return []
    name = spec.incremental.field
    lacking = [ds for ds in chosen if name not in source.revisions_of(ds)]
    if not lacking:
        return []
    published = sorted({f for ds in lacking for f in source.revisions_of(ds)})
    which = "" if len(lacking) == len(chosen) else f" for {', '.join(ds.name for ds in lacking)}"
    if published:
        fix = f"it publishes {', '.join(published)}: name that, or use a window instead"
    else:
        fix = ("it publishes none, so nothing says which records changed: use a window instead "
               "(timeRange, or window with datasets)")
    return [doc.diag(("spec", "incremental", "field"),
                     f"spec.incremental.field: {source.name} publishes no revision field '{name}'{which}"
                     f"{did_you_mean(name, published)}; {fix}")]


def _failure_log_diagnostics(loaded: LoadedSpec, catalog: Catalog) -> list[Diagnostic]:
    spec = loaded.op.spec
    assert isinstance(spec, ReprocessSpec)
    if spec.failedRecords is None:
        return []
    path = loaded.resolve_path(spec.failedRecords)
    try:
        records = numbered_failures(path)
    except SpecError as err:
        return list(err.diagnostics)
    out: list[Diagnostic] = []
    for line, rec in records:
        if rec.source != spec.source:
            out.append(Diagnostic(str(path), line, 1, f"source '{rec.source}' differs from the spec's source "
                                                      f"'{spec.source}': one Reprocess runs one source"))
        elif rec.dataset not in catalog.sources[spec.source].datasets:
            out.append(Diagnostic(str(path), line, 1, f"unknown dataset '{rec.dataset}' of source '{rec.source}'"))
    return out


def validate_files(paths: Iterable[str | Path], catalog: Catalog) -> list[Diagnostic]:
    """load_spec + check_spec over many files, collecting every diagnostic of every file."""
    out: list[Diagnostic] = []
    for path in paths:
        try:
            loaded = load_spec(path)
        except SpecError as err:
            out.extend(err.diagnostics)
            continue
        out.extend(check_spec(loaded, catalog))
    return sorted(set(out))
