"""`api`, loaded on first use: `aurumplan --help` and `--version` must not import the whole library.

Importing aurumplan.api pulls in SQLAlchemy, pydantic and the planning layers (~0.3 s; apply, the
executors, the warehouse and the reports load in the api functions that use them, issue 18); a command
pays that only when it calls into the library. See docs/architecture.md and bench/startup.py.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from aurumplan.gcpause import paused_gc

if TYPE_CHECKING:
    from aurumplan import api as api
else:
    class _GcPaused(importlib.abc.Loader):
        """Runs a module with the cyclic GC paused: importing the library allocates ~1M objects that all
        live on (modules, classes, pydantic schemas), and the collector's passes over them cost ~10% of
        the import (issue 18). The survivors go to the oldest generation at the end, as plan/make.py does."""

        def __init__(self, inner: importlib.abc.Loader) -> None:
            self.inner = inner

        def create_module(self, spec: Any) -> Any:
            return self.inner.create_module(spec)

        def exec_module(self, module: Any) -> None:
            with paused_gc():
                self.inner.exec_module(module)

    def _lazy(name: str) -> Any:
        """The module object now, its code run on first attribute access (importlib.util.LazyLoader)."""
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        loader = importlib.util.LazyLoader(_GcPaused(spec.loader))
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, module)
        loader.exec_module(module)
        return module

    api = _lazy("aurumplan.api")


class LazyChoice(click.Choice):  # type: ignore[type-arg]
    """A click.Choice whose choices come from the library when a value is checked or help is shown."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[Any, ...]:
        return tuple(self._load())

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        raise AttributeError("LazyChoice's choices come from the library")
