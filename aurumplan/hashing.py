"""Canonical JSON and sha256 fingerprints: same input, same bytes, on any machine."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any


def _default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    if isinstance(obj, tuple):
        return list(obj)
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    raise TypeError(f"cannot canonicalise {type(obj).__name__}")


def canonical_json(obj: Any) -> str:
    """Sorted keys, fixed separators, no NaN: the form that is hashed and written to plan files."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=_default)


def sha256_hex(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def fingerprint(obj: Any) -> str:
    """sha256 of the canonical JSON of obj."""
    return sha256_hex(canonical_json(obj))


def short_hash(obj: Any, n: int = 6) -> str:
    return fingerprint(obj)[:n]
