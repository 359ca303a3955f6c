"""Session JSON, wire-compatible with heartbit-core's serde `Session`.

Out: keys in struct order, `user_id`/`tenant_id` omitted when None,
timestamps as chrono writes them. In: strict; any bad field raises
`ValueError` naming it.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from eventlog.checks import aware, to_uuid
from eventlog.codec import describe_error, format_timestamp, make_converter, parse_timestamp

from .builders import builder
from .models import MESSAGE_ROLES, Session, SessionMessage

_converter = make_converter()
# The seed's wire format: the fields added in v2 are neither written nor read.
_OMIT = override(omit=True)
_converter.register_unstructure_hook(datetime, format_timestamp)
_converter.register_unstructure_hook(
    Session,
    make_dict_unstructure_fn(
        Session, _converter,
        user_id=override(omit_if_default=True),
        tenant_id=override(omit_if_default=True),
        key=_OMIT, version=_OMIT, items=_OMIT, state=_OMIT, updated_at=_OMIT,
    ),
)
_converter.register_structure_hook(Session, make_dict_structure_fn(
    Session, _converter, key=_OMIT, version=_OMIT, items=_OMIT, state=_OMIT, updated_at=_OMIT))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r} in an object")
            seen.add(key)
    return obj


def _bounded_int(text: str) -> int:
    limit = sys.get_int_max_str_digits() or 4300
    digits = len(text.lstrip("-"))
    if digits > limit:
        raise ValueError(f"a number of {digits} digits (at most {limit})")
    return int(text)


# Session JSON is read strictly: a key given twice is refused (not the last
# value silently kept), and so is an integer too long to convert.
_decoder = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_int=_bounded_int)


def decode_json(text: str, start: int = 0) -> tuple[Any, int]:
    """Decode one JSON value of `text` from `start`: (value, end index).

    Raises:
        json.JSONDecodeError: broken JSON.
        ValueError: a duplicate key, a number too long, or nesting too deep.
    """
    try:
        return _decoder.raw_decode(text, start)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def loads(text: str) -> Any:
    """Decode a whole JSON text under the rules of `decode_json`."""
    start = len(text) - len(text.lstrip(" \t\r\n"))
    value, end = decode_json(text, start)
    if text[end:].strip(" \t\r\n"):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def session_to_dict(session: Session) -> dict[str, Any]:
    """The session as the JSON-ready dict serde would write."""
    return _converter.unstructure(session)


def session_to_json(session: Session) -> str:
    """The session as compact JSON text, as serde_json writes it."""
    return json.dumps(session_to_dict(session), ensure_ascii=False, separators=(",", ":"))


_build_message = builder(SessionMessage, ("role", "content", "timestamp"))
_build_session = builder(Session, ("id", "title", "created_at", "messages", "user_id",
                                   "tenant_id", "key", "version", "items", "state",
                                   "updated_at"))
_TEXT_OR_NONE = (str, type(None))


def _plain_session(data: dict[str, Any]) -> Session | None:
    """The session of a well-formed record, built without cattrs (import
    reads one per line: cattrs' per-message structuring was a quarter of
    it); None for anything else, which the converter then reads or refuses
    with its message. Equal to the converter's result (tests/projections/test_serde_fast.py)."""
    sid, created, messages = data.get("id"), data.get("created_at"), data.get("messages")
    title, user_id, tenant_id = data.get("title"), data.get("user_id"), data.get("tenant_id")
    if (type(sid) is not str or type(created) is not str or type(messages) is not list
            or type(title) not in _TEXT_OR_NONE or type(user_id) not in _TEXT_OR_NONE
            or type(tenant_id) not in _TEXT_OR_NONE):
        return None
    roles, build, parse = MESSAGE_ROLES, _build_message, parse_timestamp
    built = []
    try:
        for m in messages:
            if type(m) is not dict:
                return None
            role, content, at = m.get("role"), m.get("content"), m.get("timestamp")
            if type(role) is not str or role not in roles or type(content) is not str \
                    or type(at) is not str:
                return None
            built.append(build(roles[role], content, aware(parse(at))))
        return _build_session(to_uuid(sid), title, aware(parse(created)), built, user_id,
                              tenant_id, None, 0, [], {}, None)
    except ValueError:
        return None


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
    if type(data) is dict:
        fast = _plain_session(data)
        if fast is not None:
            return fast
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
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode(json.detect_encoding(text))  # as json.loads does
        except UnicodeDecodeError as e:
            raise ValueError(f"invalid JSON: not {e.encoding} text at byte {e.start}") from None
    if not isinstance(text, str):
        raise ValueError(f"invalid JSON: expected text, got {type(text).__name__}")
    try:
        data = loads(text)
    except ValueError as e:  # JSONDecodeError among them
        raise ValueError(f"invalid JSON: {e}") from None
    return session_from_dict(data)
