"""API keys come from the environment variable a source names; never from files, never printed."""

from __future__ import annotations

import os

from aurumplan.catalog.models import SourceDef
from aurumplan.errors import TerminalSourceError

SIGNUP = {
    "eia": "https://www.eia.gov/opendata/register.php",
    "fred": "https://fred.stlouisfed.org/docs/api/api_key.html",
    "bls": "https://data.bls.gov/registrationEngine/",
    "noaa": "https://www.ncdc.noaa.gov/cdo-web/token",
    "pjm": "https://dataminer2.pjm.com (API key in your PJM account settings)",
}


def api_key(source: SourceDef) -> str | None:
    """The key, or None when the variable is unset or empty (recorded responses need none)."""
    return os.environ.get(source.api_key_env) or None


def require_key(source: SourceDef) -> str:
    """The key, or one clear line naming the variable to set (the key itself is never shown)."""
    key = api_key(source)
    if key is None:
        where = SIGNUP.get(source.driver)
        hint = f" (get a key at {where})" if where else ""
        raise TerminalSourceError(f"environment variable {source.api_key_env} is not set{hint}: export it with "
                                  f"the API key of source '{source.name}'")
    return key
