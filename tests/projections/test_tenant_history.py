"""A tenant's view of a session's history (`for_tenant(t).history(id)`), on
every store and every backend: the trail of its own sessions, deleted ones
included, and nothing of another tenant's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from projections import (
    InMemorySessionStore,
    SessionMessage,
    SessionRole,
)


# Every store that keeps a log: the in-memory store keeps none, so it has no history.
@pytest.mark.backends("sqlite-memory", "sqlite-file", "sqlite-erasable", "postgres")
def test_a_tenant_reads_the_history_of_its_sessions_deleted_ones_too(store):
    """The trail of a tenant's session, live or deleted, is its store's history."""
    assert not isinstance(store, InMemorySessionStore)
    mine = store.for_tenant("acme")
    live = mine.create("kept")
    gone = mine.create_with_user("gone", "ann", "acme")
    mine.add_message(gone.id, SessionMessage(SessionRole.USER, "hello", datetime.now(UTC)))
    assert mine.delete(gone.id)
    assert [e.type for e in mine.history(live.id)] == ["SessionCreated"]
    assert [e.type for e in mine.history(gone.id)] == [
        "SessionCreated", "MessageAdded", "SessionDeleted"]


def test_history_of_another_tenants_session_is_empty_on_every_backend(open_store):
    """Another tenant's session, an untenanted one and an unknown id read as []."""
    with open_store() as store:
        theirs = store.create_with_user("theirs", "bob", "globex")
        plain = store.create("nobody's")
        mine = store.for_tenant("acme")
        own = mine.create("mine")
        assert [e.type for e in mine.history(own.id)] == ["SessionCreated"]
        assert mine.history(theirs.id) == []
        assert mine.history(plain.id) == []
        assert mine.history(uuid.uuid4()) == []
        assert store.for_tenant("globex").history(theirs.id)[0].data["tenant_id"] == "globex"
