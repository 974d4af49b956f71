"""Pages decoded and turned into warehouse rows in worker processes: the local executor's per-record work.

Decoding a page, parsing its records and building their column values and checksums is Python
under one GIL: with three workers fetching, one core did all of it while the other waited
(bench/RESULTS.md, issue 18). With a pool, the thread that fetched a page sends its body to a
worker process, which runs the driver's own parser and the warehouse's own row building
(warehouse/rows.row_values) and sends back what the INSERT binds; the thread writes it.

A worker holds no connection and writes nothing, so a kill -9 at any moment leaves what it always
left. Anything but a page that parses (an HTTP error, an error in the body, a worker that died)
is parsed again in the fetching thread, so errors, retries and messages are exactly those of the
in-process path.
docs/architecture.md, "Staging".
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from http import HTTPStatus
from multiprocessing.connection import Connection
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from aurumplan.catalog import DatasetDef, SourceDef
from aurumplan.intervals import IntervalSet
from aurumplan.sources.base import Call, Driver, Page, Record, RequestSpec
from aurumplan.sources.registry import get_driver
from aurumplan.warehouse.rows import row_values

if TYPE_CHECKING:  # a worker never imports httpx (~0.09 s): it answers parsers with _Answer
    import httpx

_SERIES, _PERIOD = itemgetter(0), itemgetter(1)

AUTO_MIN_RECORDS = 50_000
"""An operation planning fewer records runs without a pool: starting one (~0.2 s of CPU) would cost
more than it saves."""


def auto_workers(planned_records: int, configured: int | None) -> int:
    """Parse workers for an operation: the configured number, else one per core beyond the first
    (the fetching threads keep one) when the operation is large enough to gain from them."""
    if configured is not None:
        return configured
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, cores - 1) if planned_records >= AUTO_MIN_RECORDS else 0


@dataclass(frozen=True)
class Keep:
    """Which of a page's records the node stages: its series, inside its span and, for a Backfill
    bridging loaded gaps, inside its targets."""

    series: frozenset[str]
    start: int
    end: int
    targets: tuple[tuple[int, int], ...] = ()

    def records(self, records: list[Record]) -> list[Record]:
        """The kept records in key order (series, then period).

        An API returns a page by period, its series interleaved (EIA: sorted by period); written in
        that order, each row lands in another part of the observations key, and SQLite inserted
        ~30% slower than the same rows in key order (bench/RESULTS.md, issue 18). Two stable sorts,
        by period then by series, give that order (ties keep the API's) at a third of the cost of one
        sort on (series, period) tuples: ~0.06 us a row, in the parse worker where there is one.
        """
        wanted, lo, hi = self.series, self.start, self.end
        keep = IntervalSet(self.targets).contains if self.targets else None
        kept = [r for r in records if r[0] in wanted and lo <= r[1] < hi and (keep is None or keep(r[1]))]
        kept.sort(key=_PERIOD)
        kept.sort(key=_SERIES)
        return kept


@dataclass(frozen=True)
class Staging:
    """What turns one node's pages into rows: the same for each of its pages."""

    driver: str
    source: SourceDef
    dataset: DatasetDef
    request: RequestSpec
    keep: Keep
    sqlite: bool

    def values(self, records: list[Record]) -> Prepared:
        """The kept records as column values with each row's hash (rows.row_values)."""
        hashes: list[int] = []
        flat, _ = row_values(self.source.name, self.dataset.name, self.keep.records(records), self.sqlite, hashes)
        return Prepared(flat, hashes)


@dataclass
class Prepared:
    """Rows ready to insert: ROW_WIDTH column values per row, flattened, and each row's checksum hash."""

    flat: list[Any] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)


@dataclass
class PreparedPage(Page):
    """A page whose records a worker already turned into rows (its `records` stay empty)."""

    prepared: Prepared = field(default_factory=Prepared)


class _Headers(dict[str, str]):
    """Response headers by name, case-insensitively (what parsers read of httpx.Headers)."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        super().__init__((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


@dataclass
class _Answer:
    """The part of an httpx.Response the drivers' parsers read, without importing httpx in a worker.
    A parser reaching for anything else fails here, and the fetching thread parses that page itself."""

    status_code: int
    headers: _Headers
    content: bytes
    request: Any

    def read(self) -> bytes:
        return self.content

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def reason_phrase(self) -> str:
        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""


@dataclass(frozen=True)
class _Sent:
    method: str
    url: str


_STAGINGS: dict[bytes, Staging] = {}


def _prepare(staging: bytes, call: Call, status: int, headers: list[tuple[bytes, bytes]],
             content: bytes) -> PreparedPage:
    """In a worker: parse the page with the node's driver and build its rows."""
    st = _STAGINGS.get(staging)
    if st is None:
        if len(_STAGINGS) > 64:
            _STAGINGS.clear()
        st = _STAGINGS[staging] = pickle.loads(staging)  # our own bytes, from the apply process
    driver: Driver = get_driver(st.driver)
    answer = _Answer(status, _Headers(headers), content, _Sent(call.method, call.url))
    page = driver.parse(st.source, st.dataset, st.request, call, answer)  # type: ignore[arg-type]
    return PreparedPage([], page.next_call, page.total, page.warnings, prepared=st.values(page.records))


def serve(read_fd: int, write_fd: int, handle: Callable[..., Any] = _prepare) -> None:
    """A worker's loop (executors/parseworker.py, apply/judgeworker.py): a request in, `handle`'s answer
    or None out, until EOF."""
    inp, out = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    out.send_bytes(b"ready")
    while True:
        try:
            request = inp.recv_bytes()
        except (EOFError, OSError):  # the apply closed the pipe or died: nothing is left to do
            return
        try:
            answer = handle(*pickle.loads(request))
        except Exception:  # the apply does this work itself and raises the error there
            answer = None
        out.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


class WorkerPool:
    """Worker processes, each fed by one thread of the apply: `python -m MODULE READ_FD WRITE_FD`.

    The workers are plain `python -m` processes talking over two pipes: unlike multiprocessing's spawn
    and fork server, that never imports the program that runs the apply (a script without a `__main__`
    guard, a scheduler's task), and unlike fork it copies none of the apply's threads or locks. A worker
    whose pipe closes (the apply ended or was killed) exits.
    """

    def __init__(self, workers: int, module: str = "aurumplan.executors.parseworker", name: str = "parse",
                 nice: int = 0) -> None:
        self._module = module
        self._nice = nice  # how far below the apply the workers run (their imports included)
        self._jobs: queue.SimpleQueue[tuple[bytes, Future[bytes]] | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._live = workers
        self._lock = threading.Lock()
        self.processes: list[subprocess.Popen[bytes]] = []
        # Starting a worker waits for its imports (~0.3 s): the feeding threads do that while the apply
        # goes on (with a parse pool: sets up and fetches its first pages, parsed in-process meanwhile).
        self._threads = [threading.Thread(target=self._feed, name=f"{name}-worker-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    @property
    def broken(self) -> bool:
        """No worker is left (none could start, or all died): every page is parsed in-process."""
        return self._live == 0

    def wait_ready(self, timeout: float) -> bool:
        """Whether a worker is ready (or none is left) within `timeout` seconds."""
        return self._ready.wait(timeout)

    def _feed(self) -> None:
        """Start one worker and hand it pages until close() or its death."""
        from_parent, to_child = os.pipe()  # (read end, write end)
        from_child, to_parent = os.pipe()
        proc: subprocess.Popen[bytes] | None = None
        try:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            proc = subprocess.Popen([sys.executable, "-m", self._module, str(from_parent),
                                     str(to_parent)], pass_fds=(from_parent, to_parent), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            if self._nice and hasattr(os, "setpriority"):  # POSIX; the child is still importing
                os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + self._nice))
        except (OSError, ValueError):  # no interpreter to start, or no fd passing here: pages parse in-process
            pass
        finally:
            os.close(from_parent)
            os.close(to_parent)
        send, recv = Connection(to_child, readable=False), Connection(from_child, writable=False)
        try:
            if proc is not None:
                with self._lock:
                    self.processes.append(proc)
            if proc is not None and recv.recv_bytes() == b"ready":
                self._ready.set()
                while (job := self._jobs.get()) is not None:
                    request, result = job
                    try:
                        send.send_bytes(request)
                        result.set_result(recv.recv_bytes())
                    except (EOFError, OSError) as exc:  # the worker died (killed, out of memory)
                        result.set_exception(exc)
                        break
        except (EOFError, OSError):
            pass
        finally:
            send.close()
            recv.close()
            if proc is not None:
                proc.wait()
            with self._lock:
                self._live -= 1
                if self._live == 0:
                    self._ready.set()

    @property
    def answering(self) -> bool:
        """Whether a worker is ready to take a request: check before building a costly one."""
        return self._ready.is_set() and not self.broken

    def ask(self, request: bytes) -> Any:
        """A worker's answer to `request` (pickled arguments of its handler), or None: no worker ready yet
        or none left, the worker died, or the handler raised (the caller then does the work itself)."""
        if not self.answering:
            return None
        result: Future[bytes] = Future()
        self._jobs.put((request, result))
        while True:
            try:
                return pickle.loads(result.result(timeout=1.0))
            except FuturesTimeout:
                if self.broken:  # every worker is gone: nobody will answer
                    return None
            except (EOFError, OSError):
                return None

    def close(self) -> None:
        """Tell the workers to stop; each feeding thread closes its pipes, and reaps its worker as it exits
        (not waited for here: a worker's interpreter takes ~0.2 s to shut down, and it holds nothing)."""
        for _ in self._threads:
            self._jobs.put(None)


class ParsePool(WorkerPool):
    """Parse workers for the local executor's pages (executors/parseworker.py)."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.served = 0
        """Pages a worker turned into rows (the others were parsed in the fetching threads)."""

    @staticmethod
    def staging(st: Staging) -> bytes:
        """A node's staging, pickled once and sent with each of its pages."""
        return pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL)

    def prepare(self, staging: bytes, call: Call, response: httpx.Response) -> PreparedPage | None:
        """The page parsed into rows by a worker; None where the fetching thread must parse it
        itself (not a 200, an error the driver raised, no worker ready yet or none left)."""
        if response.status_code != 200 or not self.answering:  # no ~1 MB body pickled for nobody
            return None
        page: PreparedPage | None = self.ask(pickle.dumps(
            (staging, call, response.status_code, response.headers.raw, response.content),
            protocol=pickle.HIGHEST_PROTOCOL))
        if page is not None:
            with self._lock:
                self.served += 1
        return page
