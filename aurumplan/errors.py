"""Every error a user can see, with its exit code.

AurumError                      exit 1, one line, never a traceback
 +-- SpecError                  a file is wrong: one or more FILE:LINE:COL diagnostics
 |    +-- ConfigError           ... in aurumplan.yaml
 +-- CatalogError               unknown source / dataset / series
 +-- StateError                 state store unreachable or unusable
 |    +-- SchemaVersionError    the store is newer than this aurumplan
 +-- WarehouseError             warehouse unreachable or unusable
 +-- PlanError                  a plan cannot be built, read or applied
 |    +-- StalePlanError        ranges the plan touches changed since it was made
 +-- LeaseConflictError         another operation holds an overlapping range
 +-- FencedError                a writer lost its lease and may not commit
 +-- OperationError             unknown operation / wrong lifecycle state
 +-- SourceError                an API answered in a way we cannot use
 |    +-- TransientSourceError  worth retrying (5xx, timeouts, malformed body)
 |    |    +-- ThrottledError   429 or the API's own throttle signal (retry_after)
 |    +-- TerminalSourceError   retrying cannot help (bad request, bad key)
 |         +-- SuspendedError   quota exhausted / key suspended: pause, resume later
 +-- ExecutorError              an executor could not run a node
 +-- QualityGateError           staged data failed validation
"""

from __future__ import annotations

from dataclasses import dataclass


class AurumError(Exception):
    """Base of every error that reaches a user as one clean line."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem at a position in a file; str() is the `FILE:LINE:COL: message` form."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class SpecError(AurumError):
    """A spec (or other user file) is invalid; carries every diagnostic, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class ConfigError(SpecError):
    """aurumplan.yaml is invalid."""


class CatalogError(AurumError):
    """A source, dataset or series is not in the catalog."""


class StateError(AurumError):
    """The state store cannot be used."""


class SchemaVersionError(StateError):
    """The store was written by a newer aurumplan."""


class WarehouseError(AurumError):
    """The warehouse cannot be used (unreachable, invalid URL, a failed statement)."""


class PlanError(AurumError):
    """A plan cannot be built, read or applied."""


class StalePlanError(PlanError):
    """Ranges the plan touches changed since it was planned; `changes` says where."""

    def __init__(self, message: str, changes: list[dict[str, object]]) -> None:
        super().__init__(message, hint="re-plan, or `aurumplan plan SPEC --refresh-from PLAN`")
        self.changes = changes


class LeaseConflictError(AurumError):
    """Another live operation holds a lease on an overlapping range."""


class FencedError(AurumError):
    """A writer presented a fencing token older than the current one."""


class OperationError(AurumError):
    """Unknown operation, or a lifecycle command that does not fit its status."""


class SourceError(AurumError):
    """A source API call failed."""


class TransientSourceError(SourceError):
    """Worth retrying: 5xx, timeouts, connection errors, malformed bodies."""


class ThrottledError(TransientSourceError):
    """The API throttled us; retry_after is in seconds when the API said."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TerminalSourceError(SourceError):
    """Retrying cannot help: bad parameters, missing or rejected key."""


class SuspendedError(TerminalSourceError):
    """The API suspended the key or the quota is used up: stop cleanly, resume later."""


class ExecutorError(AurumError):
    """An executor could not run a node."""


class QualityGateError(AurumError):
    """Staged data scored below the validation threshold."""
