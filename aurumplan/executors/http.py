"""One HTTP call with retries, backoff, Retry-After and the shared rate limiter.

The driver maps a response to records or to an error class; this module decides what to do
with the error: retry a transient one (backoff with jitter, honouring Retry-After), tell the
limiter about a throttle so every worker slows, give up on a terminal one.

Where retrying cannot help the node stops at once, with a message naming the source, the URL
(never its query string, which may carry a key) and the config key to check: a malformed URL,
a host that does not resolve or refuses the connection (after one quick retry), a rejected key
(401/403), a route the API does not know (404). A failure of the whole source (unreachable,
key rejected) is a `SourceDownError`, which the executor remembers so the source's other nodes
fail without another request. See docs/sources.md ("When a source fails").
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


QUICK_RETRY = 0.5
"""Seconds before the one retry a refused or unresolved connection gets (a restarting server)."""


class SourceDownError(TerminalSourceError):
    """The source cannot be used at all (unreachable, malformed URL, key rejected): every node fails."""


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


def public_url(url: str) -> str:
    """The URL as messages may show it: no query string, no user or password."""
    try:
        u = httpx.URL(url)
        return str(u.copy_with(query=None, fragment=None, userinfo=b""))
    except (httpx.InvalidURL, TypeError, ValueError):
        return url.split("?", 1)[0].rsplit("@", 1)[-1]


def _where(source: SourceDef, call: Call) -> str:
    return f"source '{source.name}', {call.method} {public_url(call.url)}"


def fetch_page(client: httpx.Client, driver: Driver, source: SourceDef, dataset: DatasetDef, request: RequestSpec,
               call: Call, api_key: str | None, limiter: Limiter, policy: RetryPolicy, counters: Counters,
               stopped: Callable[[], bool], sleep: Callable[[float], None] = time.sleep,
               parse: Callable[[httpx.Response], Page | None] | None = None) -> Page:
    """Send one call until it parses, retries run out, the error is permanent, or the operation stops.

    `parse`, when given, is tried first (the local executor's parse workers); where it returns None the
    driver parses the response here.
    """
    last: SourceError | None = None
    for attempt in range(policy.max + 1):
        if stopped():
            raise Stopped()
        limiter.acquire()
        counters.requests += 1
        status: int | None = None
        outcome = "failed"  # unless it parses, throttles, or fails in a way that is sent again
        try:
            response = _unbound(_send(client, call, api_key, source, stopped, sleep))
            status = response.status_code
            counters.bytes += len(response.content)
            page = parse(response) if parse is not None else None
            if page is None:
                page = driver.parse(source, dataset, request, call, response)
            limiter.on_success()
            outcome = "ok"
            return page
        except ThrottledError as exc:
            counters.throttles += 1
            outcome = "throttled"
            limiter.on_throttle(exc.retry_after)
            last = exc
        except (SuspendedError, SourceDownError):
            raise
        except TerminalSourceError as exc:
            raise _terminal(exc, status, source, call) from exc
        except TransientSourceError as exc:
            last = exc
            outcome = "transient"
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise SourceDownError(f"{_where(source, call)}: not a valid http(s) URL ({exc}); check "
                                  f"sources.{source.name}.base_url in aurumplan.yaml") from None
        except httpx.TimeoutException:
            last = TransientSourceError(f"timeout after {policy.timeout:g}s calling {public_url(call.url)}")
            outcome = "transient"
        except httpx.TransportError as exc:
            last = TransientSourceError(f"connection error calling {public_url(call.url)}: {type(exc).__name__}")
            outcome = "transient"
        finally:
            if outcome == "transient":
                outcome = "retried" if attempt < policy.max else "failed"
            counters.outcome(outcome)
        if attempt < policy.max:
            counters.retries += 1
            if not isinstance(last, ThrottledError):  # the limiter already holds every worker until Retry-After
                _sleep_unless_stopped(backoff_delay(attempt, policy.backoff, policy.max_backoff), stopped, sleep)
    assert last is not None
    raise TransientSourceError(f"gave up after {policy.max + 1} attempts: {last}")


def _send(client: httpx.Client, call: Call, api_key: str | None, source: SourceDef, stopped: Callable[[], bool],
          sleep: Callable[[float], None]) -> httpx.Response:
    """client.send, with one quick retry of a connection that was refused or did not resolve."""
    try:
        return client.send(call.build(client, api_key))
    except httpx.ConnectError:
        _sleep_unless_stopped(QUICK_RETRY, stopped, sleep)
    try:
        return client.send(call.build(client, api_key))
    except httpx.ConnectError as exc:
        raise SourceDownError(f"{_where(source, call)}: cannot connect ({_reason(exc)}); check "
                              f"sources.{source.name}.base_url in aurumplan.yaml and the network") from None


def _reason(exc: httpx.ConnectError) -> str:
    """'connection refused', 'host not found' or httpx's own words, without the URL."""
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if any(s in text for s in ("name or service not known", "nodename nor servname", "name resolution",
                               "no address associated", "getaddrinfo")):
        return "host not found"
    return str(exc) or type(exc).__name__


def _terminal(exc: TerminalSourceError, status: int | None, source: SourceDef, call: Call) -> TerminalSourceError:
    """The driver's terminal error with where it happened and what to check."""
    if status in (401, 403):
        return SourceDownError(f"{exc} ({_where(source, call)}: HTTP {status}; check the key in environment "
                               f"variable {source.api_key_env})")
    if status == 404:
        return TerminalSourceError(f"{exc} ({_where(source, call)}: the API does not know this route; check "
                                   f"sources.{source.name}.base_url and the dataset's route)")
    return TerminalSourceError(f"{exc} ({_where(source, call)})")


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
