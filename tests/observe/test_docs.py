"""docs/operations.md names every metric the exporter writes and every command and option it adds."""

from __future__ import annotations

import re
from pathlib import Path

import click

from aurumplan.cli.main import cli
from aurumplan.observe.fleet import OpFigures
from aurumplan.observe.metrics import render

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


def test_every_metric_is_documented() -> None:
    text = render([OpFigures("x", "Backfill", "eia", None, "succeeded", 0.0, 0.0)], {"eia": 0}, {"eia": (0, 5)},
                  {("eia", "ELEC.DEMAND"): 0}, memory=1)
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    assert len(families) == 15
    assert {f for f in families if f"`{f}`" not in DOC} == set()


def test_every_command_and_option_is_documented() -> None:
    root = click.Context(cli)
    for name in ("metrics", "serve", "health", "cost", "trends", "dashboard", "alerts"):
        cmd = cli.get_command(root, name)
        assert cmd is not None and f"aurumplan {name}" in DOC, name
        subs = cmd.commands.values() if isinstance(cmd, click.Group) else [cmd]
        for sub in subs:
            for p in sub.params:
                for opt in getattr(p, "opts", []):
                    if opt.startswith("--") and opt != "--help":
                        assert opt in DOC, (name, opt)
    assert "--metrics-port" in DOC and "aurumplan apply plan.json --metrics-port" in DOC
