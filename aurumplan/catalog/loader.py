"""The catalog: built-in sources (builtin.yaml) with aurumplan.yaml's overrides on top, key by key.

A source's `quota` is the exception: one set in aurumplan.yaml replaces the built-in quota as a
whole (a window left out is not enforced), since a quota is one contract with the API, not a set
of independent settings (docs/sources.md, "Quotas").
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML

from aurumplan.catalog.models import DatasetDef, SourceDef
from aurumplan.config import Config, QualityProfile
from aurumplan.errors import CatalogError, ConfigError, Diagnostic
from aurumplan.yamlpos import did_you_mean, load_yaml, validation_diagnostics


@cache
def _builtin() -> dict[str, Any]:
    text = resources.files("aurumplan.catalog").joinpath("builtin.yaml").read_text()
    data: dict[str, Any] = YAML(typ="safe").load(text)
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


class Catalog:
    """Sources and datasets by name; lookups fail with a did-you-mean."""

    def __init__(self, sources: dict[str, SourceDef],
                 quality_profiles: dict[str, QualityProfile] | None = None, root: str | Path = ".") -> None:
        self.sources = sources
        self.quality_profiles = dict(quality_profiles or {})  # aurumplan.yaml's, by name (docs/quality.md)
        self.root = Path(root)  # the project folder a source's relative `recordings:` resolves against

    def recordings(self, source: SourceDef) -> Path | None:
        """The folder a source's responses are served from (`recordings:`), resolved; None = the live API."""
        if not source.recordings:
            return None
        folder = Path(source.recordings)
        return folder if folder.is_absolute() else self.root / folder

    def source(self, name: str) -> SourceDef:
        try:
            return self.sources[name]
        except KeyError:
            raise CatalogError(f"unknown source '{name}'{did_you_mean(name, self.sources)}; "
                               f"known: {', '.join(sorted(self.sources))}") from None

    def dataset(self, source: str, name: str) -> DatasetDef:
        src = self.source(source)
        try:
            return src.datasets[name]
        except KeyError:
            raise CatalogError(f"unknown dataset '{name}' of source '{source}'"
                               f"{did_you_mean(name, src.datasets)}") from None

    def dependents(self, source: str, dataset: str) -> list[str]:
        """Datasets of source that declare depends_on dataset, transitively, in dependency order."""
        src = self.source(source)
        out: list[str] = []
        frontier = [dataset]
        while frontier:
            cur = frontier.pop(0)
            for name, ds in sorted(src.datasets.items()):
                if cur in ds.depends_on and name not in out and name != dataset:
                    out.append(name)
                    frontier.append(name)
        return out


def _source_data(name: str, base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    over = {k: v for k, v in over.items() if v is not None and v != {} and k != "datasets"}
    data = _merge(base, over)
    if "quota" in over:
        data["quota"] = over["quota"]
    data.setdefault("api_key_env", f"{name.upper()}_API_KEY")
    data.setdefault("driver", name)
    data["name"] = name
    return data


def load_catalog(config: Config | None = None) -> Catalog:
    """Built-in catalog with the config's sources and datasets merged in."""
    config = config or Config()
    raw = {k: dict(v) for k, v in _builtin().items()}
    sources: dict[str, SourceDef] = {}
    diagnostics: list[Diagnostic] = []
    names = sorted(set(raw) | set(config.sources))
    for name in names:
        sc = config.sources.get(name)
        over = sc.model_dump(exclude_unset=True, mode="json") if sc else {}
        base = raw.get(name, {})
        data = _source_data(name, base, over)
        datasets = dict(base.get("datasets") or {})
        for ds_name, ds_over in (sc.datasets if sc else {}).items():
            datasets[ds_name] = _merge(datasets.get(ds_name, {}), dict(ds_over))
        data["datasets"] = {k: {**v, "name": k} for k, v in datasets.items()}
        try:
            sources[name] = SourceDef.model_validate(data)
        except ValidationError as err:
            diagnostics.extend(_config_diagnostics(config, name, err))
    if diagnostics:
        raise ConfigError(diagnostics)
    return Catalog(sources, dict(config.quality_profiles), config.root)


def _config_diagnostics(config: Config, name: str, err: ValidationError) -> list[Diagnostic]:
    file = config.file
    if not file or not Path(file).is_file():
        return [Diagnostic(file or "aurumplan.yaml", 1, 1, f"sources.{name}: {e['msg']}") for e in err.errors()]
    doc = load_yaml(Path(file).read_text(), file)
    return validation_diagnostics(err, doc, SourceDef, prefix=("sources", name))
