"""Session JSON, wire-compatible with heartbit-core's serde `Session`.

Out: keys in struct order, `user_id`/`tenant_id` omitted when None,
timestamps as chrono writes them. In: strict; any bad field raises
`ValueError` naming it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from eventlog.codec import describe_error, format_timestamp, make_converter

from .models import Session

_converter = make_converter()
_converter.register_unstructure_hook(datetime, format_timestamp)
_converter.register_unstructure_hook(
    Session,
    make_dict_unstructure_fn(
        Session, _converter,
        user_id=override(omit_if_default=True),
        tenant_id=override(omit_if_default=True),
    ),
)


def session_to_dict(session: Session) -> dict[str, Any]:
    """The session as the JSON-ready dict serde would write."""
    return _converter.unstructure(session)


def session_to_json(session: Session) -> str:
    """The session as compact JSON text, as serde_json writes it."""
    return json.dumps(session_to_dict(session), ensure_ascii=False, separators=(",", ":"))


def session_from_dict(data: Any) -> Session:
    """Read a session from a decoded JSON object.

    `title`, `user_id` and `tenant_id` may be absent (None); unknown keys are
    ignored, as serde does.

    Raises:
        ValueError: not an object, a missing required key, or a bad field;
            the message names the field, e.g. "messages[2].role: unknown role".
    """
    if not isinstance(data, dict):
        raise ValueError(f"a session must be a JSON object, got {type(data).__name__}")
    data = {"title": None, **data}
    messages = data.get("messages")
    if messages is not None and not isinstance(messages, list):
        raise ValueError(f"messages: expected a list, got {type(messages).__name__}")
    for i, message in enumerate(messages or ()):
        if not isinstance(message, dict):
            raise ValueError(f"messages[{i}]: expected an object, got {type(message).__name__}")
    try:
        return _converter.structure(data, Session)
    except (cattrs.BaseValidationError, ValueError, TypeError) as e:
        raise ValueError(f"invalid session: {describe_error(e)}") from None


def session_from_json(text: str | bytes) -> Session:
    """Read a session from JSON text (see `session_from_dict`).

    Raises:
        ValueError: broken JSON, or any error of `session_from_dict`.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {e}") from None
    return session_from_dict(data)
