"""Plan files: canonical JSON, versioned, checksummed; refused with a re-plan hint when unusable."""

from __future__ import annotations

import hmac
import json
import os
import re
from pathlib import Path
from typing import Any

from aurumplan.errors import PlanError
from aurumplan.plan.builder import FORMAT_VERSION, PLAN_KEY_ENV, plan_hash, sign
from aurumplan.plan.model import Plan, decode


def read_plan(path: str | Path) -> Plan:
    """A plan file, checked for format version, integrity and field types (docs/architecture.md)."""
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
    plan = decode(data, str(path))
    op_id = plan.operation.id
    if not PLAN_OPERATION_ID.fullmatch(op_id):
        raise PlanError(f"{path}: operation id {op_id!r} is not one aurumplan makes "
                        "(KIND_YYYYMMDD_SOURCE_hash[-aN])", hint="re-run `aurumplan plan`")
    _check_signature(path, data)
    return plan


PLAN_OPERATION_ID = re.compile(r"[A-Z][A-Z0-9]*_\d{8}_[A-Z0-9][A-Z0-9_-]*_[0-9a-f]{6}(-a[1-9]\d*)?")
"""The ids planning makes (plan/builder.py operation_id, plan/make.py attempts): nothing path-like."""


def _check_signature(path: str | Path, data: dict[str, Any]) -> None:
    """With AURUMPLAN_PLAN_KEY set, only plans signed with that key are accepted (made where it is set)."""
    if not os.environ.get(PLAN_KEY_ENV):
        return
    expected = sign(str(data["plan_id"]))
    got = data.get("signature")
    if not isinstance(got, str) or expected is None or not hmac.compare_digest(got, expected):
        what = "is not signed" if got is None else "has a signature that does not match"
        raise PlanError(f"{path}: plan {what} with {PLAN_KEY_ENV}; only plans made where that key is set can be "
                        "applied here", hint="plan it in CI (where the key is set) and apply that plan file")


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
