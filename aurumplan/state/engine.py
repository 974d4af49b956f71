"""The shared engine helpers (now in aurumplan.db) with the state store's error, StateError.

Kept so `aurumplan.state.engine` imports still work; the warehouse uses aurumplan.db directly.
"""

from __future__ import annotations

from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aurumplan import db
from aurumplan.db import BUSY_TIMEOUT_S, is_sqlite, mask_url, read_txn, write_txn
from aurumplan.errors import AurumError, StateError

__all__ = ["BUSY_TIMEOUT_S", "Database", "is_sqlite", "make_engine", "mask_url", "read_txn", "unreachable",
           "write_txn"]


def make_engine(url: str, *, error: type[AurumError] = StateError) -> Engine:
    """aurumplan.db.make_engine, raising StateError by default."""
    return db.make_engine(url, error=error)


def unreachable(url: str | sa.URL, exc: BaseException, error: type[AurumError] = StateError) -> AurumError:
    """aurumplan.db.unreachable, as a StateError by default."""
    return db.unreachable(url, exc, error)


class Database(db.Database):
    """A database whose failures are StateErrors: the base of the state store."""

    error: ClassVar[type[AurumError]] = StateError
