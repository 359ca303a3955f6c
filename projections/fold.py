"""The meaning of the events: one pure fold from events to a session.

The in-memory store, replay and verify use it, and the SQL projections are
checked against it, so every way of reading a session agrees.

Folding a stream is linear: `fold_all` copies the session's lists once and
then applies each event in place to its own copy (`Builder`); `fold` is the
same step on a fresh copy, so it never modifies its input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventlog import (
    ItemAdded,
    ItemsRemoved,
    MessageAdded,
    RecordedEvent,
    ScopeStateChanged,
    SessionCleared,
    SessionCreated,
    SessionDeleted,
    StateChanged,
)
from eventlog.events import Event, SubjectErased

from .frozen import FrozenDict, freeze
from .models import MESSAGE_ROLES, Session, SessionItem, SessionMessage

_new, _set = object.__new__, object.__setattr__


def message_item(version: int, message: SessionMessage) -> SessionItem:
    """The item a `MessageAdded` at stream `version` folds to."""
    item = _new(SessionItem)
    _set(item, "id", f"message-{version}")
    _set(item, "role", message.role.value)
    _set(item, "data", FrozenDict(role=message.role.value, content=message.content))
    _set(item, "timestamp", message.timestamp)
    _set(item, "text", message.content)
    return item


def item_message(item: SessionItem) -> SessionMessage | None:
    """The message an item also is (user/assistant role with a text), or None."""
    role = MESSAGE_ROLES.get(item.role)
    if role is None or item.text is None:
        return None
    m = _new(SessionMessage)
    _set(m, "role", role)
    _set(m, "content", item.text)
    _set(m, "timestamp", item.timestamp)
    return m


def apply_delta(state: dict[str, Any], delta: dict[str, Any]) -> None:
    """Apply a state delta in place: a None value removes its key."""
    for k, v in delta.items():
        if v is None:
            state.pop(k, None)
        else:
            state[k] = v


class Builder:
    """A session being folded: its own lists, changed in place."""

    __slots__ = ("is_message", "items", "messages", "session", "state")

    def __init__(self, session: Session | None) -> None:
        self.session = session
        if session is not None:
            self.items = list(session.items)
            self.messages = list(session.messages)
            self.is_message = [i.text is not None and i.role in MESSAGE_ROLES for i in self.items]
            self.state = dict(session.state)

    def start(self, event: SessionCreated, version: int) -> None:
        s = _new(Session)
        for name, value in (("id", event.session_id), ("title", event.title),
                            ("created_at", event.created_at), ("user_id", event.user_id),
                            ("tenant_id", event.tenant_id), ("key", event.key),
                            ("version", version), ("updated_at", event.created_at)):
            _set(s, name, value)
        self.session = s
        self.items, self.messages, self.is_message, self.state = [], [], [], {}

    def add(self, item: SessionItem) -> None:
        self.items.append(item)
        message = item_message(item)
        self.is_message.append(message is not None)
        if message is not None:
            self.messages.append(message)

    def remove(self, count: int) -> None:
        for _ in range(min(count, len(self.items))):
            self.items.pop()
            if self.is_message.pop():
                self.messages.pop()

    def step(self, event: Event | RecordedEvent) -> None:
        version = None
        if isinstance(event, RecordedEvent):
            version = event.version
            event = event.event
        if type(event) is SessionCreated:
            if self.session is None:
                self.start(event, 1 if version is None else version)
            return
        if type(event) is ScopeStateChanged or type(event) is SubjectErased:
            return  # not a session's event
        if self.session is None:
            if type(event) not in (MessageAdded, SessionDeleted, ItemAdded, ItemsRemoved,
                                   SessionCleared, StateChanged):
                raise TypeError(f"not a session event: {event!r}")
            return
        version = self.session.version + 1 if version is None else version
        match event:
            case MessageAdded():
                message = SessionMessage(event.role, event.content, event.timestamp)
                self.items.append(message_item(version, message))
                self.is_message.append(True)
                self.messages.append(message)
                at = event.timestamp
            case ItemAdded():
                item = _new(SessionItem)
                for name, value in (("id", event.item_id), ("role", event.role),
                                    ("data", freeze(event.data)), ("timestamp", event.timestamp),
                                    ("text", event.text)):
                    _set(item, name, value)
                self.add(item)
                at = event.timestamp
            case ItemsRemoved():
                self.remove(event.count)
                at = event.removed_at
            case SessionCleared():
                self.items, self.messages, self.is_message = [], [], []
                at = event.cleared_at
            case StateChanged():
                apply_delta(self.state, event.delta)
                at = event.changed_at
            case SessionDeleted():
                self.session = None
                return
            case _:
                raise TypeError(f"not a session event: {event!r}")
        s = _new(Session)
        for name in ("id", "title", "created_at", "user_id", "tenant_id", "key"):
            _set(s, name, getattr(self.session, name))
        _set(s, "version", version)
        _set(s, "updated_at", at)
        self.session = s

    def build(self) -> Session | None:
        s = self.session
        if s is None:
            return None
        _set(s, "items", self.items)
        _set(s, "messages", self.messages)
        _set(s, "state", self.state)
        return s


def fold(state: Session | None, event: Event | RecordedEvent) -> Session | None:
    """Return the session after `event`, given the session before it.

    Pure: `state` is never modified. A creation of a live session and any
    other event of a missing one leave the state as it is (the store never
    writes those; a hand-written log might). A `ScopeStateChanged` is not a
    session's event and changes nothing.
    """
    return fold_all((event,), state)


def fold_all(events: Iterable[Event | RecordedEvent], state: Session | None = None) -> Session | None:
    """Fold a sequence of one session's events, from `state` (default: none),
    in time linear in the events and the session's size."""
    builder = Builder(state)
    for event in events:
        builder.step(event)
    if builder.session is state:
        return state
    return builder.build()


def fold_scope(state: dict[str, Any], event: Event | RecordedEvent) -> dict[str, Any]:
    """The tenant or user state after one `ScopeStateChanged` (pure)."""
    if isinstance(event, RecordedEvent):
        event = event.event
    if not isinstance(event, ScopeStateChanged):
        raise TypeError(f"not a state event: {event!r}")
    new = dict(state)
    apply_delta(new, event.delta)
    return new
