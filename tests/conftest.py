"""Project-wide fixtures: `db_url` runs a test on SQLite and on PostgreSQL (tests/state/dburl.py)."""

from tests.state.dburl import db_url, pytest_collection_modifyitems, pytest_terminal_summary

__all__ = ["db_url", "pytest_collection_modifyitems", "pytest_terminal_summary"]
