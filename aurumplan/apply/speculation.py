"""A dataset's commit written while its validation runs, and committed only once the commit node decides.

After an apply's last page, the validate node judges the staged rows (in the judge worker or the apply:
one core) and only then does the commit node switch them (on PostgreSQL the server's work: 0.27 s of
inserting 61,320 keys, bench/RESULTS.md, issue 18), so one of two cores idled through each. On
PostgreSQL the validate node now starts the dataset's commit transaction first, on a thread of its own:
it writes the switch and waits, holding the warehouse's lock, uncommitted and so invisible to every
reader, the validation's included. The commit node then commits it (after saving its record, as before),
or rolls it back and commits in the usual way when what it would commit differs. A failed validation, a
stop or a crash rolls it back: nothing is ever committed that the usual order would not commit.

A Replay's archive is read and written by the commit node while this transaction waits: the read, on
another connection, sees the versions before the switch (it is uncommitted), and the commit node commits
it only after the file is written and its record saved (a Replay of 61,320 rows: the switch's ~1 s of
server work no longer follows the archive's ~0.8 s, bench/RESULTS.md).

Only where nothing else waits on that lock within the apply: one commit node in the plan, no progressive
commits, a commit node without a pending record (a resume commits as before), and not on SQLite (its one
writer would also hold back the state store sharing its file).
docs/architecture.md, "Applying: the commit protocol".
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from aurumplan.warehouse import Warehouse

Exclude = Mapping[str, Mapping[str, list[tuple[int, int]]]]


class SpeculativeCommit:
    """warehouse.commit(ids, ...) written on its own thread, held open until finish() or withdraw()."""

    def __init__(self, warehouse: Warehouse, ids: list[str], fence: tuple[str, int] | None, replace_range: bool,
                 exclude: Exclude) -> None:
        self.args: tuple[Any, ...] = (list(ids), fence, replace_range, exclude)
        self._go: Future[bool] = Future()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speculative-commit")
        self._done = self._pool.submit(warehouse.commit, ids, fence=fence, replace_range=replace_range,
                                       exclude=exclude, ready=self._go.result)

    def matches(self, ids: list[str], fence: tuple[str, int] | None, replace_range: bool, exclude: Exclude) -> bool:
        """Whether it writes exactly what the commit node would commit now."""
        return self.args == (list(ids), fence, replace_range, exclude)

    def finish(self) -> list[str]:
        """Commit it; returns the loads it committed. Raises what the commit raised (as warehouse.commit)."""
        if not self._go.done():
            self._go.set_result(True)
        try:
            return self._done.result()
        finally:
            self._pool.shutdown()

    def withdraw(self) -> None:
        """Roll it back and wait until it is (its failure, if any, is the usual commit's to report)."""
        if not self._go.done():
            self._go.set_result(False)
        try:
            self._done.result()
        except Exception:  # never committed; a commit node that runs meets the cause itself
            pass
        finally:
            self._pool.shutdown()
