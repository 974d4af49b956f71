"""The warehouse: every version of every record, and which version is current."""

from aurumplan.warehouse.base import Load, LoadInfo
from aurumplan.warehouse.rows import ObsRow, Row, hex64
from aurumplan.warehouse.warehouse import Warehouse, open_warehouse

__all__ = ["Load", "LoadInfo", "ObsRow", "Row", "Warehouse", "hex64", "open_warehouse"]
