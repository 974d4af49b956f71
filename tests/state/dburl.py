"""The `db_url` fixture: every test that takes it runs on SQLite and on PostgreSQL.

SQLite gets a file under tmp_path; PostgreSQL gets a fresh schema per test (search_path in the
URL), dropped afterwards. Without a reachable PostgreSQL the PG cases are deselected, with the
reason printed at the end of the run; with CI set they fail instead, so CI cannot silently
test only SQLite. Wire in with `from tests.state.dburl import *` in a conftest.py.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("AURUMPLAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHOWN_PG_URL = sa.make_url(PG_URL).render_as_string(hide_password=True)
_deselected: list[str] = []


@functools.cache
def pg_unreachable() -> str | None:
    """None if PostgreSQL answers, else why not (one line)."""
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    pg = [it for it in items if it.get_closest_marker("postgres") is not None]
    if not pg or os.environ.get("CI") or pg_unreachable() is None:
        return
    config.hook.pytest_deselected(items=pg)
    items[:] = [it for it in items if it.get_closest_marker("postgres") is None]
    _deselected.append(f"{len(pg)} PostgreSQL tests deselected: {SHOWN_PG_URL} is unreachable "
                       f"({pg_unreachable()}); SQLite cases still ran")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    while _deselected:
        terminalreporter.write_line(_deselected.pop(), yellow=True)


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'test.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, on each backend."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    reason = pg_unreachable()
    if reason is not None:
        pytest.fail(f"PostgreSQL at {SHOWN_PG_URL} is unreachable and CI is set: {reason}", pytrace=False)
    yield from pg_schema_url()


def pg_schema_url() -> Iterator[str]:
    """Create a fresh schema, yield a URL whose connections use it, drop it afterwards."""
    schema = f"t_{uuid.uuid4().hex}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}",
                                                     "application_name": schema})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = :app AND pid <> pg_backend_pid()"), {"app": schema})
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
