"""The read model the SessionStore contract speaks: sessions, their items
and messages, compared by value, and the prompt formatting of a history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from eventlog import MessageAdded, SessionRole
from eventlog.checks import aware, text, text_or_none, to_uuid
from eventlog.events import json_object, nonempty_text, nonempty_text_or_none, to_role

from .frozen import freeze

__all__ = ["NewItem", "Session", "SessionItem", "SessionMessage", "SessionRole",
           "SessionSummary", "format_session_context"]


@attrs.frozen
class SessionMessage:
    """One message of a session. `timestamp` is an aware datetime, kept in UTC."""

    role: SessionRole = attrs.field(converter=to_role)
    content: str = attrs.field(validator=text)
    timestamp: datetime = attrs.field(converter=aware)


def _messages(value: object) -> list[SessionMessage]:
    if not isinstance(value, list) or not all(isinstance(m, SessionMessage) for m in value):
        raise ValueError("messages: expected a list of SessionMessage")
    return value


def _frozen_object(value: object) -> dict[str, Any]:
    frozen: dict[str, Any] = freeze(json_object(value))
    return frozen


def _aware_or_none(value: object) -> datetime | None:
    return None if value is None else aware(value)


@attrs.frozen
class SessionItem:
    """One item of a session: a framework's message, tool call, reasoning...

    `data` is the JSON object as stored, read-only (a `dict` whose nested
    dicts and lists cannot be changed in place: items are shared by every
    reader; copy it to change it, see `projections.frozen`); `text` what a
    person should see (None: the renderer picks). A `MessageAdded` is the item
    `SessionItem(f"message-{version}", role, {"role": role, "content": content},
    timestamp, content)`.
    """

    id: str = attrs.field(validator=nonempty_text)
    role: str = attrs.field(validator=nonempty_text)
    data: dict[str, Any] = attrs.field(converter=_frozen_object)
    timestamp: datetime = attrs.field(converter=aware)
    text: str | None = attrs.field(default=None, validator=text_or_none)


@attrs.frozen
class NewItem:
    """An item to add (see `add_items`): `id` None gets a fresh uuid4 hex,
    `timestamp` None the time of the write."""

    role: str = attrs.field(validator=nonempty_text)
    data: dict[str, Any] = attrs.field(converter=json_object)
    text: str | None = attrs.field(default=None, validator=text_or_none)
    id: str | None = attrs.field(default=None, validator=nonempty_text_or_none)
    timestamp: datetime | None = attrs.field(default=None, converter=_aware_or_none)


#: Roles whose items with text are also `Session.messages`.
MESSAGE_ROLES = {r.value: r for r in SessionRole}


def _items(value: object) -> list[SessionItem]:
    if not isinstance(value, list) or not all(isinstance(i, SessionItem) for i in value):
        raise ValueError("items: expected a list of SessionItem")
    return value


def _state(value: object) -> dict[str, Any]:
    return json_object(value)


@attrs.define
class Session:
    """A conversation: its id, title, creation time, messages and owners,
    and (v2) its key, stream version, items, state and last-update time.

    `messages` keeps the seed's meaning: the user/assistant text of the
    session, in order (every item with such a role and a text).
    """

    id: uuid.UUID = attrs.field(converter=to_uuid)
    title: str | None = attrs.field(validator=text_or_none)
    created_at: datetime = attrs.field(converter=aware)
    messages: list[SessionMessage] = attrs.field(converter=_messages)
    user_id: str | None = attrs.field(default=None, validator=text_or_none)
    tenant_id: str | None = attrs.field(default=None, validator=text_or_none)
    key: str | None = attrs.field(default=None, validator=nonempty_text_or_none)
    version: int = attrs.field(default=0)
    items: list[SessionItem] = attrs.field(factory=list, converter=_items)
    state: dict[str, Any] = attrs.field(factory=dict, converter=_state)
    updated_at: datetime | None = attrs.field(default=None, converter=_aware_or_none)


@attrs.frozen
class SessionSummary:
    """A session without its items (what `list_summaries` returns)."""

    id: uuid.UUID
    title: str | None
    created_at: datetime
    updated_at: datetime | None
    user_id: str | None
    tenant_id: str | None
    key: str | None
    version: int
    item_count: int


def seed_fields(session: Session | None) -> tuple | None:
    """The fields of the seed's `Session` (what its JSON holds), to compare
    a session with one read from such JSON."""
    if session is None:
        return None
    return (session.id, session.title, session.created_at, session.messages,
            session.user_id, session.tenant_id)


def summary_of(session: Session) -> SessionSummary:
    """The summary of a session."""
    return SessionSummary(session.id, session.title, session.created_at, session.updated_at,
                          session.user_id, session.tenant_id, session.key, session.version,
                          len(session.items))


_new, _set = object.__new__, object.__setattr__


def message_event(session_id: uuid.UUID, message: SessionMessage) -> MessageAdded:
    """The `MessageAdded` of a valid message of a session, built without
    re-running the converters its fields already passed (write hot paths)."""
    event = _new(MessageAdded)
    _set(event, "session_id", session_id)
    _set(event, "role", message.role)
    _set(event, "content", message.content)
    _set(event, "timestamp", message.timestamp)
    return event


_ROLE_LABELS = {SessionRole.USER: "User", SessionRole.ASSISTANT: "Assistant"}


def format_session_context(history: Sequence[SessionMessage], message: str) -> str:
    """Prefix `message` with the formatted history; unchanged when there is none.

    Byte-identical to heartbit-core's `format_session_context`.
    """
    if not history:
        return message
    lines = "".join(f"{_ROLE_LABELS[m.role]}: {m.content}\n" for m in history)
    return f"## Conversation history\n{lines}\n## Current message\n{message}"
