"""The SessionStore contract and its in-memory reference implementation."""

from __future__ import annotations

import builtins
import itertools
import threading
import uuid
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import attrs

from eventlog import MessageAdded, SessionCreated, SessionDeleted
from eventlog.checks import to_uuid
from eventlog.events import Event

from .errors import SessionNotFoundError
from .fold import fold
from .models import Session, SessionMessage
from .tenancy import TenantSessionStore

SessionId = uuid.UUID | str
_NO_SESSION = object()  # what _tenant_of returns for a missing session


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


def check_owner(user_id: object, tenant_id: object) -> None:
    """Refuse owners that are not strings."""
    for name, value in (("user_id", user_id), ("tenant_id", tenant_id)):
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r}")


def check_message(message: object) -> SessionMessage:
    """Refuse anything but a `SessionMessage`."""
    if not isinstance(message, SessionMessage):
        raise TypeError(f"message: expected a SessionMessage, got {type(message).__name__}")
    return message


def _copy(session: Session) -> Session:
    return attrs.evolve(session, messages=builtins.list(session.messages))


class InMemorySessionStore:
    """The reference store: sessions in a dict, every change made by `fold`.

    Thread-safe. Nothing persists; it is the model the event-sourced store is
    tested against.
    """

    def __init__(self) -> None:
        self._sessions: dict[uuid.UUID, Session] = {}
        self._order: dict[uuid.UUID, int] = {}
        self._counter = itertools.count()
        self._lock = threading.RLock()

    def apply(self, event: Event) -> None:
        """Fold one event into the store (what every write does)."""
        with self._lock:
            sid = event.session_id
            state = fold(self._sessions.get(sid), event)
            if state is None:
                self._sessions.pop(sid, None)
                self._order.pop(sid, None)
            else:
                if sid not in self._order:
                    self._order[sid] = next(self._counter)
                self._sessions[sid] = state

    def create(self, title: str | None = None) -> Session:
        return self._new_session(title, None, None)

    def create_with_user(self, title: str | None, user_id: str, tenant_id: str) -> Session:
        check_owner(user_id, tenant_id)
        return self._new_session(title, user_id, tenant_id)

    def _new_session(self, title, user_id, tenant_id) -> Session:
        event = SessionCreated(uuid.uuid4(), title, datetime.now(UTC), user_id, tenant_id)
        with self._lock:
            self.apply(event)
            return _copy(self._sessions[event.session_id])

    def _tenant_of(self, sid: uuid.UUID) -> object:
        session = self._sessions.get(sid)
        return _NO_SESSION if session is None else session.tenant_id

    def for_tenant(self, tenant_id: str) -> TenantSessionStore:
        """A SessionStore confined to `tenant_id` (see `TenantSessionStore`)."""
        return TenantSessionStore(self, tenant_id)

    def get(self, id: SessionId) -> Session | None:
        with self._lock:
            session = self._sessions.get(to_uuid(id))
            return None if session is None else _copy(session)

    def list(self) -> builtins.list[Session]:
        with self._lock:
            ordered = sorted(
                self._sessions.values(),
                key=lambda s: (s.created_at, self._order[s.id]),
                reverse=True,
            )
            return [_copy(s) for s in ordered]

    def list_for_tenant(self, tenant_id: str) -> builtins.list[Session]:
        return [s for s in self.list() if s.tenant_id == tenant_id]

    def delete(self, id: SessionId) -> bool:
        sid = to_uuid(id)
        with self._lock:
            if sid not in self._sessions:
                return False
            self.apply(SessionDeleted(sid, datetime.now(UTC)))
            return True

    def add_message(self, id: SessionId, message: SessionMessage) -> None:
        sid = to_uuid(id)
        check_message(message)
        with self._lock:
            if sid not in self._sessions:
                raise SessionNotFoundError(sid)
            self.apply(MessageAdded(sid, message.role, message.content, message.timestamp))
