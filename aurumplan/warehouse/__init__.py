"""The warehouse: every version of every record, and which version is current.

The names below load on first use: a parse worker (executors/parsepool.py) needs only
`warehouse.rows`, and this package's engine and SQL modules would cost it ~0.14 s of imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurumplan.warehouse.archives import Version
    from aurumplan.warehouse.base import Load, LoadInfo
    from aurumplan.warehouse.commits import Verified
    from aurumplan.warehouse.gc import Collected
    from aurumplan.warehouse.rows import ObsRow, Row, hex64
    from aurumplan.warehouse.warehouse import Warehouse, open_warehouse, read_connection

_WHERE = {"Version": "archives", "Load": "base", "LoadInfo": "base", "Collected": "gc", "ObsRow": "rows",
          "Row": "rows", "hex64": "rows", "Verified": "commits", "Warehouse": "warehouse",
          "open_warehouse": "warehouse", "read_connection": "warehouse"}

__all__ = ["Collected", "Load", "LoadInfo", "ObsRow", "Row", "Verified", "Version", "Warehouse", "hex64",
           "open_warehouse", "read_connection"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'aurumplan.warehouse' has no attribute '{name}'")
    return getattr(importlib.import_module(f"aurumplan.warehouse.{module}"), name)
