"""Tenant isolation: a SessionStore confined to one tenant.

Another tenant's session behaves exactly as a missing one, and nothing in
its API reaches outside the tenant.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eventlog import RecordedEvent
from eventlog.checks import to_uuid

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

    def for_tenant(self, tenant_id: str) -> TenantSessionStore:
        """Itself for its own tenant; another tenant cannot be reached."""
        if tenant_id != self.tenant_id:
            raise ValueError(f"this store is confined to tenant {self.tenant_id!r}")
        return self


# mypy checks the confined store against the whole common surface (see `protocol`).
_FULL: type[FullSessionStore] = TenantSessionStore
