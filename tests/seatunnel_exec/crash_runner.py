"""Runs one seatunnel-cli extract in its own process, so that a test can kill it with -9 mid-job.

    python -m tests.seatunnel_exec.crash_runner DB_URL SEATUNNEL_HOME EIA_BASE_URL ID_FILE WORK_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from aurumplan.catalog import load_catalog
from aurumplan.executors.seatunnel.factory import make_seatunnel_executor
from aurumplan.warehouse import open_warehouse
from tests.seatunnel_exec.conftest import build_job, make_config


def main(db_url: str, home: str, base_url: str, id_file: str, work: str) -> None:
    source = load_catalog().source("eia").model_copy(update={"base_url": base_url})
    warehouse = open_warehouse(db_url)
    job = build_job(source, warehouse, record=Path(id_file).write_text)
    config = make_config(Path(work), db_url, "seatunnel-cli", home=home, deploy_mode="cluster")
    make_seatunnel_executor(config, warehouse, None).run_extract(job)


if __name__ == "__main__":
    main(*sys.argv[1:6])
