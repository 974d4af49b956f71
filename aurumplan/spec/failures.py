"""Failure logs: one JSON object per line for each request apply gave up on.

A Reprocess with `failedRecords: FILE` re-runs exactly these requests, so the log is a user
file like a spec: every bad line is reported as `FILE:LINE:COL: message`, all at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aurumplan.errors import Diagnostic, SpecError
from aurumplan.intervals import fmt_ts, parse_ts


class FailedRecord(BaseModel):
    """One failed request: which operation, what it asked for, why it failed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    operation_id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    series: tuple[str, ...] = ()
    interval: tuple[int, int] = Field(description="half-open UTC epoch seconds; ISO strings in the file")
    request: dict[str, Any] = Field(default_factory=dict)
    error: str = ""
    attempts: int = Field(default=1, ge=0)
    at: str | None = None

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> Any:
        if isinstance(v, list | tuple) and len(v) == 2 and all(isinstance(x, str) for x in v):
            try:
                return (parse_ts(v[0]), parse_ts(v[1]))
            except ValueError as exc:
                raise ValueError(f"interval: {exc}; use [\"2024-01-03T00:00Z\", \"2024-01-03T06:00Z\"]") from None
        if isinstance(v, list | tuple) and len(v) == 2:
            return tuple(v)
        raise ValueError("interval must be [start, end] as ISO UTC datetimes")

    @field_validator("interval")
    @classmethod
    def _ordered(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[1] <= v[0]:
            raise ValueError("interval end must be after its start")
        return v

    def to_json_line(self) -> str:
        """The line form read_failure_log reads back (interval as ISO UTC)."""
        data = self.model_dump(mode="json")
        data["interval"] = [fmt_ts(self.interval[0]), fmt_ts(self.interval[1])]
        return json.dumps(data, sort_keys=True)


def read_failure_log(path: str | Path) -> list[FailedRecord]:
    """Every record of a JSONL failure log; SpecError lists each bad line with its number."""
    return [record for _, record in numbered_failures(path)]


def numbered_failures(path: str | Path) -> list[tuple[int, FailedRecord]]:
    """(line number, record) for every record, so later checks can point at the line too."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Diagnostic(str(path), 1, 1, f"cannot read failure log: {exc}")]) from None
    records: list[tuple[int, FailedRecord]] = []
    problems: list[Diagnostic] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Diagnostic(str(path), lineno, exc.colno, f"not a JSON object: {exc.msg}"))
            continue
        if not isinstance(data, dict):
            problems.append(Diagnostic(str(path), lineno, 1, "each line must be one JSON object"))
            continue
        try:
            records.append((lineno, FailedRecord.model_validate(data)))
        except ValidationError as err:
            for e in err.errors():
                where = ".".join(str(p) for p in e["loc"]) or "record"
                msg = e["msg"].removeprefix("Value error, ")
                problems.append(Diagnostic(str(path), lineno, 1, f"{where}: {msg}"))
    if problems:
        raise SpecError(problems)
    return records
