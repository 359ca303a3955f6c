"""Fixtures of the framework adapter tests."""

from __future__ import annotations

import pytest

from projections import EventSourcedSessionStore


@pytest.fixture
def made_target(target):
    """The test's `target` (a SQLite file, PostgreSQL, an erasable file),
    made as a user makes it: an erasable file erasable, so an adapter that
    opens it by path finds it so."""
    EventSourcedSessionStore(target, erasable=target.erasable).close()
    return target
