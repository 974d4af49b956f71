"""Requests planning makes to ask a source a question (which observations were revised), not to load data.

Planning is otherwise offline. These discovery requests go through the same `recordings:` cassettes as
apply (so offline examples and tests replay them and need no key), send the key from the source's
environment variable, keep under the source's per-second quota when live, and retry a throttle or a
transient error a few times. Failures are one line naming the source and the request, never the key.
See docs/replay.md, "Incremental".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from aurumplan.catalog.models import SourceDef
from aurumplan.errors import TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.sources.base import Call
from aurumplan.sources.cassette import CassetteMissError, CassetteTransport, describe

T = TypeVar("T")
TRIES = 4
BACKOFF = 1.0
TIMEOUT = 60.0


class DiscoveryClient:
    """One source's client for discovery requests; use as a context manager."""

    def __init__(self, source: SourceDef, recordings: Path | None, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.source = source
        self.offline = recordings is not None
        if transport is None and recordings is not None:
            transport = CassetteTransport(recordings)
        self.key = os.environ.get(source.api_key_env) or None
        if self.key is None and not self.offline:
            raise TerminalSourceError(f"environment variable {source.api_key_env} is empty",
                                      hint=f"export {source.api_key_env}, or serve the source from `recordings:`")
        self.client = httpx.Client(timeout=TIMEOUT, transport=transport, follow_redirects=True,
                                   headers={"User-Agent": "aurumplan"})
        per_second = source.quota.per_second
        self.spacing = 0.0 if self.offline or not per_second else 1.0 / (per_second * source.headroom)
        self.sleep = sleep
        self._last = 0.0

    def __enter__(self) -> DiscoveryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _pace(self) -> None:
        wait = self._last + self.spacing - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last = time.monotonic()

    def send(self, call: Call, read: Callable[[httpx.Response], T]) -> T:
        """The answer to `call` as `read` decodes it; throttles and transient errors are retried."""
        for attempt in range(TRIES):
            self._pace()
            request = call.build(self.client, self.key)
            try:
                return read(self.client.send(request))
            except CassetteMissError as exc:
                raise CassetteMissError(exc.message, hint="planning sends this request itself, so `aurumplan record` "
                                        "(which plans on an empty state) does not: record it from a live plan "
                                        "(examples/recordings/README.md)") from None
            except ThrottledError as exc:
                if attempt == TRIES - 1:
                    raise self._failed(call, exc) from None
                self.sleep(exc.retry_after if exc.retry_after is not None else BACKOFF * 2 ** attempt)
            except TransientSourceError as exc:
                if attempt == TRIES - 1:
                    raise self._failed(call, exc) from None
                self.sleep(BACKOFF * 2 ** attempt)
            except httpx.TransportError as exc:
                if attempt == TRIES - 1:
                    raise self._failed(call, TransientSourceError(type(exc).__name__)) from None
                self.sleep(BACKOFF * 2 ** attempt)
        raise AssertionError("unreachable")

    def _failed(self, call: Call, exc: Exception) -> TerminalSourceError:
        shown = describe(call.method, str(httpx.URL(call.url, params=call.params)))
        return TerminalSourceError(f"{self.source.name} did not answer {shown} after {TRIES} tries: {exc}")
