"""The export format `sessionlog/1`: everything a session holds, one JSON
object per line (JSON Lines, UTF-8, no BOM), every line naming its format::

    {"format": "sessionlog/1",
     "id": "0190...",                       session id (UUID), required
     "key": "ada-1" | null,                 the caller's name for it
     "title": "..." | null,
     "user_id": "..." | null, "tenant_id": "..." | null,
     "created_at": "2026-01-02T03:04:05Z",  RFC 3339, required
     "updated_at": "..." | null,            the time of its last change
     "state": {...},                        its state (a JSON object)
     "items": [                             in order, required
       {"id": "call-1", "role": "tool",     any role: user, assistant,
        "data": {...},                      system, tool, reasoning...;
        "timestamp": "...",                 data: the framework's item
        "text": "..." | null}, ...]}        text: what a person sees

The session's messages are its user/assistant items with a text, as in the
store. Unknown keys are ignored; another format (`sessionlog/2`) is refused
with a message naming it. A record without `format` is the seed's session
JSON (`projections.serde`), still read and written on request.
"""

from __future__ import annotations

import json
from typing import Any

from eventlog import ItemAdded, MessageAdded, SessionCreated, StateChanged
from eventlog.codec import format_timestamp, parse_timestamp
from eventlog.events import Event

from .commands import check_ids
from .fold import item_message
from .models import MESSAGE_ROLES, Session, SessionItem
from .serde import session_from_dict

FORMAT = "sessionlog/1"
#: The formats `export` writes: the full one (default) and the seed's.
EXPORT_FORMATS = ("sessionlog", "seed")


def _time(value: Any) -> str | None:
    return None if value is None else format_timestamp(value)


def record_to_dict(session: Session) -> dict[str, Any]:
    """The `sessionlog/1` record of a session (see the module docstring)."""
    return {"format": FORMAT, "id": str(session.id), "key": session.key,
            "title": session.title, "user_id": session.user_id,
            "tenant_id": session.tenant_id, "created_at": format_timestamp(session.created_at),
            "updated_at": _time(session.updated_at), "state": session.state,
            "items": [{"id": i.id, "role": i.role, "data": i.data,
                       "timestamp": format_timestamp(i.timestamp), "text": i.text}
                      for i in session.items]}


def record_to_json(session: Session) -> str:
    """The `sessionlog/1` record of a session as one line of compact JSON."""
    return json.dumps(record_to_dict(session), ensure_ascii=False, separators=(",", ":"))


def _field(data: dict[str, Any], name: str, kinds: tuple[type, ...], required: bool = False) -> Any:
    if name not in data:
        if required:
            raise ValueError(f"{name}: missing")
        return None
    value = data[name]
    if not isinstance(value, kinds):
        names = " or ".join(_KIND.get(k, k.__name__) for k in kinds)
        raise ValueError(f"{name}: expected {names}, got {type(value).__name__}")
    return value


_KIND: dict[type, str] = {str: "text", dict: "an object", list: "a list", type(None): "null"}
_TEXT = (str, type(None))


def _timestamp(text: str, name: str) -> Any:
    try:
        return parse_timestamp(text)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _item(value: Any, i: int) -> SessionItem:
    where = f"items[{i}]"
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    try:
        return SessionItem(_field(value, "id", (str,), True), _field(value, "role", (str,), True),
                           _field(value, "data", (dict,), True),
                           _timestamp(_field(value, "timestamp", (str,), True), "timestamp"),
                           _field(value, "text", _TEXT))
    except ValueError as e:
        raise ValueError(f"{where}.{e}") from None


def session_from_record(data: Any) -> Session:
    """A session from a decoded record of either format: `sessionlog/1`
    (whole: items, state, key; `updated_at` set, so `import_sessions`
    imports it whole) or the seed's session JSON (its messages).

    Raises:
        ValueError: a bad record, naming the field ("items[2].role: missing"),
            an id with a control character (`check_ids`), or a format this
            release does not read.
    """
    session = _session(data)
    check_ids(user_id=session.user_id, tenant_id=session.tenant_id, key=session.key)
    return session


def _session(data: Any) -> Session:
    if not isinstance(data, dict) or "format" not in data:
        if isinstance(data, dict) and _other_roles(data.get("messages")):
            return _seed_with_roles(data)
        return session_from_dict(data)
    if data["format"] != FORMAT:
        raise ValueError(f"format {data['format']!r} is not one this release reads "
                         f"({FORMAT!r} or the seed's session JSON, which has no format)")
    items = _field(data, "items", (list,), True)
    built = [_item(v, i) for i, v in enumerate(items)]
    created = _timestamp(_field(data, "created_at", (str,), True), "created_at")
    updated = _field(data, "updated_at", _TEXT)
    session = Session(
        _field(data, "id", (str,), True), _field(data, "title", _TEXT), created,
        [m for m in map(item_message, built) if m is not None],
        _field(data, "user_id", _TEXT), _field(data, "tenant_id", _TEXT),
        _field(data, "key", _TEXT) or None, 0, built, _field(data, "state", (dict,)) or {},
        created if updated is None else _timestamp(updated, "updated_at"))
    if any(v is None for v in session.state.values()):
        raise ValueError("state: a key's value is null (a removed key is left out)")
    return session


def _other_roles(messages: Any) -> bool:
    return isinstance(messages, list) and any(
        isinstance(m, dict) and isinstance(m.get("role"), str) and m["role"] not in MESSAGE_ROLES
        for m in messages)


def _seed_with_roles(data: dict[str, Any]) -> Session:
    """Seed JSON whose messages have other roles too ("system", "tool"...):
    read whole, each message an item `message-<version>` with data
    {role, content}, as a user/assistant `MessageAdded` folds to."""
    items = []
    for i, m in enumerate(data["messages"]):
        if not isinstance(m, dict):
            raise ValueError(f"messages[{i}]: expected an object, got {type(m).__name__}")
        try:
            role, content = _field(m, "role", (str,), True), _field(m, "content", (str,), True)
            items.append(SessionItem(f"message-{i + 2}", role, {"role": role, "content": content},
                                     _timestamp(_field(m, "timestamp", (str,), True), "timestamp"),
                                     content))
        except ValueError as e:
            raise ValueError(f"messages[{i}].{e}") from None
    seed = session_from_dict({**data, "messages": []})
    return Session(seed.id, seed.title, seed.created_at,
                   [m for m in map(item_message, items) if m is not None], seed.user_id,
                   seed.tenant_id, None, 0, items, {},
                   items[-1].timestamp if items else seed.created_at)


def is_whole(session: Session) -> bool:
    """Whether `import_sessions` records all of `session` (items, state and
    key: it has `updated_at`, as a `sessionlog/1` record or a stored session
    has) or only what seed JSON holds (its messages)."""
    return session.updated_at is not None


def header(session: Session) -> tuple:
    """What identifies a session apart from its items and state."""
    return (session.id, session.title, session.created_at, session.user_id, session.tenant_id,
            session.key if is_whole(session) else None)


def item_events(session: Session, items: list[SessionItem], version: int) -> list[Event]:
    """The events that add `items` to `session` from stream `version` on:
    a `MessageAdded` where that folds to the same item (a message whose id
    is `message-<its version>`), else an `ItemAdded` with the item's id."""
    events: list[Event] = []
    for item in items:
        version += 1
        role = MESSAGE_ROLES.get(item.role)
        if (role is not None and item.id == f"message-{version}" and item.text is not None
                and item.data == {"role": item.role, "content": item.text}):
            events.append(MessageAdded(session.id, role, item.text, item.timestamp))
        else:
            events.append(ItemAdded(session.id, item.id, item.role, dict(item.data),
                                    item.timestamp, item.text))
    return events


def state_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The `StateChanged` delta that turns state `before` into `after`."""
    delta = {k: v for k, v in after.items() if before.get(k, None) != v or k not in before}
    delta.update({k: None for k in before if k not in after})
    return delta


def whole_events(session: Session) -> list[Event]:
    """The events that record a whole session: its creation, its items,
    and its state (changed at its `updated_at`)."""
    events: list[Event] = [SessionCreated(session.id, session.title, session.created_at,
                                          session.user_id, session.tenant_id, session.key)]
    events += item_events(session, session.items, 1)
    if session.state:
        events.append(StateChanged(session.id, dict(session.state),
                                   session.updated_at or session.created_at))
    return events
