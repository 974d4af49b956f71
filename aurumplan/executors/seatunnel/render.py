"""Render one extract request (a job spec dict) as a SeaTunnel job: HOCON for the CLI, JSON for REST.

Both forms come from the same `JobIR` (jobspec.py) through jinja2 templates in
aurumplan/executors/templates/, and both are checked against the option tables before they are
returned, since SeaTunnel's own `--check` checks nothing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from aurumplan.executors.seatunnel.conformance import check_config
from aurumplan.executors.seatunnel.jobspec import (
    Concat,
    JobIR,
    Plugin,
    RenderError,
    SecretRef,
    Verbatim,
    build_job,
)

_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class RenderedJob:
    """A rendered job: both texts, the JSON form as data, and the env variables it reads."""

    hocon: str
    json: str
    config: dict[str, Any]
    env_refs: tuple[str, ...]
    version: str


# ---------------------------------------------------------------- plain (JSON) form


def to_plain(value: Any) -> Any:
    """IR value -> JSON data; a secret reference becomes the text "${ENV}"."""
    if isinstance(value, SecretRef):
        return "${" + value.env + "}"
    if isinstance(value, Concat):
        return "".join(to_plain(p) if isinstance(p, SecretRef) else p for p in value.parts)
    if isinstance(value, Verbatim):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def _nest(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Dotted env keys as nested objects: the same tree HOCON's `job.mode = ...` parses to."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        node = out
        *heads, last = key.split(".")
        for h in heads:
            node = node.setdefault(h, {})
        node[last] = to_plain(value)
    return out


def _plugin_plain(p: Plugin) -> dict[str, Any]:
    return {"plugin_name": p.name, **{k: to_plain(v) for k, v in p.options}}


def job_to_plain(job: JobIR) -> dict[str, Any]:
    """The JSON list form of a job as data."""
    return {"env": _nest(job.env), "source": [_plugin_plain(p) for p in job.sources],
            "transform": [_plugin_plain(p) for p in job.transforms],
            "sink": [_plugin_plain(p) for p in job.sinks]}


# ---------------------------------------------------------------- HOCON filters


def hocon_key(key: str) -> str:
    """A key as one path element: bare when safe, else quoted (so `a.b` or `data[0]` stay one key)."""
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def hocon_path(key: str) -> str:
    """A dotted key written as a HOCON path (`job.mode`), each element quoted as needed."""
    return ".".join(hocon_key(k) for k in key.split("."))


def _hocon_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def hocon_value(value: Any, indent: int = 0) -> str:
    """One value in HOCON syntax; secret references unquoted so SeaTunnel resolves them."""
    if isinstance(value, SecretRef):
        return "${" + value.env + "}"
    if isinstance(value, Concat):  # adjacent, no whitespace: HOCON would keep it in the value
        return "".join(hocon_value(p) if isinstance(p, SecretRef) else _hocon_str(p) for p in value.parts)
    if isinstance(value, Verbatim):
        if '"""' in value or value.endswith('"'):
            return _hocon_str(value)
        return '"""' + value + '"""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _hocon_str(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        pad = " " * (indent + 2)
        lines = [f"{pad}{hocon_key(str(k))} = {hocon_value(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + "\n" + " " * indent + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hocon_value(v, indent) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as HOCON")


def _json_filter(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")


@lru_cache(maxsize=1)
def _templates() -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=PackageLoader("aurumplan.executors", "templates"),
                               undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters.update(hocon=hocon_value, hocon_key=hocon_key, hocon_path=hocon_path, json=_json_filter)
    return env


# ---------------------------------------------------------------- public


def render_job(spec: Mapping[str, Any]) -> RenderedJob:
    """Both forms of the SeaTunnel job for one job spec; RenderError if the spec is unusable."""
    job = build_job(spec)
    plain = job_to_plain(job)
    envt = _templates()
    hocon = envt.get_template("seatunnel_job.conf.j2").render(job=job)
    text = envt.get_template("seatunnel_job.json.j2").render(
        env=plain["env"], sources=plain["source"], transforms=plain["transform"], sinks=plain["sink"])
    problems = check_config(plain, job.version)
    if problems:
        raise RenderError("rendered SeaTunnel config fails conformance: " + "; ".join(problems))
    for name in job.env_refs:  # belt and braces: a set secret must never appear in what we write
        secret = os.environ.get(name)
        if secret and len(secret) >= 4 and (secret in hocon or secret in text):
            raise RenderError(f"rendered config contains the value of ${name}; refusing to return it")
    return RenderedJob(hocon, text, plain, job.env_refs, job.version)


def render_hocon(spec: Mapping[str, Any]) -> str:
    """The HOCON `.conf` text for `seatunnel.sh -c`."""
    return render_job(spec).hocon


def render_json(spec: Mapping[str, Any]) -> str:
    """The JSON text for REST `POST /submit-job` (secrets still as "${ENV}")."""
    return render_job(spec).json


def fill_secret_refs(config: Any, names: Iterable[str], environ: Mapping[str, str] | None = None) -> Any:
    """A copy of JSON config data with "${NAME}" replaced from the environment, for names only.

    For the REST executor just before the POST (SeaTunnel does not resolve JSON bodies). The
    result holds secrets: keep it in memory, never log or write it.
    """
    env = os.environ if environ is None else environ
    wanted = set(names)
    missing = sorted(n for n in wanted if n not in env)
    if missing:
        raise RenderError(f"environment variable(s) not set: {', '.join(missing)}")

    def sub(x: Any) -> Any:
        if isinstance(x, str):
            return _REF.sub(lambda m: env[m.group(1)] if m.group(1) in wanted else m.group(0), x)
        if isinstance(x, Mapping):
            return {k: sub(v) for k, v in x.items()}
        if isinstance(x, list):
            return [sub(v) for v in x]
        return x

    return sub(config)
