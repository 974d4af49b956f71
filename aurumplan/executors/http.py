"""One HTTP call with retries, backoff, Retry-After and the shared rate limiter.

The driver maps a response to records or to an error class; this module decides what to do
with the error: retry a transient one (backoff with jitter, honouring Retry-After), tell the
limiter about a throttle so every worker slows, give up on a terminal one.
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from aurumplan.catalog import DatasetDef, SourceDef
from aurumplan.errors import SourceError, SuspendedError, TerminalSourceError, ThrottledError, TransientSourceError
from aurumplan.executors.base import Counters, RetryPolicy, Stopped
from aurumplan.sources.base import Call, Driver, Page, RequestSpec
from aurumplan.sources.cassette import CassetteTransport

# httpx logs every request URL at INFO, and some APIs (EIA, FRED) take the key in the query string:
# keep those loggers quiet so a user's INFO logging never carries a key.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class Limiter(Protocol):
    """What the executor needs of a rate limiter (apply.ratelimit.RateLimiter provides it)."""

    def acquire(self) -> None: ...

    def on_throttle(self, retry_after: float | None = None) -> None: ...

    def on_success(self) -> None: ...


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process: loading the CA bundle takes ~20-30 ms,
    which every new client would otherwise pay again."""
    return httpx.create_ssl_context()


def make_client(source: SourceDef, timeout: float, root: Path | None = None) -> httpx.Client:
    """An httpx client; with `recordings` set, requests are answered from recorded responses."""
    transport: httpx.BaseTransport | None = None
    if source.recordings:
        folder = Path(source.recordings)
        if root is not None and not folder.is_absolute():
            folder = root / folder
        transport = CassetteTransport(folder)
    return httpx.Client(timeout=timeout, transport=transport, follow_redirects=True, verify=_tls(),
                        headers={"User-Agent": "aurumplan"})


def backoff_delay(attempt: int, backoff: float, max_backoff: float, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Wait before retry attempt+1: full jitter over min(max_backoff, backoff x 2^attempt), never below
    Retry-After (the API's word wins, even past max_backoff)."""
    delay = (rng or random).uniform(0.0, min(max_backoff, backoff * (2 ** attempt)))
    return max(delay, retry_after) if retry_after is not None else delay


def fetch_page(client: httpx.Client, driver: Driver, source: SourceDef, dataset: DatasetDef, request: RequestSpec,
               call: Call, api_key: str | None, limiter: Limiter, policy: RetryPolicy, counters: Counters,
               stopped: Callable[[], bool], sleep: Callable[[float], None] = time.sleep) -> Page:
    """Send one call until it parses, retries run out, or the operation stops."""
    last: SourceError | None = None
    for attempt in range(policy.max + 1):
        if stopped():
            raise Stopped()
        limiter.acquire()
        counters.requests += 1
        retry_after: float | None = None
        try:
            response = _unbound(client.send(call.build(client, api_key)))
            counters.bytes += len(response.content)
            page = driver.parse(source, dataset, request, call, response)
            limiter.on_success()
            return page
        except ThrottledError as exc:
            counters.throttles += 1
            retry_after = exc.retry_after
            limiter.on_throttle(retry_after)
            last = exc
        except SuspendedError:
            raise
        except TerminalSourceError:
            raise
        except TransientSourceError as exc:
            last = exc
        except httpx.TimeoutException:
            last = TransientSourceError(f"timeout after {policy.timeout:g}s calling {call.url}")
        except httpx.TransportError as exc:
            last = TransientSourceError(f"connection error calling {call.url}: {type(exc).__name__}")
        if attempt < policy.max:
            counters.retries += 1
            _sleep_unless_stopped(backoff_delay(attempt, policy.backoff, policy.max_backoff, retry_after), stopped,
                                  sleep)
    assert last is not None
    raise TransientSourceError(f"gave up after {policy.max + 1} attempts: {last}")


def _unbound(response: httpx.Response) -> httpx.Response:
    """The response with the reference cycle httpx builds (its stream points back at it) broken.

    The body is read and the stream closed when send() returns; without this, each page's body
    waited for a full cyclic collection: after a 1,000,000-row load 64 pages (55 MB) were still
    held, so memory grew with the volume loaded.
    """
    response.stream = httpx.ByteStream(b"")
    return response


def _sleep_unless_stopped(seconds: float, stopped: Callable[[], bool], sleep: Callable[[float], None]) -> None:
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        if stopped():
            raise Stopped()
        sleep(min(left, 0.25))


def redact(params: Any) -> Any:
    """Defensive: drop anything named like a secret from data bound for logs."""
    secret = ("api_key", "registrationkey", "token", "key", "password")
    if isinstance(params, dict):
        return {k: ("REDACTED" if str(k).lower() in secret else redact(v)) for k, v in params.items()}
    if isinstance(params, list):
        return [redact(p) for p in params]
    return params
