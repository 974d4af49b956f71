"""Warehouse: versioned record tables on SQLite or PostgreSQL (docs/architecture.md, "The warehouse tables")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from aurumplan.db import make_engine, read_txn
from aurumplan.errors import WarehouseError
from aurumplan.warehouse.archives import ArchivesMixin
from aurumplan.warehouse.commits import CommitsMixin
from aurumplan.warehouse.gc import GcMixin
from aurumplan.warehouse.quarantine import QuarantineMixin
from aurumplan.warehouse.queries import QueriesMixin
from aurumplan.warehouse.writes import WritesMixin


class Warehouse(WritesMixin, CommitsMixin, QueriesMixin, QuarantineMixin, ArchivesMixin, GcMixin):
    """Stage loads, write batches, commit/rollback atomically, read what is current, quarantine,
    archive and collect superseded versions."""


def open_warehouse(url: str) -> Warehouse:
    """Open the warehouse at url, creating its tables and view if missing."""
    return Warehouse(url)


_READERS: dict[str, Engine] = {}


@contextmanager
def read_connection(url: str) -> Iterator[Connection]:
    """A read transaction on an existing warehouse that creates and changes nothing (opening a Warehouse
    creates missing tables in a write transaction): a judge worker's reads (apply/judgeworker.py)."""
    engine = _READERS.get(url)
    if engine is None:
        engine = _READERS[url] = make_engine(url, error=WarehouseError)
    with read_txn(engine) as conn:
        yield conn
