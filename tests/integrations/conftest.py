"""Fixtures of the framework adapter tests."""

from __future__ import annotations

import base64

import pytest
from helpers import PG_MASTER_KEY

from projections import EventSourcedSessionStore

ERASABLE = ("sqlite-erasable", "postgres-erasable")


def make(where, monkeypatch) -> None:
    """The database at `where`, made as a user makes it: an erasable one
    erasable, its master key where an adapter opening it by path finds it
    (the key file beside a SQLite file; $SESSIONLOG_MASTER_KEY for PostgreSQL)."""
    if where.kind == "postgres-erasable":
        monkeypatch.setenv("SESSIONLOG_MASTER_KEY", base64.b64encode(PG_MASTER_KEY).decode())
    EventSourcedSessionStore(where, erasable=where.kind in ERASABLE).close()


@pytest.fixture
def made_target(target, monkeypatch):
    """The test's `target` (a SQLite file, PostgreSQL, an erasable file), made
    as a user makes it (see `make`)."""
    make(target, monkeypatch)
    return target


@pytest.fixture
def made_backend(backend, monkeypatch):
    """The test's `backend` (every one, ":memory:" included), made as `made_target`."""
    make(backend, monkeypatch)
    return backend
