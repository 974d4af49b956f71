"""Parameters of the quality checks that a spec's settings change (docs/quality.md)."""

from __future__ import annotations

from typing import Any


def quality_params(settings: dict[str, Any]) -> dict[str, Any]:
    """An algorithm update's params; a schema correction's expected version for the schema check."""
    replay = settings.get("replay") or {}
    params = dict(((replay.get("algorithm") or {}).get("params")) or {})
    if replay.get("type") == "schema_correction" and replay.get("schemaVersion"):
        params["expected_version"] = replay["schemaVersion"]
    return params
