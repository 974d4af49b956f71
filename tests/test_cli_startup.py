"""Start-up imports only what the command needs (issue 18: every start took ~0.8 s of imports before).

Each probe runs the command in a fresh interpreter and lists which of the heavy modules it imported;
timings are bench/startup.py's business, these tests check the modules.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

PROBE = """
import sys
from click.testing import CliRunner
from aurumplan.cli.main import cli
out = CliRunner().invoke(cli, sys.argv[2:])
assert out.exit_code == 0, out.output
print(out.output)
print(",".join(sorted(m for m in sys.argv[1].split(",") if m in sys.modules)) or "none")
"""

# What no command that only reads or plans needs (`plan` of a SQLite state reads it through sqlite3:
# state/litereader.py); `apply` of a SQLite project needs none of APPLY_NEVER either.
HELP_NEVER = ("sqlalchemy", "httpx", "networkx", "psycopg", "pydantic", "jinja2", "pyarrow")
PLAN_NEVER = ("sqlalchemy", "psycopg", "jinja2", "pyarrow", "pyhocon", "httpx", "deepdiff", "aurumplan.apply",
              "aurumplan.executors", "aurumplan.warehouse", "aurumplan.quality")
APPLY_NEVER = ("psycopg", "jinja2", "pyarrow", "pyhocon", "deepdiff", "sqlalchemy.dialects.postgresql",
               "aurumplan.executors.seatunnel", "aurumplan.observe.metrics", "aurumplan.inspect.reports")


def imported(modules: tuple[str, ...], args: list[str], cwd: Path | None = None) -> tuple[str, list[str]]:
    """The command's output and which of `modules` it left in sys.modules."""
    out = subprocess.run([sys.executable, "-c", PROBE, ",".join(modules), *args], cwd=cwd,
                         capture_output=True, text=True, check=True).stdout
    text, _, found = out.rstrip("\n").rpartition("\n")
    return text, [] if found == "none" else found.split(",")


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made by the README's first command: examples/ after `apply quickstart.yaml --auto-approve`."""
    project = tmp_path_factory.mktemp("startup") / "examples"
    shutil.copytree(ROOT / "examples", project, ignore=shutil.ignore_patterns(".aurumplan"))
    imported((), ["apply", "quickstart.yaml", "--auto-approve"], cwd=project)
    assert (project / ".aurumplan" / "state.db").is_file()
    return project


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["init", "--help"], ["plan", "--help"]])
def test_help_and_version_leave_heavy_libraries_unimported(args: list[str]) -> None:
    text, found = imported(HELP_NEVER, args)
    assert text.startswith(("Usage:", "aurumplan, version"))
    assert found == []


def test_plan_of_a_sqlite_project_imports_no_driver_renderer_or_apply_code(quickstart: Path) -> None:
    text, found = imported(PLAN_NEVER, ["plan", "quickstart.yaml"], cwd=quickstart)
    assert "Plan: 0 periods to create, 0 to replace, 504 unchanged." in text
    assert found == []


def test_apply_of_a_sqlite_project_imports_no_postgresql_driver_renderer_or_archive_code(tmp_path: Path) -> None:
    project = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", project, ignore=shutil.ignore_patterns(".aurumplan"))
    text, found = imported(APPLY_NEVER, ["apply", "quickstart.yaml", "--auto-approve"], cwd=project)
    assert ": succeeded. Periods loaded 504" in text
    assert found == []


def test_a_command_still_reaches_the_library_through_the_lazy_api() -> None:
    code = ("import aurumplan.cli.main, aurumplan, sys; from aurumplan import api; "
            "print(api.REPORT_FORMATS, aurumplan.api is sys.modules['aurumplan.api'], 'sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "('markdown', 'json', 'html') True True"


def test_names_the_api_loads_on_first_use_are_the_real_ones() -> None:
    """api's REPORT_FORMATS and pattern names come from their modules on first use, the same objects."""
    from aurumplan import api
    from aurumplan.inspect import reports
    from aurumplan.quality import patterns

    assert api.REPORT_FORMATS is reports.FORMATS
    assert api.PatternLimits is patterns.Limits and api.render_patterns is patterns.render_patterns
    assert patterns.Limits() == api.PATTERN_LIMITS
    with pytest.raises(AttributeError, match="no attribute 'NOT_A_NAME'"):
        _ = api.NOT_A_NAME  # type: ignore[attr-defined]


def test_the_plan_graph_without_networkx_orders_nodes_as_networkx_does() -> None:
    """Planning builds a JobGraph instead of importing networkx; `graph`'s dot and mermaid order is unchanged."""
    import networkx as nx

    from aurumplan.catalog import load_catalog
    from aurumplan.compile.graph import JobGraph, build_graph, build_job_graph, lexicographic_order
    from aurumplan.intervals import DAY, IntervalSet, parse_ts

    t = parse_ts("2024-01-01")
    work = {"ELEC.DEMAND.DAILY": {"PJM": IntervalSet([(t, t + 60 * DAY)])},
            "ELEC.DEMAND": {"PJM": IntervalSet([(t, t + 60 * DAY)]), "MISO": IntervalSet([(t, t + 9 * DAY)])}}
    source = load_catalog().source("eia")
    jobs, reference = build_job_graph(source, work), build_graph(source, work)
    assert lexicographic_order(jobs) == list(nx.lexicographical_topological_sort(reference))
    assert jobs.edges == list(reference.edges) and jobs.nodes == dict(reference.nodes(data=True))
    assert "ELEC.DEMAND.DAILY/derive" in jobs.successors("ELEC.DEMAND/commit")
    cyclic = JobGraph()
    cyclic.add_edges_from([("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="cycle"):
        lexicographic_order(cyclic)


def test_the_collector_runs_again_once_the_api_has_loaded() -> None:
    """The api loads with the cyclic GC paused (cli/lazyapi.py); an apply after it must collect as usual."""
    code = ("import gc, aurumplan.cli.main, sys; from aurumplan.cli.lazyapi import api; "
            "assert 'aurumplan.api' in sys.modules and gc.isenabled(); api.REPORT_FORMATS; "
            "print(gc.isenabled(), 'sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
