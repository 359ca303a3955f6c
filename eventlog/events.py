"""The three facts a session log records, as immutable attrs classes.

Events are the only thing ever written. A session's state is what folding
them gives (see `projections.fold`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import attrs

from .checks import aware, text, text_or_none, to_uuid


class SessionRole(enum.StrEnum):
    """Who spoke a message."""

    USER = "user"
    ASSISTANT = "assistant"


def to_role(value: object) -> SessionRole:
    """Coerce "user"/"assistant" to a `SessionRole`; refuse anything else."""
    if isinstance(value, str):
        try:
            return SessionRole(value)
        except ValueError:
            pass
    roles = ", ".join(r.value for r in SessionRole)
    raise ValueError(f"unknown role {value!r} (expected one of: {roles})")


@attrs.frozen
class SessionCreated:
    """A session came into being."""

    session_id: uuid.UUID = attrs.field(converter=to_uuid)
    title: str | None = attrs.field(validator=text_or_none)
    created_at: datetime = attrs.field(converter=aware)
    user_id: str | None = attrs.field(default=None, validator=text_or_none)
    tenant_id: str | None = attrs.field(default=None, validator=text_or_none)


@attrs.frozen
class MessageAdded:
    """A message was appended to a session."""

    session_id: uuid.UUID = attrs.field(converter=to_uuid)
    role: SessionRole = attrs.field(converter=lambda r: to_role(r))
    content: str = attrs.field(validator=text)
    timestamp: datetime = attrs.field(converter=aware)


@attrs.frozen
class SessionDeleted:
    """A session was deleted. Its earlier events stay in the log."""

    session_id: uuid.UUID = attrs.field(converter=to_uuid)
    deleted_at: datetime = attrs.field(converter=aware)


Event = SessionCreated | MessageAdded | SessionDeleted

#: Event classes by the name stored in the `type` column.
EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (SessionCreated, MessageAdded, SessionDeleted)
}
