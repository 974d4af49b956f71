"""The plug-in interface: a named, versioned function over one series' records (docs/replay.md, "Algorithms").

Records are dicts as migrate()/transform() get them (series_id, period in epoch seconds, value, unit,
attributes), in period order. An algorithm returns the records to stage; built-ins and installed packages
register under the entry-point group `aurumplan.algorithms`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

GROUP = "aurumplan.algorithms"


class Algorithm(Protocol):
    """What a plug-in provides: name and version recorded with the operation, typed params, run()."""

    name: ClassVar[str]
    version: ClassVar[str]
    Params: ClassVar[type[BaseModel]]

    def run(self, records: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
        """The series' records after the algorithm, in period order."""
        ...


class UnknownAlgorithm(LookupError):
    """No built-in or installed algorithm has this name."""


def available() -> dict[str, Any]:
    """Entry points by name: the built-ins (registered in pyproject.toml) and installed plug-ins."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def resolve(name: str) -> Algorithm:
    """The algorithm registered under name; UnknownAlgorithm lists the known ones."""
    eps = available()
    if name not in eps:
        from aurumplan.algorithms import builtin  # installed without entry points (source tree): still found
        if name in builtin.BUILTIN:
            found: Algorithm = builtin.BUILTIN[name]()
            return found
        known = sorted({*eps, *builtin.BUILTIN})
        raise UnknownAlgorithm(f"unknown algorithm '{name}': use one of {', '.join(known)} "
                               f"or install a package registering it under entry-point group {GROUP}")
    obj = eps[name].load()
    algo: Algorithm = obj() if isinstance(obj, type) else obj
    return algo


def tag(algo: Algorithm) -> str:
    """How a changed record names what changed it, e.g. outlier_replacement@1."""
    return f"{algo.name}@{algo.version}"
