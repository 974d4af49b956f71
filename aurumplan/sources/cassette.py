"""Recorded responses (the sources/recorded cassette format) served or written through httpx transports.

The runtime imports this module to serve `recordings:` folders, so it depends on httpx and the
stdlib only. Matching ignores host and secrets: method + path + sorted query params without
keys + the JSON body without `registrationkey`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import httpx

from aurumplan.errors import TerminalSourceError

SECRET_PARAMS = frozenset({"api_key", "registrationkey", "token"})
SECRET_HEADERS = frozenset({"x-api-key", "token", "ocp-apim-subscription-key", "authorization"})
KEPT_HEADERS = ("Content-Type", "Date", "Last-Modified", "Content-Disposition", "Retry-After")
REDACTED = "REDACTED"


class CassetteMissError(TerminalSourceError):
    """No recorded interaction matches a request (the message names it, without keys)."""


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair."""

    method: str
    uri: str
    body: str | None
    status: int
    message: str
    headers: dict[str, list[str]]
    response_body: bytes
    source: str = ""

    def to_httpx(self, request: httpx.Request) -> httpx.Response:
        headers = [(k, v) for k, vs in self.headers.items() for v in vs
                   if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")]
        return httpx.Response(self.status, headers=headers, content=self.response_body, request=request)


MatchKey = tuple[str, str, tuple[tuple[str, str], ...], str]


def _body_key(body: str | bytes | None) -> str:
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict):
        doc = {k: v for k, v in doc.items() if k != "registrationkey"}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def match_key(method: str, uri: str, body: str | bytes | None) -> MatchKey:
    """What two requests must share to match: never the host, never a secret."""
    parts = urlsplit(uri)
    query = tuple(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                         if k.lower() not in SECRET_PARAMS))
    return method.upper(), unquote(parts.path).rstrip("/"), query, _body_key(body)


def describe(method: str, uri: str, body: str | bytes | None = None) -> str:
    """`GET /path?params` (+ the JSON body) with every secret dropped, for error messages and logs."""
    _, path, query, text = match_key(method, uri, body)
    shown = f"{method.upper()} {path}" + (f"?{urlencode(query)}" if query else "")
    return shown + (f" body {text[:300]}" if text else "")


def _request_of(request: httpx.Request) -> tuple[str, str, bytes]:
    return request.method, str(request.url), request.read()


def _load_file(path: Path) -> list[Interaction]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("interactions"), list):
        return []
    out = []
    for item in doc["interactions"]:
        req, resp = item["request"], item["response"]
        status = resp.get("status") or {}
        code = int(status.get("code", status.get("status_code", 200)))
        body = resp.get("body")
        if isinstance(body, dict):
            raw = base64.b64decode(body["base64"]) if "base64" in body else json.dumps(body).encode()
        else:
            raw = (body or "").encode("utf-8")
        headers = {k: v if isinstance(v, list) else [v] for k, v in (resp.get("headers") or {}).items()}
        out.append(Interaction(req.get("method", "GET").upper(), req["uri"], req.get("body"), code,
                               str(status.get("message", "")), headers, raw, path.name))
    return out


def load_cassettes(folder: str | Path) -> list[Interaction]:
    """Every interaction of every `*.json` cassette under `folder`, in path order.

    JSON files without an `interactions` list (notes, error catalogs) are skipped; a cassette
    that cannot be read is an error naming the file, never a silent gap.
    """
    out: list[Interaction] = []
    for path in sorted(Path(folder).rglob("*.json")):
        try:
            out.extend(_load_file(path))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a readable cassette ({e})") from e
    return out


class Cassette:
    """Interactions indexed by match key; repeated requests replay in order, then repeat the last."""

    def __init__(self, interactions: list[Interaction]) -> None:
        self._by_key: dict[MatchKey, list[Interaction]] = {}
        for i in interactions:
            self._by_key.setdefault(match_key(i.method, i.uri, i.body), []).append(i)
        self._played: dict[MatchKey, int] = {}
        self._lock = threading.Lock()

    def match(self, request: httpx.Request) -> Interaction | None:
        key = match_key(*_request_of(request))
        found = self._by_key.get(key)
        if not found:
            return None
        with self._lock:
            n = self._played.get(key, 0)
            self._played[key] = n + 1
        return found[min(n, len(found) - 1)]


def match(interactions: list[Interaction], request: httpx.Request) -> Interaction | None:
    """The first recorded interaction matching `request`, or None."""
    key = match_key(*_request_of(request))
    return next((i for i in interactions if match_key(i.method, i.uri, i.body) == key), None)


def _secrets(request: httpx.Request) -> list[str]:
    found = [v for k, v in request.url.params.multi_items() if k.lower() in SECRET_PARAMS and v]
    found += [v for k, v in request.headers.items() if k.lower() in SECRET_HEADERS and v]
    try:
        doc = json.loads(request.read() or b"null")
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("registrationkey"):
        found.append(str(doc["registrationkey"]))
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def _redact_uri(uri: str) -> str:
    parts = urlsplit(uri)
    query = [(k, REDACTED if k.lower() in SECRET_PARAMS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _redact_text(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, REDACTED)
    return re.sub(r'("api_key"\s*:\s*)"[^"]*"', rf'\1"{REDACTED}"', text)


def write_interaction(folder: str | Path, request: httpx.Request, response: httpx.Response) -> Path:
    """Append one interaction, keys redacted everywhere, to the cassette file of its match key."""
    secrets = _secrets(request)
    body = request.read()
    req_body: str | None = None
    if body:
        try:
            doc = json.loads(body)
            if isinstance(doc, dict) and "registrationkey" in doc:
                doc["registrationkey"] = REDACTED
            req_body = json.dumps(doc)
        except ValueError:
            req_body = _redact_text(body.decode("utf-8", "replace"), secrets)
    content = response.read()
    resp_body: Any
    try:
        resp_body = _redact_text(content.decode("utf-8"), secrets)
    except UnicodeDecodeError:
        resp_body = {"base64": base64.b64encode(content).decode()}
    headers = {k: [_redact_text(v, secrets) for v in response.headers.get_list(k)]
               for k in KEPT_HEADERS if k in response.headers}
    entry = {"request": {"method": request.method, "uri": _redact_uri(str(request.url)), "body": req_body},
             "response": {"status": {"code": response.status_code, "message": response.reason_phrase},
                          "headers": headers, "body": resp_body}}
    m, path, query, b = match_key(request.method, str(request.url), body)
    digest = hashlib.sha256(json.dumps([m, path, query, b]).encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")[-60:] or "root"
    target = Path(folder) / f"{slug}-{digest}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    doc = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {"interactions": []}
    doc["interactions"].append(entry)
    target.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return target


class CassetteTransport(httpx.BaseTransport):
    """Serves recorded responses; unmatched requests go to `fallback` or raise CassetteMissError."""

    def __init__(self, folder: str | Path, fallback: httpx.BaseTransport | None = None) -> None:
        self.folder = Path(folder)
        self.cassette = Cassette(load_cassettes(self.folder))
        self.fallback = fallback

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        found = self.cassette.match(request)
        if found is not None:
            return found.to_httpx(request)
        if self.fallback is not None:
            return self.fallback.handle_request(request)
        raise CassetteMissError(f"no recorded response in {self.folder} for "
                                f"{describe(*_request_of(request))}",
                                hint=f"record it with `aurumplan record SPEC --out NEW_DIR` and copy NEW_DIR/*.json "
                                     f"into {self.folder} (examples/recordings/README.md)")

    def close(self) -> None:
        if self.fallback is not None:
            self.fallback.close()


class RecordingTransport(httpx.BaseTransport):
    """Passes requests to `inner` and writes every response (keys redacted) into `folder`."""

    def __init__(self, inner: httpx.BaseTransport, folder: str | Path) -> None:
        self.inner = inner
        self.folder = Path(folder)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        write_interaction(self.folder, request, response)
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=response.content,
                              request=request, extensions={"reason_phrase": response.reason_phrase.encode()})

    def close(self) -> None:
        self.inner.close()
