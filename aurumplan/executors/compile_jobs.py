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
from aurumplan.executors.base import ExtractJob, RetryPolicy, load_id_of
from aurumplan.executors.seatunnel.conformance import check_config
from aurumplan.executors.seatunnel.executor import build_job_spec
from aurumplan.executors.seatunnel.reader import read_config
from aurumplan.executors.seatunnel.render import render_job
from aurumplan.sources.base import RequestSpec
from aurumplan.sources.registry import get_driver


def _job(plan: dict[str, Any], node: dict[str, Any], source: SourceDef) -> ExtractJob:
    ds = source.datasets[node["dataset"]]
    retries = plan["settings"]["retries"]
    op = plan["operation"]["id"]
    req = RequestSpec.of_node(source.name, node)
    return ExtractJob(op, node["id"], load_id_of(op, node["id"]), source, ds, req, get_driver(source.driver), None,
                      plan["settings"]["batchSize"],
                      RetryPolicy(retries["max"], retries["backoff_seconds"], retries["maxBackoff_seconds"]),
                      stop=threading.Event())


def compile_plan(plan: dict[str, Any], source: SourceDef, config: Config, out: Path) -> list[dict[str, Any]]:
    """Write `<node>.conf` and `<node>.json` per extract node; each is checked for conformance."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for node in plan["graph"]["nodes"]:
        if node["kind"] != "extract":
            continue
        spec = build_job_spec(_job(plan, node, source), config.seatunnel, config.warehouse_url)
        rendered = render_job(spec)
        stem = node["id"].replace("/", "_")
        conf, js = out / f"{stem}.conf", out / f"{stem}.json"
        conf.write_text(rendered.hocon)
        js.write_text(rendered.json)
        problems = check_config(read_config(rendered.hocon, name=str(conf)), rendered.version)
        written.append({"node": node["id"], "conf": str(conf), "json": str(js), "problems": problems,
                        "requests": len(spec["requests"])})
    return written
