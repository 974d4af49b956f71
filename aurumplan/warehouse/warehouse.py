"""Warehouse: versioned record tables on SQLite or PostgreSQL (docs/architecture.md, "The warehouse tables")."""

from __future__ import annotations

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
