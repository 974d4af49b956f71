"""The fake engine's Http source: what SeaTunnel's Http connector sends, and the rows it reads back.

Each behaviour below is taken from apache/seatunnel at commit 15431c94 (2.3.9-SNAPSHOT, the commit
aurumplan's option tables were written against) unless marked otherwise; docs/seatunnel.md lists
them with the file each one mirrors.

- Request (HttpParameter.buildWithConfig, HttpClientProvider): params and headers become string maps
  through typesafe Config.entrySet(), so a key holding characters other than letters, digits, `-`,
  `_` and `.` arrives quoted (`"data[0]"`), values are `String.valueOf` of the HOCON value and the
  map is a java.util.HashMap (its iteration order is reproduced). GET: `new URIBuilder(url)`, then
  `setParameter` per param: the URL's own query is kept, a param of the same name replaces it, and
  the query is re-encoded as a form. POST: the URL as written; from 2.3.11 the params join the URL
  query the same way (README of the reference material, PR #8434), before that they become a form
  body, which then suppresses the JSON body. The URL must be a valid java.net.URI.
- Retries (HttpClientProvider.buildRetryer): `retry` total attempts, only on I/O errors, Fibonacci
  wait of `retry_backoff_multiplier_ms` capped by `retry_backoff_max_ms`; any status outside 200-207
  fails the job at once (HttpSourceReader.pollAndCollectData).
- Rows (HttpSourceReader.collect): `content_field` is a Jayway JSONPath read with ALWAYS_RETURN_LIST
  and SUPPRESS_EXCEPTIONS (a path that matches nothing gives no rows); `json_field` zips parallel
  paths; an empty body gives no rows. `pageing` loops page numbers (there is no offset paging).
- Typing (JsonToRowConverters): `schema.fields` picks each row's columns by name, absent -> null;
  a `string` column gets a scalar's text (Java's Double.toString for floats) or a container's JSON.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus, unquote_plus, urlsplit, urlunsplit

import httpx

from tests.doubles.seatunnel.errors import JobFailed

Log = Callable[[str, str], None]
Version = tuple[int, ...]

CONNECT_TIMEOUT_MS, SOCKET_TIMEOUT_MS = 12000, 60000
BACKOFF_MULTIPLIER_MS, BACKOFF_MAX_MS = 100, 10000
_NOT_FUNKY = re.compile(r"^[\w.\-]+$")
# java.net.URI accepts these outside the authority (RFC 2396 uric, escapes, and non-ASCII "other")
_URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-_.!~*'();/?:@&=+$,#]|%[0-9A-Fa-f]{2}|[^\x00-\x7f])*$")


def version_tuple(text: str) -> Version:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


# ---------------------------------------------------------------- Java's text of values


def java_double(x: float) -> str:
    """Double.toString: plain from 1e-3 to 1e7, else d.dddE±n; always a fraction digit."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(x)
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def java_text(value: Any) -> str:
    """String.valueOf of an unwrapped HOCON value (lists print as `[a, b]`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _render_key(key: str) -> str:
    """typesafe Path.render with SeaTunnel's hasFunkyChars: quoted when not [letters digits - _ .]."""
    return key if _NOT_FUNKY.match(key) else json.dumps(key, ensure_ascii=False)


def config_string_map(value: Any) -> dict[str, str]:
    """`pluginConfig.getConfig(name).entrySet()` to a map: rendered path keys, nulls dropped, nested joined by `->`."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for k, v in node.items():
            key = prefix + _render_key(str(k))
            if isinstance(v, Mapping):
                walk(key + "->", v)
            elif v is not None:
                out.append((key, java_text(v)))

    if isinstance(value, Mapping):
        walk("", value)
    return java_hashmap_order(out)


def _java_hash(s: str) -> int:
    h = 0
    for unit in s.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h


def java_hashmap_order(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """A java.util.HashMap filled in this order (default capacity 16, load 0.75): its iteration order."""
    merged: dict[str, str] = {}
    for k, v in pairs:
        merged[k] = v  # Collectors.toMap(..., (v1, v2) -> v2): the last value wins
    cap = 16
    while len(merged) > cap * 0.75:
        cap *= 2

    def bucket(k: str) -> int:
        h = _java_hash(k)
        return (h ^ (h >> 16)) & (cap - 1)

    order = sorted(range(len(merged)), key=lambda i: (bucket(list(merged)[i]), i))
    keys = list(merged)
    return {keys[i]: merged[keys[i]] for i in order}


# ---------------------------------------------------------------- the request


def _form(pairs: list[tuple[str, str]]) -> str:
    """URLEncodedUtils.format: form encoding, only letters, digits and `-_.*` left as they are."""
    return "&".join(f"{quote_plus(k, safe='-_.*')}={quote_plus(v, safe='-_.*')}" for k, v in pairs)


def _parse_query(raw: str) -> list[tuple[str, str]]:
    """URLEncodedUtils.parse: `&` and `;` separate, `+` is a space."""
    out = []
    for part in re.split(r"[&;]", raw):
        if not part:
            continue
        name, _, value = part.partition("=")
        out.append((unquote_plus(name), unquote_plus(value)))
    return out


def valid_uri(url: str) -> None:
    """`new URI(url)` fails on characters RFC 2396 does not allow, such as unescaped `[` in a query."""
    parts = urlsplit(url)
    for piece in (parts.path, parts.query, parts.fragment):
        if not _URI_CHARS.match(piece):
            raise JobFailed(f"java.net.URISyntaxException: Illegal character in URL {parts.scheme}://{parts.netloc}"
                            f"{parts.path}?…")


def with_params(url: str, params: Mapping[str, str]) -> str:
    """`new URIBuilder(url)` then `setParameter(k, v)` for each param, then `build()`."""
    valid_uri(url)
    if not params:
        return url
    parts = urlsplit(url)
    query = _parse_query(parts.query)
    for k, v in params.items():
        query = [(n, x) for n, x in query if n != k] + [(k, v)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, _form(query), parts.fragment))


def build_request(plugin: Mapping[str, Any], version: Version, params: Mapping[str, str] | None = None
                  ) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    """(method, url, headers, body) as SeaTunnel's HttpClientProvider sends them; params: the paged map."""
    method = str(plugin.get("method") or "GET").upper()
    url = str(plugin["url"])
    params = config_string_map(plugin.get("params")) if params is None else params
    headers = list(config_string_map(plugin.get("headers")).items())
    body = plugin.get("body")
    if method == "GET":
        return method, with_params(url, params), headers, None
    if method != "POST":
        raise JobFailed(f"the fake engine sends GET and POST only, not {method}")
    as_form = bool(params) and (version < (2, 3, 11) or bool(plugin.get("keep_params_as_form")))
    if as_form:  # UrlEncodedFormEntity; addBody then sees a Content-Type and adds nothing
        valid_uri(url)
        return method, url, [*headers, ("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")], \
            _form(list(params.items())).encode()
    target = with_params(url, params) if version >= (2, 3, 11) else with_params(url, {})
    text = "" if body is None or not str(body).strip() else str(body)
    return method, target, [*headers, ("Content-Type", "application/json")], text.encode()


def fibonacci_waits(multiplier_ms: int, max_ms: int) -> Iterator[float]:
    """Guava's fibonacciWait: multiplier x fib(attempt), capped, in seconds."""
    a, b = 1, 1
    while True:
        yield min(multiplier_ms * a, max_ms) / 1000
        a, b = b, a + b


def send(client: httpx.Client, plugin: Mapping[str, Any], version: Version, log: Log,
         params: Mapping[str, str] | None = None) -> httpx.Response:
    """One poll: the request with retries on I/O errors only; a status outside 200-207 fails the job."""
    method, url, headers, body = build_request(plugin, version, params)
    retry = int(plugin.get("retry") or 0)
    attempts = retry if retry >= 1 else 1
    waits = fibonacci_waits(int(plugin.get("retry_backoff_multiplier_ms") or BACKOFF_MULTIPLIER_MS),
                            int(plugin.get("retry_backoff_max_ms") or BACKOFF_MAX_MS))
    timeout = httpx.Timeout(int(plugin.get("socket_timeout_ms") or SOCKET_TIMEOUT_MS) / 1000,
                            connect=int(plugin.get("connect_timeout_ms") or CONNECT_TIMEOUT_MS) / 1000)
    for attempt in range(1, attempts + 1):
        try:
            resp = client.request(method, url, headers=headers, content=body, timeout=timeout)
            break
        except httpx.TransportError as exc:
            if attempt == attempts:
                raise JobFailed(f"ErrorCode:[HTTP-01], ErrorDescription:[Http request failed] - "
                                f"{type(exc).__name__} calling {url.split('?')[0]}") from None
            log("WARN", f"[{attempt}] request http failed")
            time.sleep(next(waits))
    if not 200 <= resp.status_code <= 207:
        raise JobFailed("ErrorCode:[HTTP-01], ErrorDescription:[Http request failed] - http client execute exception, "
                        f"http response status code:[{resp.status_code}], content:[{resp.text[:200]}]")
    return resp


# ---------------------------------------------------------------- JSONPath and rows


def json_path(doc: Any, path: str) -> list[Any]:
    """Jayway JsonPath with ALWAYS_RETURN_LIST and SUPPRESS_EXCEPTIONS, for `$.a.b[0].c.*` paths."""
    if not path.startswith("$"):
        raise JobFailed(f"content_field {path!r} is not a JSONPath")
    nodes = [doc]
    for step in [s for s in re.split(r"\.(?![^\[]*\])", path[1:]) if s]:
        m = re.fullmatch(r"([^\[\]]*)((?:\[(?:\d+|\*)\])*)", step)
        if m is None:
            raise JobFailed(f"fake engine: unsupported JSONPath step {step!r} in {path!r}")
        name, idx = m.group(1), re.findall(r"\[(\d+|\*)\]", m.group(2))
        out: list[Any] = []
        for n in nodes:
            if name == "*":
                out.extend(n if isinstance(n, list) else list(n.values()) if isinstance(n, dict) else [])
                continue
            found = [n.get(name)] if name and isinstance(n, dict) and name in n else [n] if not name else []
            for i in idx:
                nxt: list[Any] = []
                for v in found:
                    if isinstance(v, list):
                        nxt.extend(v if i == "*" else v[int(i):int(i) + 1])
                found = nxt
            out.extend(found)
        nodes = out
    return nodes


def _flip(columns: list[list[Any]], names: list[str], paths: list[str]) -> list[dict[str, Any]]:
    for i in range(1, len(columns)):
        if len(columns[i]) != len(columns[0]):
            raise JobFailed(f"ErrorCode:[HTTP-02], ErrorDescription:[The field data is inconsistent] - [{paths[0]}]"
                            f"({len(columns[0])}) and [{paths[i]}]({len(columns[i])}) the number of parsing records "
                            "is inconsistent.")
    return [{n: (None if c[j] is None else java_text(c[j])) for n, c in zip(names, columns, strict=True)}
            for j in range(len(columns[0]) if columns else 0)]


def extract(plugin: Mapping[str, Any], text: str) -> Any:
    """The JSON the deserializer gets: the content_field selection, json_field rows, or the body."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise JobFailed(f"ErrorCode:[COMMON-03] json parse error: {exc}") from None
    if plugin.get("content_field"):
        return json_path(doc, str(plugin["content_field"]))
    if plugin.get("json_field"):
        fields = dict(plugin["json_field"])
        return _flip([json_path(doc, str(p)) for p in fields.values()], list(fields), [str(p) for p in fields.values()])
    return doc


def _number_text(node: Any) -> str:
    """JsonNode.asText() of a scalar."""
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, float):
        return java_double(node)
    return str(node)


def _convert(node: Any, kind: str, name: str) -> Any:
    if kind == "string":
        if isinstance(node, (dict, list)):
            return json.dumps(node, separators=(",", ":"), ensure_ascii=False)
        return _number_text(node)
    text = _number_text(node).strip() if not isinstance(node, (dict, list)) else json.dumps(node)
    try:
        if kind in ("int", "bigint", "tinyint", "smallint"):
            if isinstance(node, int) and not isinstance(node, bool):
                return node
            if not re.fullmatch(r"[+-]?\d+", text):
                raise ValueError(f'For input string: "{text}"')
            return int(text)
        if kind in ("double", "float"):
            return node if isinstance(node, float) else java_parse_double(text)
        if kind == "boolean":
            return node if isinstance(node, bool) else text.lower() == "true"
    except ValueError as exc:
        raise JobFailed(f"ErrorCode:[COMMON-03] json convert field {name} error: {exc}") from None
    raise JobFailed(f"fake engine: schema type {kind!r} of field {name!r} is not emulated")


_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)")


def java_parse_double(text: str) -> float:
    """Double.parseDouble: leading/trailing whitespace trimmed, Java's grammar (no `_`, no `inf`)."""
    t = text.strip(" \t\n\r\x0b\x0c\x00")
    if not _JAVA_DOUBLE.fullmatch(t):
        raise ValueError(f'For input string: "{text}"')
    t = t.rstrip("fFdD") if not t.endswith(("NaN", "Infinity")) else t
    return float(t.replace("Infinity", "inf"))


def rows_of(data: Any, fields: Mapping[str, str]) -> list[dict[str, Any]]:
    """JsonDeserializationSchema.collect: an array gives one row per element, anything else one row."""
    items = data if isinstance(data, list) else [data]
    rows = []
    for item in items:
        if item is None:
            raise JobFailed("ErrorCode:[COMMON-03] a null row cannot be collected")
        row = {}
        for name, kind in fields.items():
            node = item.get(name) if isinstance(item, dict) else None
            row[name] = None if node is None else _convert(node, str(kind).lower(), name)
        rows.append(row)
    return rows


def size_of(data: Any) -> int:
    """JsonNode.size(): elements of an array, keys of an object, 0 for a scalar."""
    return len(data) if isinstance(data, (list, dict)) else 0


def read(client: httpx.Client, plugin: Mapping[str, Any], version: Version, log: Log,
         should_stop: Callable[[], bool]) -> tuple[list[dict[str, Any]], int]:
    """Every row one Http source emits (all pages), and the response bytes received."""
    fields = dict((plugin.get("schema") or {}).get("fields") or {})
    if not fields:
        raise JobFailed("fake engine: an Http source without schema.fields emits raw text; not emulated")
    paging = plugin.get("pageing")
    rows: list[dict[str, Any]] = []
    received = 0

    def poll(params: Mapping[str, str] | None) -> Any:
        nonlocal received
        resp = send(client, plugin, version, log, params)
        received += len(resp.content)
        if not resp.text:
            return None
        lines = resp.text.splitlines() if plugin.get("enable_multi_lines") else [resp.text]
        last = None
        for line in lines:
            last = extract(plugin, line)
            rows.extend(rows_of(last, fields))
        return last

    if not isinstance(paging, Mapping):
        poll(None)
        return rows, received
    field = str(paging.get("page_field") or "page")
    page = int(paging.get("start_page_number") or 1)
    total = int(paging.get("total_page_size") or 0)
    batch = int(paging.get("batch_size") or 100)
    base = config_string_map(plugin.get("params"))
    for _ in range(10_000):
        if should_stop():
            return rows, received
        data = poll(java_hashmap_order([*base.items(), (field, str(page))]))
        done = page >= total if total > 0 else (data is not None and size_of(data) < batch)
        if done:
            return rows, received
        page += 1
        time.sleep(0.01)
    raise JobFailed("fake engine: more than 10000 pages; SeaTunnel would keep polling")
