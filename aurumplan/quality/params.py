"""Parameters of the quality checks that a spec's settings change (docs/quality.md)."""

from __future__ import annotations

from typing import Any


def quality_params(settings: dict[str, Any]) -> dict[str, Any]:
    """The quality profile's params, an algorithm update's on top; a schema correction's expected version."""
    replay = settings.get("replay") or {}
    params = dict((settings.get("validation") or {}).get("params") or {})
    params.update(((replay.get("algorithm") or {}).get("params")) or {})
    if replay.get("type") == "schema_correction" and replay.get("schemaVersion"):
        params["expected_version"] = replay["schemaVersion"]
    return params
