"""The state as `aurumplan plan` reads it from a SQLite file, on the standard library's sqlite3.

Planning reads watermarks, leases, the spec's earlier attempts and the source's recent runs, and writes
nothing. On the embedded default (a SQLite file) those reads run here, with the same SQL as the store
(state/reads.py), so a plan starts without SQLAlchemy's ~0.12 s of imports (docs/architecture.md,
"Start-up"). `open_lite` answers None whenever the file is not a state these reads can use as it is (a
table missing, a file that is not SQLite): the caller then opens the full store, which creates, refuses
or reports exactly as every other command does.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aurumplan.errors import SchemaVersionError, StateError
from aurumplan.intervals import IntervalMap
from aurumplan.state import reads
from aurumplan.state.models import Freeze, Lease, Operation, RunRecord, SeriesKey, WatermarkRef

_BUSY_TIMEOUT_S = 60.0


class LiteReader:
    """The plan's reads of one SQLite state file, read-only."""

    def __init__(self, url: str, conn: sqlite3.Connection) -> None:
        self.url = url
        self._conn = conn

    def _query(self, sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        try:
            return self._conn.execute(sql, dict(params)).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"cannot use database {self.url}: {exc}") from None

    def watermarks(self, source: str, dataset: str | None = None,
                   series: Iterable[str] | None = None) -> dict[SeriesKey, IntervalMap[WatermarkRef]]:
        return reads.watermarks(self._query, source, dataset, series)

    def leases(self, active_only: bool = True, now: float | None = None) -> list[Lease]:
        return reads.leases(self._query, active_only, time.time() if now is None else float(now))

    def freezes(self, source: str | None = None) -> list[Freeze]:
        return reads.freezes(self._query, source)

    def attempts_of_spec(self, spec_sha256: str) -> list[Operation]:
        return reads.attempts_of_spec(self._query, spec_sha256)

    def recent_runs(self, source: str, limit: int = 5) -> list[RunRecord]:
        return reads.recent_runs(self._query, source, limit)

    def close(self) -> None:
        self._conn.close()


def open_lite(url: str) -> LiteReader | None:
    """A reader of the SQLite state file at `sqlite:///PATH` (no password to hide in such a URL); None
    when it is not one these reads can use as it is. A state newer than this code is refused here, as
    the store refuses it."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or ":memory:" in url:
        return None
    path = Path(url[len(prefix):]).expanduser()
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S,
                               check_same_thread=False)
    except sqlite3.Error:
        return None
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables.issuperset(reads.TABLES):
            conn.close()
            return None
        raw = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(raw[0]) if raw is not None else 0
    except (sqlite3.Error, ValueError):
        conn.close()
        return None
    refusal = reads.schema_version_error(url, version)
    if refusal is not None:
        conn.close()
        raise SchemaVersionError(refusal)
    return LiteReader(url, conn)
