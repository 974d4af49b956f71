"""Prometheus text exposition of the fleet, and a /metrics endpoint (docs/operations.md#metrics).

The text is written here (format 0.0.4) so the exporter needs no client library; tests parse it
with prometheus_client's parser. Every figure is read from the state at scrape time.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aurumplan.catalog import Catalog
from aurumplan.errors import AurumError
from aurumplan.observe.fleet import FIGURES, OpFigures, daily_cap, fleet, quota_used
from aurumplan.state import SqlStateStore
from aurumplan.state.models import ACTIVE_STATUSES, OP_STATUSES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATUSES = (*sorted(OP_STATUSES), "interrupted")
DURATION_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0)
COUNTER_HELP = {
    "requests": "API requests sent (retries included)",
    "records": "records loaded",
    "bytes": "response bytes received",
    "throttles": "responses that throttled (HTTP 429 and the like)",
    "retries": "requests sent again after a failure",
}

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v: float) -> str:
    if v == float("inf"):
        return "+Inf"
    return repr(int(v)) if float(v).is_integer() else repr(float(v))


class Exposition:
    """Metric families in order, each with HELP and TYPE lines, rendered as exposition text."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: list[tuple[str, Labels, float]]) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for sample, labels, value in samples:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            self._lines.append(f"{sample}{{{inner}}} {_num(value)}" if inner else f"{sample} {_num(value)}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _histogram(name: str, groups: dict[Labels, list[float]]) -> list[tuple[str, Labels, float]]:
    out: list[tuple[str, Labels, float]] = []
    for labels, values in sorted(groups.items()):
        for le in (*DURATION_BUCKETS, float("inf")):
            out.append((f"{name}_bucket", (*labels, ("le", _num(le))), sum(1 for v in values if v <= le)))
        out.append((f"{name}_sum", labels, round(sum(values), 3)))
        out.append((f"{name}_count", labels, len(values)))
    return out


def resident_memory_bytes() -> int | None:
    """This process's resident memory (Linux /proc), else its peak from getrusage, else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):
        return None


def render(ops: list[OpFigures], leases: dict[str, int], quota: dict[str, tuple[int, int | None]],
           newest: dict[tuple[str, str], int] | None = None, now: float | None = None,
           memory: int | None = None) -> str:
    """The exposition text for these operations, live leases per source, (used, daily cap) per source,
    the newest committed period per (source, dataset), and the serving process's memory when given."""
    at = time.time() if now is None else now
    ex = Exposition()
    ex.family("aurumplan_up", "gauge", "1 when the state store answered this scrape", [("aurumplan_up", (), 1)])
    pairs = sorted({(o.kind, o.source) for o in ops})
    by_status: dict[tuple[str, str, str], int] = defaultdict(int)
    for o in ops:
        by_status[(o.kind, o.source, o.status)] += 1
    ex.family("aurumplan_operations", "gauge", "operations by kind, source and status (interrupted derived)",
              [("aurumplan_operations", (("kind", k), ("source", s), ("status", st)), by_status[(k, s, st)])
               for k, s in pairs for st in STATUSES])
    active = {*ACTIVE_STATUSES, "interrupted"}
    ex.family("aurumplan_active_operations", "gauge", "planned, running, paused or interrupted operations",
              [("aurumplan_active_operations", (("kind", k), ("source", s)),
                sum(by_status[(k, s, st)] for st in active)) for k, s in pairs])
    outcomes: dict[tuple[str, str, str], int] = defaultdict(int)
    for o in ops:
        for outcome, n in o.outcomes.items():
            outcomes[(o.kind, o.source, outcome)] += n
        unrecorded = o.requests - sum(o.outcomes.values())
        if unrecorded > 0:  # sent by an engine that does not report outcomes, or before they were recorded
            outcomes[(o.kind, o.source, "unrecorded")] += unrecorded
    ex.family("aurumplan_requests_total", "counter", f"{COUNTER_HELP['requests']} by outcome: ok, throttled, "
              "retried (failed and sent again), failed (given up or permanent); summed over every operation's runs",
              [("aurumplan_requests_total", (("kind", k), ("source", s), ("outcome", out)), n)
               for (k, s, out), n in sorted(outcomes.items())])
    for fig in [f for f in (*FIGURES, "failures") if f != "requests"]:
        name = f"aurumplan_{fig}_total"
        help_text = COUNTER_HELP.get(fig, "failed nodes reported by operations")
        ex.family(name, "counter", f"{help_text}, summed over every operation's runs",
                  [(name, (("kind", k), ("source", s)),
                    sum(getattr(o, fig) for o in ops if (o.kind, o.source) == (k, s))) for k, s in pairs])
    ended: dict[Labels, list[float]] = defaultdict(list)
    for o in ops:
        if o.status not in active:
            ended[(("kind", o.kind), ("source", o.source))].append(o.duration_seconds)
    ex.family("aurumplan_operation_duration_seconds", "histogram", "wall time of ended operations, every run summed",
              _histogram("aurumplan_operation_duration_seconds", ended))
    ex.family("aurumplan_leases_held", "gauge", "live leases on series ranges",
              [("aurumplan_leases_held", (("source", s),), n) for s, n in sorted(leases.items())])
    ex.family("aurumplan_quota_used_today", "gauge", "requests in the shared quota log over the last 24 hours",
              [("aurumplan_quota_used_today", (("source", s),), used) for s, (used, _) in sorted(quota.items())])
    ex.family("aurumplan_quota_daily_limit", "gauge", "requests the source's quota allows per day",
              [("aurumplan_quota_daily_limit", (("source", s),), cap)
               for s, (_, cap) in sorted(quota.items()) if cap is not None])
    ex.family("aurumplan_dataset_freshness_seconds", "gauge",
              "seconds from the end of the newest committed period of a dataset to now",
              [("aurumplan_dataset_freshness_seconds", (("source", s), ("dataset", d)), round(at - end, 3))
               for (s, d), end in sorted((newest or {}).items())])
    if memory is not None:
        ex.family("process_resident_memory_bytes", "gauge", "resident memory of the process serving /metrics",
                  [("process_resident_memory_bytes", (), memory)])
    return ex.text()


def collect(store: SqlStateStore, catalog: Catalog, now: float | None = None, process: bool = False) -> str:
    """Read the state and render the exposition text; process adds the serving process's memory."""
    at = time.time() if now is None else now
    ops = fleet(store, catalog, at)
    leases: dict[str, int] = {s: 0 for s in catalog.sources}
    for lease in store.leases(active_only=True, now=at):
        leases[lease.source] = leases.get(lease.source, 0) + 1
    quota = {name: (quota_used(store, name, now=at), daily_cap(src.quota)) for name, src in catalog.sources.items()}
    return render(ops, leases, quota, store.newest_periods(), at, resident_memory_bytes() if process else None)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._send(404, b"only /metrics is served\n")
            return
        try:
            body = self.server.render().encode()
        except Exception as exc:
            self._send(500, f"aurumplan_up 0\n# scrape failed: {type(exc).__name__}\n".encode())
            return
        self._send(200, body, CONTENT_TYPE)

    def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not logged."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    render: Callable[[], str]


@contextlib.contextmanager
def serving(render_text: Callable[[], str], port: int, host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """Serve GET /metrics on host:port in a background thread while the block runs; yields (host, port)."""
    try:
        httpd = _Server((host, port), _Handler)
    except OSError as exc:
        raise AurumError(f"cannot serve /metrics on {host}:{port}: {exc.strerror or exc}") from None
    httpd.render = render_text
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="aurumplan-metrics",
                              daemon=True)
    thread.start()
    try:
        yield host, int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
