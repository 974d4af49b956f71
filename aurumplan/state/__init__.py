"""The state store: watermarks, operations, checkpoints, leases and shared quota."""

from aurumplan.state.base import StateReader, StateStore
from aurumplan.state.engine import mask_url
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
from aurumplan.state.schema import SCHEMA_VERSION
from aurumplan.state.store import SqlStateStore, open_state

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
