"""Tenant isolation: a SessionStore confined to one tenant.

Another tenant's session behaves exactly as a missing one, and nothing in
its API reaches outside the tenant.
"""

from __future__ import annotations

import builtins
import uuid

from eventlog.checks import to_uuid

from .errors import SessionNotFoundError
from .models import Session, SessionMessage

SessionId = uuid.UUID | str


class TenantSessionStore:
    """The sessions of one tenant of a store (see `for_tenant` on the stores).

    `create` and `create_with_user` stamp the tenant; `get`, `list`,
    `add_message` and `delete` see only its sessions.
    """

    def __init__(self, store, tenant_id: str) -> None:
        if not isinstance(tenant_id, str):
            raise ValueError(f"tenant_id: expected a string, got {tenant_id!r}")
        self._store = store
        self.tenant_id = tenant_id

    def _owns(self, id: SessionId) -> bool:
        return self._store._tenant_of(to_uuid(id)) == self.tenant_id

    def create(self, title: str | None = None) -> Session:
        """Create a session of this tenant (no user)."""
        return self._store._new_session(title, None, self.tenant_id)

    def create_with_user(self, title: str | None, user_id: str, tenant_id: str) -> Session:
        """Create a session of this tenant's user.

        Raises:
            ValueError: `tenant_id` is another tenant.
        """
        if tenant_id != self.tenant_id:
            raise ValueError(f"this store is confined to tenant {self.tenant_id!r}, "
                             f"not {tenant_id!r}")
        return self._store.create_with_user(title, user_id, tenant_id)

    def get(self, id: SessionId) -> Session | None:
        session = self._store.get(id)
        return session if session is not None and session.tenant_id == self.tenant_id else None

    def list(self, *args, **kwargs) -> builtins.list[Session]:
        """This tenant's sessions, newest first (paging arguments as the store's)."""
        return self._store.list_for_tenant(self.tenant_id, *args, **kwargs)

    def list_for_tenant(self, tenant_id: str) -> builtins.list[Session]:
        """This tenant's sessions; [] for any other tenant."""
        return self.list() if tenant_id == self.tenant_id else []

    def delete(self, id: SessionId) -> bool:
        return self._owns(id) and self._store.delete(id)

    def add_message(self, id: SessionId, message: SessionMessage) -> None:
        if not self._owns(id):
            raise SessionNotFoundError(to_uuid(id))
        self._store.add_message(id, message)

    def for_tenant(self, tenant_id: str) -> TenantSessionStore:
        """Itself for its own tenant; another tenant cannot be reached."""
        if tenant_id != self.tenant_id:
            raise ValueError(f"this store is confined to tenant {self.tenant_id!r}")
        return self
