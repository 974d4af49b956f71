"""The plug-in interface: a named, versioned function over one series' records (docs/replay.md, "Algorithms").

Records are dicts as migrate()/transform() get them (series_id, period in epoch seconds, value, unit,
attributes), in period order. An algorithm returns the records to stage; built-ins and installed packages
register under the entry-point group `aurumplan.algorithms`, and a spec may name a Python file of its own
folder that defines one (`from_file`; the plan embeds the file's text and apply runs that text).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from aurumplan.hashing import sha256_hex

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
    """No built-in or installed algorithm (or none in the named file) has this name."""


class AlgorithmFileError(ValueError):
    """An algorithm file that does not compile or fails while it is loaded; line/col point into it."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.line, self.col = line, col


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


def _is_algorithm(obj: Any, name: str) -> bool:
    params = getattr(obj, "Params", None)
    return (getattr(obj, "name", None) == name and isinstance(getattr(obj, "version", None), str)
            and isinstance(params, type) and issubclass(params, BaseModel) and callable(getattr(obj, "run", None)))


def from_file(text: str, label: str, name: str) -> Algorithm:
    """The algorithm called name that a spec's Python file defines (a class, or an instance, with `name`,
    `version`, `Params` and `run`). The text is run as given: at validate/plan the file's current text, at
    apply the text the plan embedded, so apply runs what was reviewed (docs/replay.md, "Algorithms")."""
    try:
        code = compile(text, label, "exec")
    except SyntaxError as exc:
        raise AlgorithmFileError(f"Python syntax error: {exc.msg}", exc.lineno or 1, exc.offset or 1) from None
    namespace: dict[str, Any] = {"__name__": f"aurumplan_algorithm_{sha256_hex(text)[:8]}", "__file__": label}
    try:
        exec(code, namespace)
    except Exception as exc:  # the user's code: one line, never a traceback
        tb = exc.__traceback__
        line = 1
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == label:
                line = tb.tb_lineno
            tb = tb.tb_next
        raise AlgorithmFileError(f"loading it failed: {type(exc).__name__}: {exc}", line) from None
    found = [obj for key, obj in namespace.items() if not key.startswith("__") and _is_algorithm(obj, name)]
    if not found:
        defined = sorted({str(o.name) for o in namespace.values()
                          if isinstance(getattr(o, "name", None), str) and callable(getattr(o, "run", None))})
        also = f" (it defines {', '.join(defined)})" if defined else ""
        raise UnknownAlgorithm(f"{label} defines no algorithm named '{name}'{also}: define a class with "
                               f"name = '{name}', version, a pydantic Params model and run(records, params)")
    obj = found[0]
    algo: Algorithm = obj() if isinstance(obj, type) else obj
    return algo
