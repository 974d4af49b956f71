"""The failure log: one JSON line per failed request, the input of a Reprocess `failedRecords`."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from aurumplan.intervals import fmt_ts


class FailureLog:
    """Appends failed requests (never their keys) to `<logs>/failed_records_<op>.jsonl`."""

    def __init__(self, folder: Path, operation_id: str) -> None:
        self.path = folder / f"failed_records_{operation_id}.jsonl"
        self.operation_id = operation_id
        self._lock = threading.Lock()

    def add(self, *, source: str, dataset: str, series: list[str], start: int, end: int,
            request: dict[str, Any] | None, error: str, attempts: int) -> None:
        line = {"operation_id": self.operation_id, "source": source, "dataset": dataset, "series": series,
                "interval": [fmt_ts(start), fmt_ts(end)], "request": request or {}, "error": error,
                "attempts": attempts, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as fh:
                fh.write(json.dumps(line, sort_keys=True) + "\n")
