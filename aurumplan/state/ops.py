"""Operations, their node checkpoints and quality results: the audit trail of every apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aurumplan.errors import OperationError
from aurumplan.state import reads
from aurumplan.state.models import (
    ACTIVE_STATUSES,
    CHECKPOINT_FIELDS,
    CHECKPOINT_STATUSES,
    OP_STATUSES,
    Checkpoint,
    Operation,
    OperationEvent,
    QualityResult,
    RunRecord,
    check_operation_id,
)
from aurumplan.state.schema import checkpoints as cp
from aurumplan.state.schema import operation_events as ev
from aurumplan.state.schema import operations as ops
from aurumplan.state.schema import quality_results as qr
from aurumplan.state.sqlbase import SqlBase, dumps, loads, text_query

_OP_FIELDS = frozenset(("kind", "source", "reason", "owner", "labels", "spec", "spec_sha256", "plan",
                        "host", "pid", "parent_id"))


def _status(value: str, allowed: frozenset[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} status {value!r} is not one of {', '.join(sorted(allowed))}")
    return value


_op = reads.operation


def _cp(row: Mapping[Any, Any]) -> Checkpoint:
    data = dict(row)
    data["detail"] = loads(data["detail"])
    return Checkpoint(**data)


class OperationsMixin(SqlBase):
    """Operation, checkpoint and quality-result records of SqlStateStore."""

    def create_operation(self, op_id: str, kind: str, source: str, *, status: str = "planned",
                         reason: str | None = None, owner: str | None = None,
                         labels: Mapping[str, Any] | None = None, spec: str | None = None,
                         spec_sha256: str | None = None, plan: str | None = None,
                         host: str | None = None, pid: int | None = None,
                         summary: Mapping[str, Any] | None = None, parent_id: str | None = None,
                         now: float | None = None) -> Operation:
        check_operation_id(op_id)
        at = self._now(now)
        row = {"id": op_id, "kind": kind, "source": source, "status": _status(status, OP_STATUSES, "operation"),
               "reason": reason, "owner": owner, "labels": dumps(labels), "spec": spec,
               "spec_sha256": spec_sha256, "plan": plan, "created_at": at, "updated_at": at, "host": host,
               "pid": pid, "summary": dumps(summary), "parent_id": parent_id}
        with self._write() as conn:
            if self._op_row(conn, op_id) is not None:
                raise OperationError(f"operation {op_id} already exists")
            conn.execute(ops.insert().values(**row))
            self._touch(conn)
        return _op(row)

    @staticmethod
    def _op_row(conn: Connection, op_id: str) -> Mapping[Any, Any] | None:
        return conn.execute(sa.select(ops).where(ops.c.id == op_id)).mappings().first()

    def find_operation(self, op_id: str) -> Operation | None:
        check_operation_id(op_id)
        with self._read() as conn:
            row = self._op_row(conn, op_id)
        return None if row is None else _op(row)

    def get_operation(self, op_id: str) -> Operation:
        op = self.find_operation(op_id)
        if op is None:
            raise OperationError(f"no operation {op_id}", hint="`aurumplan ops list` shows them")
        return op

    def list_operations(self, active_only: bool = False) -> list[Operation]:
        q = sa.select(ops).order_by(ops.c.created_at, ops.c.id)
        if active_only:
            q = q.where(ops.c.status.in_(sorted(ACTIVE_STATUSES)))
        with self._read() as conn:
            return [_op(r) for r in conn.execute(q).mappings()]

    def attempts_of_spec(self, spec_sha256: str) -> list[Operation]:
        """Operations applied from this spec text, oldest first, without their (large) plans."""
        with self._read() as conn:
            return reads.attempts_of_spec(text_query(conn), spec_sha256)

    def update_operation(self, op_id: str, *, status: str | None = None,
                         summary: Mapping[str, Any] | None = None, now: float | None = None,
                         expect_status: str | None = None, event: tuple[str, Mapping[str, Any]] | None = None,
                         **fields: Any) -> Operation:
        """Change columns; with expect_status only while the status is still that (else OperationError);
        `event` (kind, detail) goes to the audit trail in the same transaction, so a reader never sees
        the new status without the event that explains it."""
        unknown = set(fields) - _OP_FIELDS
        if unknown:
            raise TypeError(f"update_operation: unknown fields {sorted(unknown)}")
        values: dict[str, Any] = dict(fields)
        if "labels" in values:
            values["labels"] = dumps(values["labels"])
        if status is not None:
            values["status"] = _status(status, OP_STATUSES, "operation")
        if summary is not None:
            values["summary"] = dumps(summary)
        values["updated_at"] = self._now(now)
        cond = ops.c.id == op_id
        if expect_status is not None:
            cond = cond & (ops.c.status == expect_status)
        with self._write() as conn:
            done = conn.execute(ops.update().where(cond).values(**values)).rowcount
            if not done:
                row = self._op_row(conn, op_id)
                if row is None:
                    raise OperationError(f"no operation {op_id}")
                raise OperationError(f"operation {op_id} is now {row['status']}, no longer {expect_status}")
            if event is not None:
                conn.execute(ev.insert().values(operation_id=op_id, at=values["updated_at"], kind=event[0],
                                                detail=dumps(dict(event[1]))))
            self._touch(conn)
            row = self._op_row(conn, op_id)
        assert row is not None
        return _op(row)

    def recent_runs(self, source: str, limit: int = 5) -> list[RunRecord]:
        """state/reads.py recent_runs, in one read transaction."""
        with self._read() as conn:
            return reads.recent_runs(text_query(conn), source, limit)

    # -- checkpoints -------------------------------------------------------------------------

    def upsert_checkpoint(self, op_id: str, node_id: str, **fields: Any) -> Checkpoint:
        unknown = set(fields) - CHECKPOINT_FIELDS
        if unknown:
            raise TypeError(f"upsert_checkpoint: unknown fields {sorted(unknown)}")
        if "status" in fields:
            _status(fields["status"], CHECKPOINT_STATUSES, "checkpoint")
        values = dict(fields)
        if "detail" in values:
            values["detail"] = dumps(values["detail"])
        key = (cp.c.operation_id == op_id) & (cp.c.node_id == node_id)
        with self._write() as conn:  # an update first: a node's checkpoint is written ~3 times, created once
            updated = bool(values) and conn.execute(cp.update().where(key).values(**values)).rowcount > 0
            if not updated and conn.execute(sa.select(cp.c.node_id).where(key)).first() is None:
                fresh = Checkpoint(op_id, node_id)
                row = {k: getattr(fresh, k) for k in CHECKPOINT_FIELDS}
                row["detail"] = dumps(fresh.detail)
                row.update(values, operation_id=op_id, node_id=node_id)
                conn.execute(cp.insert().values(**row))
            self._touch(conn)
            stored = conn.execute(sa.select(cp).where(key)).mappings().one()
        return _cp(stored)

    def checkpoints(self, op_id: str) -> list[Checkpoint]:
        q = sa.select(cp).where(cp.c.operation_id == op_id).order_by(cp.c.node_id)
        with self._read() as conn:
            return [_cp(r) for r in conn.execute(q).mappings()]

    def reset_checkpoints(self, op_id: str, node_ids: list[str], **fields: Any) -> None:
        """Set the same columns on several checkpoints in one transaction (a resume's reset)."""
        if not node_ids:
            return
        if "detail" in fields:
            fields["detail"] = dumps(fields["detail"])
        with self._write() as conn:
            conn.execute(cp.update().where(cp.c.operation_id == op_id, cp.c.node_id.in_(node_ids)).values(**fields))
            self._touch(conn)

    # -- audit trail -------------------------------------------------------------------------

    def add_event(self, op_id: str, kind: str, detail: Mapping[str, Any] | None = None,
                  now: float | None = None) -> OperationEvent:
        """Append to the operation's audit trail (status changes, overrides, attempts, unlocks)."""
        event = OperationEvent(op_id, self._now(now), kind, dict(detail or {}))
        with self._write() as conn:
            conn.execute(ev.insert().values(operation_id=op_id, at=event.at, kind=kind, detail=dumps(event.detail)))
        return event

    def events(self, op_id: str) -> list[OperationEvent]:
        q = sa.select(ev).where(ev.c.operation_id == op_id).order_by(ev.c.id)
        with self._read() as conn:
            return [OperationEvent(r.operation_id, r.at, r.kind, loads(r.detail)) for r in conn.execute(q)]

    # -- quality -----------------------------------------------------------------------------

    def add_quality_result(self, op_id: str, dataset: str, score: float, passed: bool, *,
                           node_id: str | None = None, detail: Mapping[str, Any] | None = None,
                           now: float | None = None) -> QualityResult:
        result = QualityResult(op_id, dataset, node_id, float(score), bool(passed), dict(detail or {}),
                               self._now(now))
        with self._write() as conn:
            conn.execute(qr.insert().values(
                operation_id=op_id, dataset=dataset, node_id=node_id, score=result.score,
                passed=result.passed, detail=dumps(result.detail), created_at=result.created_at))
            self._touch(conn)
        return result

    def quality_results(self, op_id: str) -> list[QualityResult]:
        q = (sa.select(qr.c.operation_id, qr.c.dataset, qr.c.node_id, qr.c.score, qr.c.passed, qr.c.detail,
                       qr.c.created_at).where(qr.c.operation_id == op_id).order_by(qr.c.id))
        with self._read() as conn:
            return [QualityResult(r.operation_id, r.dataset, r.node_id, r.score, bool(r.passed),
                                  loads(r.detail), r.created_at) for r in conn.execute(q)]
