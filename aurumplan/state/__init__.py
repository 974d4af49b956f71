"""The state store: watermarks, operations, checkpoints, leases and shared quota.

The names below load on first use: `aurumplan plan` on a SQLite state reads it through
state/litereader.py, and the store's SQLAlchemy modules would cost it ~0.12 s of imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurumplan.db import mask_url
    from aurumplan.state.base import StateReader, StateStore
    from aurumplan.state.models import (
        Checkpoint,
        Lease,
        LeaseRange,
        Operation,
        OperationEvent,
        QualityResult,
        RunRecord,
        WatermarkRef,
        WatermarkRow,
    )
    from aurumplan.state.reads import SCHEMA_VERSION
    from aurumplan.state.store import SqlStateStore, open_state

_WHERE = {"StateReader": "state.base", "StateStore": "state.base", "mask_url": "db",
          "SCHEMA_VERSION": "state.reads", "SqlStateStore": "state.store", "open_state": "state.store",
          **{name: "state.models" for name in ("Checkpoint", "Lease", "LeaseRange", "Operation", "OperationEvent",
                                               "QualityResult", "RunRecord", "WatermarkRef", "WatermarkRow")}}

__all__ = [
    "SCHEMA_VERSION",
    "Checkpoint",
    "Lease",
    "LeaseRange",
    "Operation",
    "OperationEvent",
    "QualityResult",
    "RunRecord",
    "SqlStateStore",
    "StateReader",
    "StateStore",
    "WatermarkRef",
    "WatermarkRow",
    "mask_url",
    "open_state",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'aurumplan.state' has no attribute '{name}'")
    return getattr(importlib.import_module(f"aurumplan.{module}"), name)
