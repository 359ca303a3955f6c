"""The facts a session log records, as immutable attrs classes.

Events are the only thing ever written. A session's state is what folding
them gives (see `projections.fold`). Each event names the stream it belongs
to (`stream_of`): a session's events go to `str(session_id)`; app and user
state to `state:tenant:<tenant>` and `state:user:<tenant>:<user>`.
"""

from __future__ import annotations

import enum
import json
import math
import uuid
from datetime import datetime
from typing import Any

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


def nonempty_text(_: Any, attribute: Any, value: Any) -> None:
    """attrs validator: a non-empty str."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{attribute.name}: expected a non-empty string, got {value!r}")


def nonempty_text_or_none(instance: Any, attribute: Any, value: Any) -> None:
    """attrs validator: a non-empty str, or None."""
    if value is not None:
        nonempty_text(instance, attribute, value)


def json_value(value: Any, path: str = "data") -> Any:
    """A deep copy of a JSON value, refusing what JSON cannot hold exactly:
    only dict (str keys), list, str, int, finite float, bool and None.

    Raises:
        ValueError: naming the first bad place, e.g. "data.calls[2]: ...".
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value!r} is not a JSON number")
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{path}: key {k!r} is not a string")
            out[k] = json_value(v, f"{path}.{k}")
        return out
    if isinstance(value, list):
        return [json_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


def json_object(value: Any) -> dict[str, Any]:
    """attrs converter: a deep copy of a JSON object (see `json_value`)."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object (dict), got {type(value).__name__}")
    return json_value(value)


def _count(_: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{attribute.name}: expected an integer >= 1, got {value!r}")


@attrs.frozen
class SessionCreated:
    """A session came into being. `key`: the caller's own name for it,
    unique among the live sessions of its tenant."""

    session_id: uuid.UUID = attrs.field(converter=to_uuid)
    title: str | None = attrs.field(validator=text_or_none)
    created_at: datetime = attrs.field(converter=aware)
    user_id: str | None = attrs.field(default=None, validator=text_or_none)
    tenant_id: str | None = attrs.field(default=None, validator=text_or_none)
    key: str | None = attrs.field(default=None, validator=nonempty_text_or_none)


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


@attrs.frozen
class ItemAdded:
    """One framework item was appended to a session: any JSON object, with an
    open role ("system", "tool", ...) and the text a person should see."""

    session_id: uuid.UUID = attrs.field(converter=to_uuid)
    item_id: str = attrs.field(validator=nonempty_text)
    role: str = attrs.field(validator=nonempty_text)
    data: dict[str, Any] = attrs.field(converter=json_object)
    timestamp: datetime = attrs.field(converter=aware)
    text: str | None = attrs.field(default=None, validator=text_or_none)


@attrs.frozen
class ItemsRemoved:
    """The last `count` items of a session were removed (a pop)."""

    session_id: uuid.UUID = attrs.field(converter=to_uuid)
    count: int = attrs.field(validator=_count)
    removed_at: datetime = attrs.field(converter=aware)


@attrs.frozen
class SessionCleared:
    """Every item of a session was removed; the session stays."""

    session_id: uuid.UUID = attrs.field(converter=to_uuid)
    cleared_at: datetime = attrs.field(converter=aware)


def _delta(value: Any) -> dict[str, Any]:
    return json_value(json_object(value), "delta")


@attrs.frozen
class StateChanged:
    """Keys of a session's state were set (value None: removed)."""

    session_id: uuid.UUID = attrs.field(converter=to_uuid)
    delta: dict[str, Any] = attrs.field(converter=_delta)
    changed_at: datetime = attrs.field(converter=aware)


SCOPES = ("tenant", "user")


def _scope(_: Any, attribute: Any, value: Any) -> None:
    if value not in SCOPES:
        raise ValueError(f"scope: expected one of {SCOPES}, got {value!r}")


def _scope_user(instance: Any, attribute: Any, value: Any) -> None:
    if instance.scope == "user":
        nonempty_text(instance, attribute, value)
    elif value is not None:
        raise ValueError("user_id: must be None for tenant state")


@attrs.frozen
class ScopeStateChanged:
    """Keys of a tenant's (app) or a user's state were set (value None:
    removed). Lives in the stream `state_stream(tenant_id, user_id)`."""

    scope: str = attrs.field(validator=_scope)
    tenant_id: str = attrs.field(validator=nonempty_text)
    user_id: str | None = attrs.field(validator=_scope_user)
    delta: dict[str, Any] = attrs.field(converter=_delta)
    changed_at: datetime = attrs.field(converter=aware)


def _component(value: str) -> str:
    # Written as is, unless it could be misread: then as a JSON string.
    if ":" in value or value.startswith('"'):
        return json.dumps(value, ensure_ascii=False)
    return value


def state_stream(tenant_id: str, user_id: str | None = None) -> str:
    """The stream of a tenant's state (`state:tenant:<tenant>`) or of a
    user's (`state:user:<tenant>:<user>`). A component holding ':' or
    starting with '"' is written as a JSON string, so the id is unambiguous."""
    if user_id is None:
        return f"state:tenant:{_component(tenant_id)}"
    return f"state:user:{_component(tenant_id)}:{_component(user_id)}"


def _erasure_scope(_: Any, attribute: Any, value: Any) -> None:
    if value not in ("user", "session"):
        raise ValueError(f"scope: expected 'user' or 'session', got {value!r}")


def _sessions(_: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{attribute.name}: expected an integer >= 0, got {value!r}")


@attrs.frozen
class SubjectErased:
    """A data subject's key was destroyed: every personal field of theirs in
    the log is unreadable from then on (crypto-shredding). Holds no personal
    data: `subject` is the destroyed key's random id, `sessions` how many
    sessions it covered, `requested_by` and `reason` what the operator gave.
    Lives in the stream `erasure:<subject>`."""

    subject: str = attrs.field(validator=nonempty_text)
    scope: str = attrs.field(validator=_erasure_scope)
    sessions: int = attrs.field(validator=_sessions)
    erased_at: datetime = attrs.field(converter=aware)
    requested_by: str | None = attrs.field(default=None, validator=text_or_none)
    reason: str | None = attrs.field(default=None, validator=text_or_none)


Event = (SessionCreated | MessageAdded | SessionDeleted | ItemAdded | ItemsRemoved
         | SessionCleared | StateChanged | ScopeStateChanged | SubjectErased)

#: The events of a session's own stream.
SESSION_EVENTS = (SessionCreated, MessageAdded, SessionDeleted, ItemAdded, ItemsRemoved,
                  SessionCleared, StateChanged)

#: Event classes by the name stored in the `type` column.
EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (*SESSION_EVENTS, ScopeStateChanged, SubjectErased)
}


def stream_of(event: Event) -> str:
    """The stream an event belongs to."""
    if isinstance(event, ScopeStateChanged):
        return state_stream(event.tenant_id, event.user_id)
    if isinstance(event, SubjectErased):
        return f"erasure:{event.subject}"
    return str(event.session_id)
