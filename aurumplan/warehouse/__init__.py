"""The warehouse: every version of every record, and which version is current."""

from aurumplan.warehouse.archives import Version
from aurumplan.warehouse.base import Load, LoadInfo
from aurumplan.warehouse.gc import Collected
from aurumplan.warehouse.rows import ObsRow, Row, hex64
from aurumplan.warehouse.warehouse import Warehouse, open_warehouse

__all__ = ["Collected", "Load", "LoadInfo", "ObsRow", "Row", "Version", "Warehouse", "hex64", "open_warehouse"]
