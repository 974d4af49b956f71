"""Every command docs/emergency.md shows is run, with the same options, by a test in tests/emergency/."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

HERE = Path(__file__).parent
DOC = HERE.parents[1] / "docs" / "emergency.md"
VALUED = {"--mode", "--checks"}  # options whose value matters, not only their presence


def doc_commands() -> list[list[str]]:
    """The `aurumplan ...` lines of the page's bash blocks, continuation lines joined, as argv."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("aurumplan "):
                out.append(shlex.split(line)[1:])
    return out


def needed(argv: list[str]) -> set[str]:
    """The subcommand, its options, and the values of VALUED options."""
    want = {argv[0]} | {a for a in argv if a.startswith("-")}
    want |= {argv[i + 1] for i, a in enumerate(argv[:-1]) if a in VALUED}
    return want


def exercised_calls() -> list[set[str]]:
    """String constants of each run(proj, ...) / start(proj, ...) call in the emergency tests."""
    calls = []
    for path in HERE.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("run", "start"):
                calls.append({a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)})
    return calls


def test_every_documented_command_is_exercised() -> None:
    commands = doc_commands()
    assert len(commands) >= 14
    calls = exercised_calls()
    missing = [" ".join(argv) for argv in commands if not any(needed(argv) <= c for c in calls)]
    assert not missing, f"documented but not run by any test in tests/emergency: {missing}"
