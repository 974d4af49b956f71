"""Response helpers every driver shares: JSON decoding, Retry-After, next-page calls, window filters."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import orjson

from aurumplan.errors import TransientSourceError
from aurumplan.sources.base import Call, Record, RequestSpec

if TYPE_CHECKING:  # annotations only: planning loads the drivers, httpx loads when requests are sent
    import httpx


def json_body(response: httpx.Response, api: str) -> Any:
    """The decoded body; a non-JSON body is transient (gateways send HTML under load, bodies get cut).

    orjson decodes a page about twice as fast as the standard library (this is the per-request hot
    path); what it refuses (NaN literals, bodies in another charset) goes through httpx's decoder.
    """
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        pass
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        if response.status_code >= 500:
            raise TransientSourceError(f"{api} answered HTTP {response.status_code}") from None
        raise TransientSourceError(f"malformed {api} response (HTTP {response.status_code}, not JSON)") from None


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a numeric Retry-After header, else None."""
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def with_param(call: Call, name: str, value: str) -> Call:
    """The same call with one query parameter replaced, counted as the next page."""
    params = tuple((k, value if k == name else v) for k, v in call.params)
    return Call(call.method, call.url, params, call.headers, call.json_body, call.secret_in, call.page + 1)


def param(call: Call, name: str, default: str = "") -> str:
    return next((v for k, v in call.params if k == name), default)


def in_window(records: list[Record], request: RequestSpec) -> list[Record]:
    """Only records whose period starts inside the request window (APIs answer whole years or days)."""
    return [r for r in records if request.start <= r[1] < request.end and r[0] in request.series]


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
