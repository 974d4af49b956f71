"""A judge worker: `python -m aurumplan.apply.judgeworker READ_FD WRITE_FD` judges validation chunks.

Judging a chunk early (apply/runner.py, `_judge_early`) reads every staged row of the chunk back and
checks it. In the apply's process that Python work shared one GIL with the fetching threads, the
apply's limit (bench/RESULTS.md, issue 18). When the apply has parse workers, one judge worker does it
with the same function (apply/quality_gate.judge_chunk), on a read transaction of its own: it writes
nothing. A chunk it cannot judge (an error, a worker that died or is still starting) is judged in the
apply's process, as without it. docs/architecture.md, "Staging".

It runs at a lower priority (JUDGE_NICE): while pages are fetched, fetching, parsing and staging are
what the apply waits for, and judging fills the time the cores have left; it catches up when fetching
ends. 1M rows on two cores: fetch + stage and the whole apply both ~5% faster (bench/RESULTS.md).
"""

from __future__ import annotations

import sys

from aurumplan.apply.quality_gate import ChunkResult, Judging, judge_chunk
from aurumplan.executors.parsepool import serve
from aurumplan.plan.model import DataNode
from aurumplan.warehouse import read_connection

JUDGE_NICE = 10
"""How far below the apply's scheduling priority the judge worker runs, its imports included: the apply
sets it as it starts the worker (runner.judge_pool)."""


def judge(url: str, judging: Judging | None, dataset: str, chunk: list[DataNode]) -> ChunkResult | None:
    """The chunk's judgement; with no `judging`, only a first connection to the warehouse (its driver's
    imports and connecting: PostgreSQL ~80 ms), made while pages are still fetched (runner._warm_judge)."""
    with read_connection(url) as conn:
        return None if judging is None else judge_chunk(judging, conn, dataset, chunk)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), judge)
