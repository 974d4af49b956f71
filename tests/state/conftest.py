"""Runs this folder's database tests on SQLite and PostgreSQL (see tests/state/dburl.py)."""

from tests.state.dburl import db_url, pytest_collection_modifyitems, pytest_terminal_summary

__all__ = ["db_url", "pytest_collection_modifyitems", "pytest_terminal_summary"]
