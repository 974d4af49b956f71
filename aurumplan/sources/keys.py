"""API keys come from the environment variable a source names; never from files, never printed."""

from __future__ import annotations

import os

from aurumplan.catalog.models import SourceDef
from aurumplan.errors import TerminalSourceError


def api_key(source: SourceDef) -> str | None:
    """The key, or None when the variable is unset (recorded responses need none)."""
    return os.environ.get(source.api_key_env) or None


def require_key(source: SourceDef) -> str:
    key = api_key(source)
    if key is None:
        raise TerminalSourceError(f"environment variable {source.api_key_env} is not set: export it with the "
                                  f"API key of source '{source.name}'")
    return key
