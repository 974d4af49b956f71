"""The SeaTunnel executors' modules depend one way: base <- cli, rest <- factory (issue 12's import cycle).

A change to one executor must not reach the other, and the shared base must not know its subclasses.
"""

from __future__ import annotations

import grimp
import pytest

PKG = "aurumplan.executors.seatunnel"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("aurumplan")


@pytest.mark.parametrize(("importer", "imported"), [
    ("executor", "cli"), ("executor", "rest"), ("executor", "factory"),
    ("cli", "rest"), ("rest", "cli"), ("cli", "factory"), ("rest", "factory"),
])
def test_no_import_chain(graph: grimp.ImportGraph, importer: str, imported: str) -> None:
    assert graph.find_shortest_chain(importer=f"{PKG}.{importer}", imported=f"{PKG}.{imported}") is None


def test_the_factory_knows_both_executors(graph: grimp.ImportGraph) -> None:
    direct = graph.find_modules_directly_imported_by(f"{PKG}.factory")
    assert {f"{PKG}.cli", f"{PKG}.rest"} <= direct
