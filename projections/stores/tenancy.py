"""Tenant isolation: a SessionStore confined to one tenant.

Another tenant's session behaves exactly as a missing one, and nothing in
its API reaches outside the tenant.
"""

from __future__ import annotations

import builtins
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from eventlog import EventLog, RecordedEvent
from eventlog.checks import to_uuid
from eventlog.events import state_stream

from ..errors import SessionNotFoundError
from ..models import NewItem, Session, SessionItem, SessionMessage, SessionSummary
from .protocol import AuditedSessionStore, FullSessionStore, SessionId, TenantedSessionStore


class TenantSessionStore:
    """The sessions of one tenant of a store (see `for_tenant` on the stores).

    `create` and `create_with_user` stamp the tenant; `get`, `list`,
    `add_message` and `delete` see only its sessions.
    """

    def __init__(self, store: TenantedSessionStore, tenant_id: str) -> None:
        if not isinstance(tenant_id, str):
            raise ValueError(f"tenant_id: expected a string, got {tenant_id!r}")
        self._store = store
        self.tenant_id = tenant_id

    def _owns(self, id: SessionId) -> bool:
        return self._store.tenant_of(to_uuid(id)) == self.tenant_id

    def _own(self, id: SessionId) -> uuid.UUID:
        sid = to_uuid(id)
        if self._store.tenant_of(sid) != self.tenant_id:
            raise SessionNotFoundError(sid)
        return sid

    def _mine(self, tenant_id: str | None) -> str:
        if tenant_id is not None and tenant_id != self.tenant_id:
            raise ValueError(f"this store is confined to tenant {self.tenant_id!r}, "
                             f"not {tenant_id!r}")
        return self.tenant_id

    def create(self, title: str | None = None) -> Session:
        """Create a session of this tenant (no user)."""
        return self._store.create_session(title, tenant_id=self.tenant_id)

    def create_with_user(self, title: str | None, user_id: str, tenant_id: str) -> Session:
        """Create a session of this tenant's user.

        Raises:
            ValueError: `tenant_id` is another tenant.
        """
        if tenant_id != self.tenant_id:
            raise ValueError(f"this store is confined to tenant {self.tenant_id!r}, "
                             f"not {tenant_id!r}")
        return self._store.create_with_user(title, user_id, tenant_id)

    def get(self, id: SessionId, last_n: int | None = None) -> Session | None:
        """This tenant's live session, or None (another tenant's too, at the
        cost of a missing one: its messages are never read)."""
        if not self._owns(id):
            return None
        session = self._store.get(id, last_n)
        return session if session is not None and session.tenant_id == self.tenant_id else None

    def list(self, limit: int | None = None,
             before: SessionId | None = None) -> builtins.list[Session]:
        """This tenant's sessions, newest first, paged as the store's `list`."""
        if before is not None and not self._owns(before):
            raise SessionNotFoundError(before)
        return self._store.list_for_tenant(self.tenant_id, limit, before)

    def list_for_tenant(self, tenant_id: str, limit: int | None = None,
                        before: SessionId | None = None) -> builtins.list[Session]:
        """This tenant's sessions; [] for any other tenant."""
        return self.list(limit, before) if tenant_id == self.tenant_id else []

    def delete(self, id: SessionId, *, expected_version: int | None = None) -> bool:
        return self._owns(id) and self._store.delete(id, expected_version=expected_version)

    def add_message(self, id: SessionId, message: SessionMessage, *,
                    expected_version: int | None = None) -> None:
        self._store.add_message(self._own(id), message, expected_version=expected_version)

    def add_messages(self, id: SessionId, messages: Iterable[SessionMessage], *,
                     expected_version: int | None = None) -> None:
        self._store.add_messages(self._own(id), messages, expected_version=expected_version)

    def create_session(self, title: str | None = None, *, user_id: str | None = None,
                       tenant_id: str | None = None, key: str | None = None,
                       state: Mapping[str, Any] | None = None) -> Session:
        """Create a session of this tenant (`tenant_id`: None or this tenant)."""
        return self._store.create_session(title, user_id=user_id, tenant_id=self._mine(tenant_id),
                                          key=key, state=state)

    def get_or_create(self, key: str, *, title: str | None = None, user_id: str | None = None,
                      tenant_id: str | None = None) -> Session:
        return self._store.get_or_create(key, title=title, user_id=user_id,
                                         tenant_id=self._mine(tenant_id))

    def get_by_key(self, key: str, tenant_id: str | None = None) -> Session | None:
        """This tenant's live session with this key (None for another tenant)."""
        if tenant_id is not None and tenant_id != self.tenant_id:
            return None
        return self._store.get_by_key(key, self.tenant_id)

    def add_items(self, id: SessionId, items: Sequence[NewItem | Mapping[str, Any]], *,
                  state_delta: Mapping[str, Any] | None = None,
                  user_state_delta: Mapping[str, Any] | None = None,
                  tenant_state_delta: Mapping[str, Any] | None = None,
                  expected_version: int | None = None) -> int:
        return self._store.add_items(
            self._own(id), items, state_delta=state_delta, user_state_delta=user_state_delta,
            tenant_state_delta=tenant_state_delta, expected_version=expected_version)

    def pop_items(self, id: SessionId, count: int = 1, *,
                  expected_version: int | None = None) -> builtins.list[SessionItem]:
        return self._store.pop_items(self._own(id), count, expected_version=expected_version)

    def clear(self, id: SessionId, *, expected_version: int | None = None) -> None:
        self._store.clear(self._own(id), expected_version=expected_version)

    def replace_last(self, id: SessionId, count: int,
                     items: Sequence[NewItem | Mapping[str, Any]], *,
                     expected_version: int | None) -> int:
        return self._store.replace_last(self._own(id), count, items,
                                        expected_version=expected_version)

    def get_state(self, tenant_id: str, user_id: str | None = None) -> dict[str, Any]:
        """This tenant's state or its user's (another tenant: ValueError)."""
        return self._store.get_state(self._mine(tenant_id), user_id)

    def list_summaries(self, *, user_id: str | None = None, tenant_id: str | None = None,
                       limit: int | None = None,
                       before: SessionId | None = None) -> builtins.list[SessionSummary]:
        """This tenant's summaries (`tenant_id`: None or this tenant)."""
        if before is not None and not self._owns(before):
            raise SessionNotFoundError(before)
        return self._store.list_summaries(tenant_id=self._mine(tenant_id), user_id=user_id,
                                          limit=limit, before=before)

    def history(self, id: SessionId) -> builtins.list[RecordedEvent]:
        """The audit trail of a session created for this tenant, deleted ones
        included; [] for another tenant's, as for an unknown id (only its
        first event is read). Only a store that keeps history has it."""
        store = self._store
        if not isinstance(store, AuditedSessionStore):
            raise AttributeError(f"{type(store).__name__!r} object has no attribute 'history'")
        sid = to_uuid(id)
        if store.created_for(sid) != self.tenant_id:
            return []
        return store.history(sid)

    def read_all(self, from_position: int = 1, *, to_position: int | None = None,
                 batch_size: int = 1000) -> Iterator[RecordedEvent]:
        """This tenant's events of the log from `from_position` (to
        `to_position`), in position order: those of the sessions created for
        it (deleted ones included) and of its state streams
        (`state:tenant:<tenant>`, `state:user:<tenant>:<user>`). Erasure
        events (`erasure:<subject>`) belong to no tenant and are left out.
        Reads in batches, one short read each (see `EventLog.read_batches`)."""
        mine = _Belongs(self._audited(), self.tenant_id)
        for batch in self._log().read_batches(from_position, batch_size=batch_size,
                                              to_position=to_position):
            yield from filter(mine, batch)

    def subscribe(self, from_position: int = 1, *, stop: threading.Event | None = None,
                  batch_size: int = 1000, wake: float = 1.0) -> Iterator[RecordedEvent]:
        """This tenant's events (as `read_all` picks them) from
        `from_position` on, then each new one as it is committed: the
        store's `EventLog.subscribe`, with another tenant's events never
        yielded. Only a store that keeps history has it."""
        mine = _Belongs(self._audited(), self.tenant_id)
        log = self._log()
        # a generator (not a bare filter): closing it closes the log's follower
        yield from filter(mine, log.subscribe(from_position, stop=stop, batch_size=batch_size,
                                              wake=wake))

    def _audited(self) -> AuditedSessionStore:
        if not isinstance(self._store, AuditedSessionStore):
            raise AttributeError(f"{type(self._store).__name__!r} keeps no log to read")
        return self._store

    def _log(self) -> EventLog:
        log = getattr(self._store, "log", None)
        if not isinstance(log, EventLog):
            raise AttributeError(f"{type(self._store).__name__!r} keeps no log to read")
        return log

    def for_tenant(self, tenant_id: str) -> TenantSessionStore:
        """Itself for its own tenant; another tenant cannot be reached."""
        if tenant_id != self.tenant_id:
            raise ValueError(f"this store is confined to tenant {self.tenant_id!r}")
        return self


class _Belongs:
    """Whether an event of the log is one tenant's (see
    `TenantSessionStore.read_all`); remembers each session stream's tenant."""

    def __init__(self, store: AuditedSessionStore, tenant_id: str) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.sessions: dict[str, bool] = {}

    def __call__(self, event: RecordedEvent) -> bool:
        if event.type == "ScopeStateChanged":
            return (event.data.get("tenant_id") == self.tenant_id and event.stream_id
                    == state_stream(self.tenant_id, event.data.get("user_id")))
        stream = event.stream_id
        try:
            sid = uuid.UUID(stream)
        except ValueError:
            return False  # erasure:<subject>: no tenant's
        if stream not in self.sessions:
            if event.type == "SessionCreated" and event.version == 1:
                tenant = event.data.get("tenant_id")
            else:
                tenant = self.store.created_for(sid)
            self.sessions[stream] = tenant == self.tenant_id
        return self.sessions[stream]


# mypy checks the confined store against the whole common surface (see `protocol`).
_FULL: type[FullSessionStore] = TenantSessionStore
