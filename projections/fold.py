"""The meaning of the events: one pure fold from events to a session.

The in-memory store, replay and verify use it, and the SQL projections are
checked against it, so every way of reading a session agrees.
"""

from __future__ import annotations

from collections.abc import Iterable

from eventlog import MessageAdded, RecordedEvent, SessionCreated, SessionDeleted
from eventlog.events import Event

from .models import Session, SessionMessage, with_messages


def fold(state: Session | None, event: Event | RecordedEvent) -> Session | None:
    """Return the session after `event`, given the session before it.

    Pure: `state` is never modified. A creation of a live session and a
    message or deletion of a missing one leave the state as it is (the store
    never writes those; a hand-written log might).
    """
    if isinstance(event, RecordedEvent):
        event = event.event
    match event:
        case SessionCreated():
            if state is not None:
                return state
            return Session(event.session_id, event.title, event.created_at, [],
                           event.user_id, event.tenant_id)
        case MessageAdded():
            if state is None:
                return None
            message = SessionMessage(event.role, event.content, event.timestamp)
            return with_messages(state, [*state.messages, message])
        case SessionDeleted():
            return None
    raise TypeError(f"not a session event: {event!r}")


def fold_all(events: Iterable[Event | RecordedEvent], state: Session | None = None) -> Session | None:
    """Fold a sequence of one session's events, from `state` (default: none)."""
    for event in events:
        state = fold(state, event)
    return state
