"""What a write means, decided once for every store: argument checks and
the events each new-API write appends (both stores call these, then append
or fold the events their own way)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from eventlog import (
    ItemAdded,
    ItemsRemoved,
    ScopeStateChanged,
    SessionCreated,
    StateChanged,
    state_stream,
)
from eventlog.events import json_object

from .models import NewItem, SessionMessage

_NEW_ITEM_KEYS = {"role", "data", "text", "id", "timestamp"}

# C0 controls (NUL, ESC, CR, LF, ...), DEL and C1 controls: never in an id.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def check_ids(**ids: object) -> None:
    """Refuse a new id (user_id, tenant_id, key) holding NUL or another
    control character, on every backend alike: PostgreSQL cannot store a
    NUL, and an id names streams, rows and command lines. Titles, text and
    data are content, not ids: they keep any character. Only writes check;
    a file that already holds such an id keeps reading (and looking it up).

    Raises:
        ValueError: names the id and the character; nothing is written.
    """
    for name, value in ids.items():
        if isinstance(value, str) and (found := _CONTROL.search(value)):
            raise ValueError(
                f"{name}: {value!r} holds a control character (U+{ord(found.group()):04X}); an id "
                "cannot hold NUL or other control characters; nothing was written")


def check_key(key: object) -> str:
    """A session key: non-empty text."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key: expected a non-empty string, got {key!r}")
    return key


def check_owner(user_id: object, tenant_id: object) -> None:
    """Refuse owners that are not strings."""
    for name, value in (("user_id", user_id), ("tenant_id", tenant_id)):
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r}")


def check_message(message: object) -> SessionMessage:
    """Refuse anything but a `SessionMessage`."""
    if not isinstance(message, SessionMessage):
        raise TypeError(f"message: expected a SessionMessage, got {type(message).__name__}")
    return message


def check_optional_owner(user_id: object, tenant_id: object) -> None:
    """Owners that may be absent: a string or None each."""
    for name, value in (("user_id", user_id), ("tenant_id", tenant_id)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name}: expected a string or None, got {value!r}")


def check_scope(tenant_id: object, user_id: object) -> None:
    """The owner of a state: a tenant (a string) and maybe a user."""
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError(f"tenant_id: expected a non-empty string, got {tenant_id!r}")
    if user_id is not None and (not isinstance(user_id, str) or not user_id):
        raise ValueError(f"user_id: expected a non-empty string or None, got {user_id!r}")


def check_expected(expected_version: object) -> int | None:
    """`expected_version`: None or an integer >= 0."""
    if expected_version is not None and (
            not isinstance(expected_version, int) or isinstance(expected_version, bool)
            or expected_version < 0):
        raise ValueError(f"expected_version must be a non-negative integer or None, "
                         f"not {expected_version!r}")
    return expected_version


def check_count(count: object, minimum: int) -> int:
    """A count of items, at least `minimum`."""
    if not isinstance(count, int) or isinstance(count, bool) or count < minimum:
        raise ValueError(f"count must be an integer >= {minimum}, not {count!r}")
    return count


def check_limit(name: str, value: object) -> int | None:
    """`limit` / `last_n`: None or an integer >= 0."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < 0):
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return value


def to_new_items(items: Sequence[NewItem | Mapping[str, Any]]) -> list[NewItem]:
    """Validate items given as `NewItem`s or dicts with the same keys."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise ValueError(f"items: expected a sequence of NewItem or dict, got "
                         f"{type(items).__name__}")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, NewItem):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise ValueError(f"items[{i}]: expected a NewItem or dict, got {type(item).__name__}")
        unknown = set(item) - _NEW_ITEM_KEYS
        if unknown:
            raise ValueError(f"items[{i}]: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        try:
            out.append(NewItem(**item))
        except (TypeError, ValueError) as e:
            raise ValueError(f"items[{i}]: {e}") from None
    return out


def item_events(sid: uuid.UUID, items: Sequence[NewItem], now: datetime) -> list[ItemAdded]:
    """One `ItemAdded` per item (fresh id and the write's time when absent)."""
    return [ItemAdded(sid, item.id or uuid.uuid4().hex, item.role, item.data,
                      item.timestamp or now, item.text) for item in items]


def check_delta(name: str, delta: object) -> dict[str, Any] | None:
    """A state delta: None, or a JSON object (an empty one counts as None)."""
    if delta is None:
        return None
    try:
        checked = json_object(delta)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    return checked or None


def state_events(
    sid: uuid.UUID, user_id: str | None, tenant_id: str | None, now: datetime, *,
    state_delta: dict | None, user_state_delta: dict | None, tenant_state_delta: dict | None,
) -> tuple[list[StateChanged], list[tuple[str, list[ScopeStateChanged]]]]:
    """The session's `StateChanged` (if any) and the (stream, events) of the
    user and tenant state changes, from checked deltas.

    Raises:
        ValueError: a user delta for a session without user and tenant, or a
            tenant delta for one without tenant.
    """
    own = [StateChanged(sid, state_delta, now)] if state_delta else []
    scoped = []
    if tenant_state_delta:
        if tenant_id is None:
            raise ValueError("tenant_state_delta: the session has no tenant")
        scoped.append((state_stream(tenant_id),
                       [ScopeStateChanged("tenant", tenant_id, None, tenant_state_delta, now)]))
    if user_state_delta:
        if tenant_id is None or user_id is None:
            raise ValueError("user_state_delta: the session has no user and tenant")
        scoped.append((state_stream(tenant_id, user_id),
                       [ScopeStateChanged("user", tenant_id, user_id, user_state_delta, now)]))
    return own, scoped


def add_items_plan(
    sid: uuid.UUID, items: Sequence[NewItem | Mapping[str, Any]], *,
    state_delta: object, user_state_delta: object, tenant_state_delta: object,
    expected_version: object,
) -> Callable[[str | None, str | None], tuple[list, list[tuple[str, list[ScopeStateChanged]]]]]:
    """Check `add_items`' arguments (before any lock is taken) and return what
    builds its events once the session's (user_id, tenant_id) are known: the
    session's own events and the (stream, events) of user and tenant state.

    Raises:
        ValueError: a bad item, delta or expected version.
    """
    new = to_new_items(items)
    own = check_delta("state_delta", state_delta)
    user = check_delta("user_state_delta", user_state_delta)
    tenant = check_delta("tenant_state_delta", tenant_state_delta)
    check_expected(expected_version)
    now = datetime.now(UTC)

    def events(user_id: str | None, tenant_id: str | None):
        own_events, scoped = state_events(sid, user_id, tenant_id, now, state_delta=own,
                                          user_state_delta=user, tenant_state_delta=tenant)
        return [*item_events(sid, new, now), *own_events], scoped
    return events


def created_events(title: str | None, user_id: str | None, tenant_id: str | None,
                   key: str | None, state: object, now: datetime) -> list:
    """A new session's `SessionCreated`, and its `StateChanged` when created
    with a state."""
    check_optional_owner(user_id, tenant_id)
    if key is not None:
        check_key(key)
    check_ids(user_id=user_id, tenant_id=tenant_id, key=key)
    initial = check_delta("state", state)
    if initial is not None:
        initial = {k: v for k, v in initial.items() if v is not None} or None
    created = SessionCreated(uuid.uuid4(), title, now, user_id, tenant_id, key)
    return [created] + ([StateChanged(created.session_id, initial, now)] if initial else [])


def removed_event(sid: uuid.UUID, count: int, now: datetime) -> ItemsRemoved:
    """The `ItemsRemoved` of a pop."""
    return ItemsRemoved(sid, count, now)
