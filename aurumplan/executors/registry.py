"""Which executor runs extract nodes, from the config's `executor`."""

from __future__ import annotations

from typing import Any

from aurumplan.config import Config
from aurumplan.errors import ExecutorError
from aurumplan.executors.local import LocalExecutor
from aurumplan.executors.parsepool import ParsePool, auto_workers
from aurumplan.warehouse import Warehouse


def make_executor(config: Config, warehouse: Warehouse, limiter: Any, planned_records: int = 0,
                  pool: ParsePool | None = None) -> Any:
    """The configured executor, sharing the operation's warehouse and rate limiter (and, for the local
    one, parse workers started ahead by the caller, or its own for a large enough operation)."""
    if config.executor == "local":
        return LocalExecutor(warehouse, limiter, root=config.path("."), pool=pool,
                             parse_workers=0 if pool else auto_workers(planned_records, config.parse_workers))
    if config.executor in ("seatunnel-cli", "seatunnel-rest"):
        from aurumplan.executors.seatunnel.factory import make_seatunnel_executor

        return make_seatunnel_executor(config, warehouse, limiter)
    raise ExecutorError(f"unknown executor '{config.executor}': use local, seatunnel-cli or seatunnel-rest")
