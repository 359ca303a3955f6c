"""Fixtures: the stores the contract suite runs against, and the backends
(SQLite in memory, a SQLite file, PostgreSQL) the log's tests run against."""

from __future__ import annotations

import pytest
from helpers import STORES, make_store
from pg import BACKENDS, start, target_for


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    """Each SessionStore implementation, fresh."""
    s = make_store(request.param, tmp_path, request)
    yield s
    if hasattr(s, "close"):
        s.close()


@pytest.fixture(scope="session")
def pg_cluster():
    """One PostgreSQL server for the whole test session (see tests/pg.py)."""
    cluster = start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A URL on a fresh, empty schema of the test PostgreSQL."""
    return pg_cluster.new_schema()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """What to open a log or store on, once per backend: ":memory:", a
    SQLite file path, or a PostgreSQL URL on a fresh schema."""
    return target_for(request.param, tmp_path, request)


@pytest.fixture(params=["sqlite-file", "postgres"])
def target(request, tmp_path):
    """A database several stores and processes can open, on each backend: a
    SQLite file's path, or a PostgreSQL URL naming a fresh schema."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return str(tmp_path / "target.db")
