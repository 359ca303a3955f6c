"""What a session store is, as typed Protocols: `SessionStore`, the seed's
interface (heartbit-core's, for outsiders), and `FullSessionStore`, the whole
surface both stores (and a tenant's view of either) share. mypy checks each
store against `FullSessionStore` where it is defined.

Owners are named user first, then tenant, except where a positional
argument cannot move (`get_state(tenant_id, user_id=None)`: the user is
optional there).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from eventlog import RecordedEvent

from ..models import NewItem, Session, SessionItem, SessionMessage, SessionSummary

#: A session id: a `uuid.UUID` or its string form.
SessionId = uuid.UUID | str


@runtime_checkable
class SessionStore(Protocol):
    """Persistence for conversation sessions (heartbit-core's `SessionStore`).

    Ids may be given as `uuid.UUID` or as their string form. Lists are newest
    created first; among equal `created_at`, the later-created first.
    """

    def create(self, title: str | None = None) -> Session:
        """Create an empty session with an optional title."""
        ...

    def create_with_user(self, title: str | None, user_id: str, tenant_id: str) -> Session:
        """Create an empty session owned by a user of a tenant."""
        ...

    def get(self, id: SessionId) -> Session | None:
        """The session, or None if it does not exist or was deleted."""
        ...

    def list(self) -> builtins.list[Session]:
        """Every live session, newest first."""
        ...

    def delete(self, id: SessionId) -> bool:
        """Delete a session; True if it existed."""
        ...

    def add_message(self, id: SessionId, message: SessionMessage) -> None:
        """Append a message; raises `SessionNotFoundError` for a missing session."""
        ...

    def list_for_tenant(self, tenant_id: str) -> builtins.list[Session]:
        """The tenant's live sessions, newest first; untenanted ones never."""
        ...


@runtime_checkable
class FullSessionStore(SessionStore, Protocol):
    """Every session method `InMemorySessionStore`, `EventSourcedSessionStore`
    and `TenantSessionStore` share, with one contract (the contract suite
    runs it against each). `create_session` is the way to create a session;
    `create` and `create_with_user` (the seed's) are thin aliases of it.

    Writes take `expected_version` (None: no check) and raise
    `ConcurrencyError` when the session is elsewhere; a missing session is
    `SessionNotFoundError`; a bad argument is `ValueError`, with nothing written.
    """

    def create_session(self, title: str | None = None, *, user_id: str | None = None,
                       tenant_id: str | None = None, key: str | None = None,
                       state: Mapping[str, Any] | None = None) -> Session:
        """Create a session, with a key unique among the tenant's live
        sessions and an initial state when given (`DuplicateKeyError`)."""
        ...

    def get_or_create(self, key: str, *, title: str | None = None, user_id: str | None = None,
                      tenant_id: str | None = None) -> Session:
        """The live session of the tenant with this key, or a new one with it (atomic)."""
        ...

    def get_by_key(self, key: str, tenant_id: str | None = None) -> Session | None:
        """The live session of the tenant (None: no tenant) with this key."""
        ...

    def get(self, id: SessionId, last_n: int | None = None) -> Session | None:
        """The live session, or None; with `last_n`, only its last n items."""
        ...

    def list(self, limit: int | None = None,
             before: SessionId | None = None) -> builtins.list[Session]:
        """Live sessions, newest first, at most `limit`, after the session
        `before` (keyset paging; `SessionNotFoundError` if it is not live)."""
        ...

    def list_for_tenant(self, tenant_id: str, limit: int | None = None,
                        before: SessionId | None = None) -> builtins.list[Session]:
        """The tenant's live sessions, ordered and paged as `list`."""
        ...

    def list_summaries(self, *, user_id: str | None = None, tenant_id: str | None = None,
                       limit: int | None = None,
                       before: SessionId | None = None) -> builtins.list[SessionSummary]:
        """Live sessions without their items (of a user, of a tenant), paged as `list`."""
        ...

    def delete(self, id: SessionId, *, expected_version: int | None = None) -> bool:
        """Delete a live session; False, and nothing written, if there is none."""
        ...

    def add_message(self, id: SessionId, message: SessionMessage, *,
                    expected_version: int | None = None) -> None:
        """Append one message."""
        ...

    def add_messages(self, id: SessionId, messages: Iterable[SessionMessage], *,
                     expected_version: int | None = None) -> None:
        """Append several messages at once: all or none."""
        ...

    def add_items(self, id: SessionId, items: Sequence[NewItem | Mapping[str, Any]], *,
                  state_delta: Mapping[str, Any] | None = None,
                  user_state_delta: Mapping[str, Any] | None = None,
                  tenant_state_delta: Mapping[str, Any] | None = None,
                  expected_version: int | None = None) -> int:
        """Append items and state deltas at once; returns the new version."""
        ...

    def pop_items(self, id: SessionId, count: int = 1, *,
                  expected_version: int | None = None) -> builtins.list[SessionItem]:
        """Remove the last `count` items (fewer if fewer); returns them, oldest first."""
        ...

    def clear(self, id: SessionId, *, expected_version: int | None = None) -> None:
        """Remove every item."""
        ...

    def replace_last(self, id: SessionId, count: int,
                     items: Sequence[NewItem | Mapping[str, Any]], *,
                     expected_version: int | None) -> int:
        """Replace the last `count` items with `items` at once; returns the new version."""
        ...

    def get_state(self, tenant_id: str, user_id: str | None = None) -> dict[str, Any]:
        """The tenant's (app) state, or with `user_id` that user's state."""
        ...

    def for_tenant(self, tenant_id: str) -> FullSessionStore:
        """The same store confined to one tenant (`TenantSessionStore`)."""
        ...


@runtime_checkable
class TenantedSessionStore(FullSessionStore, Protocol):
    """A store a `TenantSessionStore` can confine: it also tells the tenant
    of a live session."""

    def tenant_of(self, id: SessionId) -> str | None:
        """The tenant of the live session; None when it has none, or there is
        no such session."""
        ...


@runtime_checkable
class AuditedSessionStore(Protocol):
    """A store that keeps each session's history (an event-sourced one)."""

    def history(self, id: SessionId) -> builtins.list[RecordedEvent]:
        """The session's whole stream, deleted sessions included; [] if unknown."""
        ...

    def created_for(self, id: SessionId) -> str | None:
        """The tenant a session (live or deleted) was created for; None when
        it had none, or there is no such session."""
        ...
