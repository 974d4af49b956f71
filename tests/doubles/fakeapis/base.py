"""FakeServer: a real HTTP server on 127.0.0.1 with counters, a request log, faults and a quota.

Each API subclass implements `handle` plus its own key, throttle and server-error answers, so
everything a client sees except the base URL is what the real API sends.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from tests.doubles.fakeapis.quota import SlidingWindowQuota
from tests.doubles.fakeapis.synth import Synth

SECRET_PARAMS = frozenset({"api_key", "registrationkey", "token", "subscription-key"})


@dataclass
class FakeRequest:
    """One parsed HTTP request as the handler sees it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def first(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return default

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class FakeResponse:
    """Status, body bytes and headers of one answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> FakeResponse:
    return FakeResponse(status, json.dumps(payload, separators=(",", ":")).encode(), headers=headers or {})


class LogEntry(NamedTuple):
    """One data request: monotonic time, path, params without secrets, and the status answered."""

    time: float
    path: str
    params: dict[str, Any]
    status: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = FakeRequest(self.command, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                          self.headers, body)
        resp = self.server.fake.dispatch(req)
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the fake keeps its own log without secrets."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


class FakeServer:
    """Base of every fake API; use as a context manager or call start()/stop()."""

    source: ClassVar[str] = ""
    prefix: ClassVar[str] = ""
    default_quota: ClassVar[Mapping[str, float] | None] = None

    def __init__(self, *, data: Synth | None = None, quota: Any = "default", api_key: str | None = None,
                 delay: float = 0.0, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.monotonic, cache_pages: bool = False) -> None:
        self.data = data or Synth()
        self.cache_pages = cache_pages
        self._pages: dict[tuple[Any, ...], FakeResponse] = {}
        self.api_key = api_key
        self.delay = delay
        self.quota = SlidingWindowQuota(self.default_quota if quota == "default" else quota, clock)
        self._clock = clock
        self._host, self._port = host, port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requests = 0
        self.throttled = 0
        self.failed = 0
        self.log: list[LogEntry] = []
        self.crashes: list[BaseException] = []
        self._fail: list[int] = []
        self._delays: list[float] = []
        self._malformed = 0

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeServer:
        self._httpd = _HTTPServer((self._host, self._port), _Handler)
        self._httpd.fake = self
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-{self.source}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (still known after stop(), so recorded URLs can be rebuilt)."""
        if not self._port:
            raise RuntimeError("server not started")
        return self._port

    @property
    def origin(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What replaces the real API's base URL e.g. http://127.0.0.1:PORT/v2."""
        return self.origin + self.prefix

    # fault knobs -------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """The next n data requests get the API's server-error answer with that status."""
        with self._lock:
            self._fail.extend([status] * n)

    def delay_next(self, n: int, seconds: float) -> None:
        """The next n data requests are answered after `seconds` (on top of `delay`)."""
        with self._lock:
            self._delays.extend([seconds] * n)

    def malformed_next(self, n: int = 1) -> None:
        """The next n successful answers carry a truncated body with status 200."""
        with self._lock:
            self._malformed += n

    def reset_counters(self) -> None:
        with self._lock:
            self.requests = self.throttled = self.failed = 0
            self.log.clear()

    # dispatch ----------------------------------------------------------------------------------
    def dispatch(self, req: FakeRequest) -> FakeResponse:
        if not self.is_data_path(req):
            return self.not_found(req)
        with self._lock:
            self.requests += 1
            fail = self._fail.pop(0) if self._fail else None
            extra = self._delays.pop(0) if self._delays else 0.0
        if self.delay or extra:
            time.sleep(self.delay + extra)
        try:
            resp = self._answer(req, fail)
        except Exception as e:  # a bug in the fake: answer 500 and keep it for the test to see
            with self._lock:
                self.crashes.append(e)
            resp = self.server_error(500)
        with self._lock:
            if resp.status == 200 and self._malformed and not self._is_signal(resp):
                self._malformed -= 1
                resp = FakeResponse(200, resp.body[: max(1, len(resp.body) // 2)], resp.content_type,
                                    resp.headers)
            self.log.append(LogEntry(self._clock(), req.path, self.loggable_params(req), resp.status))
        return resp

    def _answer(self, req: FakeRequest, fail: int | None) -> FakeResponse:
        if fail is not None:
            with self._lock:
                self.failed += 1
            return self.server_error(fail)
        denied = self.check_key(req)
        if denied is not None:
            return denied
        wait = self.quota.admit()
        if wait is not None:
            with self._lock:
                self.throttled += 1
            return self.throttle_response(wait)
        if not self.cache_pages:
            return self.handle(req)
        key = (req.method, req.path, tuple(sorted(req.query)), req.body, req.headers.get("X-Params"))
        page = self._pages.get(key)
        if page is None:
            page = self.handle(req)
            if page.status == 200:
                self._pages[key] = page
        return page

    def _is_signal(self, resp: FakeResponse) -> bool:
        """True for a 200 that is really an error (BLS); never malform those."""
        return False

    def loggable_params(self, req: FakeRequest) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in req.query:
            if k.lower() in SECRET_PARAMS:
                continue
            out.setdefault(k, []).append(v)
        return {k: v[0] if len(v) == 1 else v for k, v in out.items()}

    # per-API hooks -----------------------------------------------------------------------------
    def is_data_path(self, req: FakeRequest) -> bool:
        raise NotImplementedError

    def handle(self, req: FakeRequest) -> FakeResponse:
        raise NotImplementedError

    def check_key(self, req: FakeRequest) -> FakeResponse | None:
        return None

    def throttle_response(self, retry_after: float) -> FakeResponse:
        return json_response(429, {"error": "Too Many Requests"})

    def server_error(self, status: int) -> FakeResponse:
        return json_response(status, {"error": "Internal Server Error"})

    def not_found(self, req: FakeRequest) -> FakeResponse:
        return json_response(404, {"error": f"No route for {req.method} {req.path}"})
