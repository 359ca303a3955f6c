"""The read model the SessionStore contract speaks: sessions and messages,
compared by value, and the prompt formatting of a history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import attrs

from eventlog import MessageAdded, SessionRole
from eventlog.checks import aware, text, text_or_none, to_uuid
from eventlog.events import to_role

__all__ = ["Session", "SessionMessage", "SessionRole", "format_session_context"]


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


@attrs.define
class Session:
    """A conversation: its id, title, creation time, messages and owners."""

    id: uuid.UUID = attrs.field(converter=to_uuid)
    title: str | None = attrs.field(validator=text_or_none)
    created_at: datetime = attrs.field(converter=aware)
    messages: list[SessionMessage] = attrs.field(converter=_messages)
    user_id: str | None = attrs.field(default=None, validator=text_or_none)
    tenant_id: str | None = attrs.field(default=None, validator=text_or_none)


_new, _set = object.__new__, object.__setattr__


def with_messages(session: Session, messages: list[SessionMessage]) -> Session:
    """A copy of `session` with another message list, without re-validating
    what a valid session already holds (the fold's step: O(1) checks, not
    O(messages))."""
    copy = _new(Session)
    for name in ("id", "title", "created_at", "user_id", "tenant_id"):
        _set(copy, name, getattr(session, name))
    _set(copy, "messages", messages)
    return copy


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
