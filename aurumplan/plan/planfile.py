"""Plan files: canonical JSON, versioned, checksummed; refused with a re-plan hint when unusable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aurumplan.errors import PlanError
from aurumplan.plan.builder import FORMAT_VERSION, plan_hash


def read_plan(path: str | Path) -> dict[str, Any]:
    """A plan file, checked for format version and integrity."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise PlanError(f"{path}: plan file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}:1:1: not a plan file ({exc})", hint="re-run `aurumplan plan SPEC -o FILE`") from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanError(f"{path}:1:1: not a plan file (no format_version)", hint="re-run `aurumplan plan`")
    if data["format_version"] != FORMAT_VERSION:
        raise PlanError(f"{path}: plan format {data['format_version']} is not supported by this aurumplan "
                        f"(reads format {FORMAT_VERSION})", hint="re-run `aurumplan plan` with this version")
    if data.get("plan_id") != plan_hash(data):
        raise PlanError(f"{path}: plan file was modified after it was written (checksum mismatch)",
                        hint="re-run `aurumplan plan`; a plan is reviewed as written")
    return data


def is_plan_file(path: str | Path) -> bool:
    """A saved plan (JSON object with format_version) rather than a YAML spec."""
    p = Path(path)
    if p.suffix == ".json":
        return True
    try:
        head = p.read_text()[:200].lstrip()
    except (OSError, UnicodeDecodeError):
        return False
    return head.startswith("{") and "format_version" in head
