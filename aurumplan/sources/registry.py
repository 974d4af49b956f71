"""Drivers by name: the `driver` of a catalog source picks the module that speaks its API.

Importing this module registers the drivers as planning's request planners (aurumplan.compile.requests).
"""

from __future__ import annotations

import importlib

from aurumplan.compile.requests import register_planners
from aurumplan.errors import CatalogError
from aurumplan.sources.base import Driver
from aurumplan.yamlpos import did_you_mean

MODULES = {"eia": "aurumplan.sources.eia", "fred": "aurumplan.sources.fred", "bls": "aurumplan.sources.bls",
           "noaa": "aurumplan.sources.noaa", "pjm": "aurumplan.sources.pjm"}


def get_driver(name: str) -> Driver:
    """The driver object of a module named in MODULES."""
    module = MODULES.get(name)
    if module is None:
        raise CatalogError(f"unknown driver '{name}'{did_you_mean(name, MODULES)}; known: {', '.join(sorted(MODULES))}")
    return importlib.import_module(module).DRIVER  # type: ignore[no-any-return]


register_planners(get_driver)
