"""The in-memory reference store: every change made by `fold`, nothing kept.
(The SessionStore protocols are in `protocol`.)"""

from __future__ import annotations

import builtins
import copy
import itertools
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from eventlog import (
    ConcurrencyError,
    DuplicateEventError,
    ItemAdded,
    MessageAdded,
    ScopeStateChanged,
    SessionCleared,
    SessionDeleted,
    state_stream,
)
from eventlog.checks import to_uuid
from eventlog.events import Event, SubjectErased

from .. import commands
from ..errors import DuplicateKeyError, SessionNotFoundError
from ..fold import Builder, fold_scope, item_message
from ..models import (
    NewItem,
    Session,
    SessionItem,
    SessionMessage,
    SessionSummary,
    summary_of,
)
from .cache import copy_session
from .protocol import FullSessionStore, SessionId, TenantedSessionStore
from .tenancy import TenantSessionStore


def _copy(session: Session, last_n: int | None = None) -> Session:
    if last_n is not None:
        items = session.items[max(0, len(session.items) - last_n):]
        messages = [m for m in map(item_message, items) if m is not None]
        session = attrs.evolve(session, messages=messages, items=items)
    return copy_session(session)  # shares nothing mutable, without deepcopy's cost


def _page(sessions: builtins.list, limit: int | None, before: SessionId | None,
          live: Mapping) -> builtins.list:
    """Keyset paging over an ordered list of sessions (or summaries)."""
    commands.check_limit("limit", limit)
    if before is not None:
        anchor = to_uuid(before)
        if anchor not in live:
            raise SessionNotFoundError(before)
        ids = [s.id for s in sessions]
        if anchor in ids:
            sessions = sessions[ids.index(anchor) + 1:]
        else:  # the anchor is another tenant's or user's: page by its place in the order
            key = live[anchor]
            sessions = [s for s in sessions if live[s.id] < key]
    return sessions if limit is None else sessions[:limit]


class InMemorySessionStore:
    """The reference store: sessions in a dict, every change made by `fold`.

    Thread-safe. Nothing persists; it is the model the event-sourced store is
    tested against. It offers every method of `EventSourcedSessionStore`'s
    session API, with the same signatures and contract.
    """

    def __init__(self) -> None:
        self._sessions: dict[uuid.UUID, Session] = {}
        self._order: dict[uuid.UUID, int] = {}
        self._keys: dict[tuple[str | None, str], uuid.UUID] = {}
        self._scopes: dict[str, dict[str, Any]] = {}
        self._builders: dict[uuid.UUID, Builder] = {}
        self._counter = itertools.count()
        self._lock = threading.RLock()

    def apply(self, event: Event) -> None:
        """Fold one event into the store (what every write does)."""
        with self._lock:
            if isinstance(event, ScopeStateChanged):
                stream = state_stream(event.tenant_id, event.user_id)
                self._scopes[stream] = fold_scope(self._scopes.get(stream, {}), event)
                return
            if isinstance(event, SubjectErased):
                return  # the in-memory store keeps no keys
            sid = event.session_id
            before = self._sessions.get(sid)
            # Each session keeps its fold builder: an event is applied in
            # place, in time independent of the session's size (a fresh
            # `fold` per event would copy every item each time).
            builder = self._builders.get(sid)
            if builder is None:
                builder = Builder(before)
            builder.step(event)
            state = before if builder.session is before else builder.build()
            if before is not None and before.key is not None and state is None:
                self._keys.pop((before.tenant_id, before.key), None)
            if state is None:
                self._sessions.pop(sid, None)
                self._order.pop(sid, None)
                self._builders.pop(sid, None)
            else:
                self._builders[sid] = builder
                if sid not in self._order:
                    self._order[sid] = next(self._counter)
                    if state.key is not None:
                        self._keys.setdefault((state.tenant_id, state.key), sid)
                self._sessions[sid] = state

    def _sort_key(self, s: Session) -> tuple:
        return (s.created_at, self._order[s.id])

    # -- the seed's API -----------------------------------------------------

    def create(self, title: str | None = None) -> Session:
        """Create an empty session (the seed's; `create_session(title)`)."""
        return self.create_session(title)

    def create_with_user(self, title: str | None, user_id: str, tenant_id: str) -> Session:
        """Create an empty session owned by a user of a tenant (the seed's;
        `create_session` with both owners, which must be strings)."""
        commands.check_owner(user_id, tenant_id)
        return self.create_session(title, user_id=user_id, tenant_id=tenant_id)

    def create_session(self, title: str | None = None, *, user_id: str | None = None,
                       tenant_id: str | None = None, key: str | None = None,
                       state: Mapping[str, Any] | None = None) -> Session:
        """Create a session: THE way (see `EventSourcedSessionStore.create_session`)."""
        events = commands.created_events(title, user_id, tenant_id, key, state, datetime.now(UTC))
        with self._lock:
            if key is not None and (tenant_id, key) in self._keys:
                raise DuplicateKeyError(key, tenant_id, self._keys[(tenant_id, key)])
            for event in events:
                self.apply(event)
            return _copy(self._sessions[events[0].session_id])

    def tenant_of(self, id: SessionId) -> str | None:
        """The tenant of the live session; None when it has none, or there is
        no such session (what `TenantSessionStore` confines by)."""
        session = self._sessions.get(to_uuid(id))
        return None if session is None else session.tenant_id

    def for_tenant(self, tenant_id: str) -> TenantSessionStore:
        """A SessionStore confined to `tenant_id` (see `TenantSessionStore`)."""
        return TenantSessionStore(self, tenant_id)

    def get(self, id: SessionId, last_n: int | None = None) -> Session | None:
        """The live session, or None; with `last_n`, only its last n items
        (and the messages among them)."""
        commands.check_limit("last_n", last_n)
        with self._lock:
            session = self._sessions.get(to_uuid(id))
            return None if session is None else _copy(session, last_n)

    def _ordered(self) -> builtins.list[Session]:
        return sorted(self._sessions.values(), key=self._sort_key, reverse=True)

    def _live_order(self) -> dict[uuid.UUID, tuple]:
        return {sid: self._sort_key(s) for sid, s in self._sessions.items()}

    def list(self, limit: int | None = None,
             before: SessionId | None = None) -> builtins.list[Session]:
        """Live sessions, newest first, paged as `EventSourcedSessionStore.list`."""
        with self._lock:
            return [_copy(s) for s in _page(self._ordered(), limit, before, self._live_order())]

    def list_for_tenant(self, tenant_id: str, limit: int | None = None,
                        before: SessionId | None = None) -> builtins.list[Session]:
        if not isinstance(tenant_id, str):
            raise ValueError(f"tenant_id: expected a string, got {tenant_id!r}")
        with self._lock:
            mine = [s for s in self._ordered() if s.tenant_id == tenant_id]
            return [_copy(s) for s in _page(mine, limit, before, self._live_order())]

    def delete(self, id: SessionId, *, expected_version: int | None = None) -> bool:
        sid = to_uuid(id)
        commands.check_expected(expected_version)
        with self._lock:
            if sid not in self._sessions:
                return False
            self._check_version(sid, expected_version)
            self.apply(SessionDeleted(sid, datetime.now(UTC)))
            return True

    def add_message(self, id: SessionId, message: SessionMessage, *,
                    expected_version: int | None = None) -> None:
        self.add_messages(id, [commands.check_message(message)], expected_version=expected_version)

    def add_messages(self, id: SessionId, messages: Iterable[SessionMessage], *,
                     expected_version: int | None = None) -> None:
        """Append several messages at once, one `MessageAdded` each: all or none."""
        sid = to_uuid(id)
        checked = [commands.check_message(m) for m in messages]
        commands.check_expected(expected_version)
        with self._lock:
            self._live(sid, expected_version)
            for m in checked:
                self.apply(MessageAdded(sid, m.role, m.content, m.timestamp))

    # -- keys, items and state ---------------------------------------------

    def _live(self, sid: uuid.UUID, expected_version: int | None) -> Session:
        session = self._sessions.get(sid)
        if session is None:
            raise SessionNotFoundError(sid)
        self._check_version(sid, expected_version)
        return session

    def _check_version(self, sid: uuid.UUID, expected_version: int | None) -> None:
        actual = self._sessions[sid].version
        if expected_version is not None and expected_version != actual:
            raise ConcurrencyError(str(sid), expected_version, actual)

    def get_or_create(self, key: str, *, title: str | None = None, user_id: str | None = None,
                      tenant_id: str | None = None) -> Session:
        """The live session of the tenant with this key, or a new one with it."""
        commands.check_key(key)
        commands.check_optional_owner(user_id, tenant_id)
        with self._lock:
            sid = self._keys.get((tenant_id, key))
            if sid is not None:
                return _copy(self._sessions[sid])
            return self.create_session(title, user_id=user_id, tenant_id=tenant_id, key=key)

    def get_by_key(self, key: str, tenant_id: str | None = None) -> Session | None:
        """The live session of the tenant (None: no tenant) with this key."""
        commands.check_key(key)
        commands.check_optional_owner(None, tenant_id)
        with self._lock:
            sid = self._keys.get((tenant_id, key))
            return None if sid is None else _copy(self._sessions[sid])

    def add_items(self, id: SessionId, items: Sequence[NewItem | Mapping[str, Any]], *,
                  state_delta: Mapping[str, Any] | None = None,
                  user_state_delta: Mapping[str, Any] | None = None,
                  tenant_state_delta: Mapping[str, Any] | None = None,
                  expected_version: int | None = None, unique_ids: bool = False) -> int:
        """Append items and state changes at once; returns the new version.
        `unique_ids`: see `EventSourcedSessionStore.add_items`."""
        sid = to_uuid(id)
        plan = commands.add_items_plan(
            sid, items, state_delta=state_delta, user_state_delta=user_state_delta,
            tenant_state_delta=tenant_state_delta, expected_version=expected_version)
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                raise SessionNotFoundError(sid)
            writes, scoped = plan(session.user_id, session.tenant_id)
            if unique_ids:
                held = {i.id for i in session.items}
                added = [e.item_id for e in writes if isinstance(e, ItemAdded)]
                if held.intersection(added):
                    dup = next(i for i in added if i in held)
                    raise DuplicateEventError(dup, f"item {dup!r} is already in session {sid}")
            self._check_version(sid, expected_version)
            for event in writes:
                self.apply(event)
            for _, events in scoped:
                for event in events:
                    self.apply(event)
            return self._sessions[sid].version

    def pop_items(self, id: SessionId, count: int = 1, *,
                  expected_version: int | None = None) -> builtins.list[SessionItem]:
        """Remove the last `count` items (fewer if there are fewer); return
        them, oldest first. No event when the session has no items."""
        sid = to_uuid(id)
        commands.check_count(count, 1)
        commands.check_expected(expected_version)
        with self._lock:
            session = self._live(sid, expected_version)
            n = min(count, len(session.items))
            if not n:
                return []
            popped = session.items[-n:]  # frozen items: shared as they are
            self.apply(commands.removed_event(sid, n, datetime.now(UTC)))
            return popped

    def clear(self, id: SessionId, *, expected_version: int | None = None) -> None:
        """Remove every item: one `SessionCleared`, even when already empty."""
        sid = to_uuid(id)
        commands.check_expected(expected_version)
        with self._lock:
            self._live(sid, expected_version)
            self.apply(SessionCleared(sid, datetime.now(UTC)))

    def replace_last(self, id: SessionId, count: int,
                     items: Sequence[NewItem | Mapping[str, Any]], *,
                     expected_version: int | None) -> int:
        """Replace the last `count` items with `items`, at once; returns the
        new version."""
        sid = to_uuid(id)
        commands.check_count(count, 0)
        new = commands.to_new_items(items)
        commands.check_expected(expected_version)
        now = datetime.now(UTC)
        with self._lock:
            session = self._live(sid, expected_version)
            if count > len(session.items):
                raise ValueError(f"count {count} is more than the session's "
                                 f"{len(session.items)} items")
            events: builtins.list[Event] = [commands.removed_event(sid, count, now)] if count else []
            for event in [*events, *commands.item_events(sid, new, now)]:
                self.apply(event)
            return self._sessions[sid].version

    def get_state(self, tenant_id: str, user_id: str | None = None) -> dict[str, Any]:
        """The tenant's (app) state, or with `user_id` that user's state."""
        commands.check_scope(tenant_id, user_id)
        with self._lock:
            return copy.deepcopy(self._scopes.get(state_stream(tenant_id, user_id), {}))

    def list_summaries(self, *, user_id: str | None = None, tenant_id: str | None = None,
                       limit: int | None = None,
                       before: SessionId | None = None) -> builtins.list[SessionSummary]:
        """Live sessions without their items, newest first, filtered by tenant
        and user when given, paged as `list`."""
        commands.check_optional_owner(user_id, tenant_id)
        with self._lock:
            chosen = [s for s in self._ordered()
                      if (tenant_id is None or s.tenant_id == tenant_id)
                      and (user_id is None or s.user_id == user_id)]
            return [summary_of(s) for s in _page(chosen, limit, before, self._live_order())]


# mypy checks the store against the whole common surface (see `protocol`).
_FULL: type[FullSessionStore] = InMemorySessionStore
_TENANTED: type[TenantedSessionStore] = InMemorySessionStore
