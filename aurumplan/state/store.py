"""SqlStateStore: the one state store implementation, on SQLite or PostgreSQL."""

from __future__ import annotations

from aurumplan.state.base import StateStore
from aurumplan.state.freezes import FreezesMixin
from aurumplan.state.leases import LeasesMixin
from aurumplan.state.ops import OperationsMixin
from aurumplan.state.watermarks import WatermarksMixin


class SqlStateStore(WatermarksMixin, OperationsMixin, LeasesMixin, FreezesMixin, StateStore):
    """State in a SQL database; safe to share between processes (see sqlbase for the locking)."""


def open_state(url: str, create: bool = True) -> SqlStateStore:
    """Open (and with create, make) the state at url; StateError if it cannot be used."""
    return SqlStateStore(url, create=create)
