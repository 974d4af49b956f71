"""Operation specs: the models (single source of truth), the file loader, schemas and reference."""

from aurumplan.spec.loader import LoadedSpec, load_spec
from aurumplan.spec.models import (
    Algorithm,
    BackfillSpec,
    BaseSpec,
    Incremental,
    Metadata,
    Operation,
    ReplaySpec,
    ReprocessSpec,
    Retries,
    RollbackWhen,
    TimeRange,
    Validation,
    Window,
)

__all__ = [
    "Algorithm", "BackfillSpec", "BaseSpec", "Incremental", "LoadedSpec", "Metadata", "Operation", "ReplaySpec",
    "ReprocessSpec", "Retries", "RollbackWhen", "TimeRange", "Validation", "Window", "load_spec",
]
