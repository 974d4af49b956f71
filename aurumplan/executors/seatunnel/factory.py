"""Which SeaTunnel executor runs a plan's extract nodes: the one place that knows both of them.

The shared base (executor.py) imports neither executor, and cli.py and rest.py import only the
base, so each can change without the others (docs/seatunnel.md, "Executors").
"""

from __future__ import annotations

from typing import Any

from aurumplan.config import Config
from aurumplan.errors import ExecutorError
from aurumplan.executors.seatunnel.cli import SeaTunnelCliExecutor
from aurumplan.executors.seatunnel.executor import SeaTunnelExecutor
from aurumplan.executors.seatunnel.rest import SeaTunnelRestExecutor
from aurumplan.warehouse import Warehouse

EXECUTORS: dict[str, type[SeaTunnelExecutor]] = {
    SeaTunnelCliExecutor.name: SeaTunnelCliExecutor,
    SeaTunnelRestExecutor.name: SeaTunnelRestExecutor,
}


def make_seatunnel_executor(config: Config, warehouse: Warehouse, limiter: Any) -> SeaTunnelExecutor:
    """The executor `config.executor` names, checked against the settings it needs."""
    kind = EXECUTORS.get(config.executor)
    if kind is None:
        raise ExecutorError(f"no SeaTunnel executor named {config.executor!r}: use one of {', '.join(EXECUTORS)}")
    kind.check_settings(config)
    return kind(config, warehouse, limiter)
