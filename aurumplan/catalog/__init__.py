"""Sources, datasets, grains, request limits and quotas: built-in YAML plus config overrides."""

from aurumplan.catalog.loader import Catalog, load_catalog
from aurumplan.catalog.models import DatasetDef, Derivation, Relation, RequestLimits, SourceDef

__all__ = ["Catalog", "DatasetDef", "Derivation", "Relation", "RequestLimits", "SourceDef", "load_catalog"]
