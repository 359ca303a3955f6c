"""Helpers shared by the test files."""

from __future__ import annotations

from eventlog import SessionCreated
from projections import EventSourcedSessionStore, InMemorySessionStore, Session

STORES = ["memory", "sqlite-memory", "sqlite-file", "sqlite-erasable", "postgres"]


def make_store(kind: str, tmp_path, request=None):
    """A fresh store of a kind of `STORES` ("postgres": a schema of its own,
    through the `pg_url` fixture of `request`)."""
    if kind == "memory":
        return InMemorySessionStore()
    if kind == "sqlite-memory":
        return EventSourcedSessionStore(":memory:")
    if kind == "postgres":
        return EventSourcedSessionStore(request.getfixturevalue("pg_url"))
    if kind == "sqlite-erasable":  # personal fields sealed (issue #14): reads the same
        return EventSourcedSessionStore(tmp_path / "sessions.db", erasable=True)
    return EventSourcedSessionStore(tmp_path / "sessions.db")


def seed(store, session: Session) -> None:
    """Put an empty session with a chosen `created_at` into any store, the way
    its own writes would (one SessionCreated event)."""
    event = SessionCreated(session.id, session.title, session.created_at,
                           session.user_id, session.tenant_id)
    if isinstance(store, InMemorySessionStore):
        store.apply(event)
    else:
        store.log.append(str(session.id), [event], expected_version=0)
        store.runner.catch_up()
