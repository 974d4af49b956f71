"""`aurumplan compile`: one SeaTunnel job per extract node of a plan, in both config forms.

The configs are what the seatunnel executors submit; compiling them ahead lets an operator
review them (or run them by hand) and lets CI check them against SeaTunnel's option tables.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from aurumplan.catalog import SourceDef
from aurumplan.config import Config
from aurumplan.executors.base import extract_job
from aurumplan.executors.seatunnel.conformance import check_config
from aurumplan.executors.seatunnel.executor import build_job_spec
from aurumplan.executors.seatunnel.reader import read_config
from aurumplan.executors.seatunnel.render import render_job
from aurumplan.plan.model import ExtractNode, Plan


def compile_plan(plan: Plan, source: SourceDef, config: Config, out: Path) -> list[dict[str, Any]]:
    """Write `<node>.conf` and `<node>.json` per extract node; each is checked for conformance."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for node in plan.graph.nodes:
        if not isinstance(node, ExtractNode):
            continue
        job = extract_job(plan.operation.id, node, source, plan.settings, None, stop=threading.Event())
        spec = build_job_spec(job, config.seatunnel, config.warehouse_url)
        rendered = render_job(spec)
        stem = node.id.replace("/", "_")
        conf, js = out / f"{stem}.conf", out / f"{stem}.json"
        conf.write_text(rendered.hocon)
        js.write_text(rendered.json)
        problems = check_config(read_config(rendered.hocon, name=str(conf)), rendered.version)
        written.append({"node": node.id, "conf": str(conf), "json": str(js), "problems": problems,
                        "requests": len(spec["requests"])})
    return written
