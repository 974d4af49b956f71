"""Unit spellings: two units are the same when they differ only in case, hyphens or spacing.

Sources spell one unit several ways ("cents per kilowatthour" in a catalog, "cents per
kilowatt-hour" in EIA's responses); the checks compare the normalised forms (docs/quality.md).
"""

from __future__ import annotations

from functools import cache


@cache
def unit_key(unit: str | None) -> str | None:
    """The unit as compared: lower case, without hyphens, underscores or white space."""
    if unit is None:
        return None
    return "".join(unit.lower().replace("-", " ").replace("_", " ").split())


def same_unit(a: str | None, b: str | None) -> bool:
    """Whether two spellings name the same unit (see unit_key)."""
    return a == b or unit_key(a) == unit_key(b)
