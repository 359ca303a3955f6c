"""What the pages read, through the store's public API only: a page of
sessions, a page of a transcript (now or as of a position), the positions of
a session's events (the as-of stepper), each item's event (the audit view),
search hits with the item they point at. Every read is confined to the
viewer's tenant: another tenant's session is `Missing`, as an unknown id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import attrs

from eventlog import RecordedEvent
from eventlog.checks import to_uuid
from projections import EventSourcedSessionStore, Session, SessionSummary

__all__ = ["Gone", "Missing", "Transcript", "dom_id", "event_at", "Trail", "gone", "hits",
           "item_anchor", "session_id", "session_page", "sessions_page", "stream", "trail"]

SESSIONS_PAGE = 50  # sessions on a page of `/`
ITEMS_PAGE = 500  # items on a page of a transcript


class Missing(LookupError):
    """No such session for this viewer (unknown, or another tenant's)."""


@attrs.frozen
class Gone(Exception):
    """The session was deleted (erased: `erased` is true) at `position`."""

    session_id: str
    position: int
    erased: bool


def session_id(text: str) -> str:
    """The UUID a path names, as a string; `Missing` when it is not one."""
    try:
        return str(to_uuid(text))
    except ValueError:
        raise Missing(text) from None


def sessions_page(store: EventSourcedSessionStore, *, tenant: str | None, user: str | None,
                  before: str | None) -> tuple[list[SessionSummary], bool]:
    """A page of live sessions, newest first, and whether there is another."""
    anchor = None
    if before:
        anchor = to_uuid(before)  # ValueError: the caller says 400
    page = store.list_summaries(tenant_id=tenant, user_id=user, limit=SESSIONS_PAGE + 1,
                                before=anchor)
    return page[:SESSIONS_PAGE], len(page) > SESSIONS_PAGE


def _check_tenant(store: EventSourcedSessionStore, sid: str, tenant: str | None) -> None:
    if tenant is not None and store.created_for(sid) != tenant:
        raise Missing(sid)


def stream(store: EventSourcedSessionStore, sid: str, tenant: str | None,
           ) -> Iterator[list[RecordedEvent]]:
    """The session's events a batch at a time (deleted sessions too);
    `Missing` before the first batch when there is none for this viewer."""
    _check_tenant(store, sid, tenant)
    batches = store.history_batches(sid)
    first = next(batches, None)
    if first is None:
        raise Missing(sid)

    def rest() -> Iterator[list[RecordedEvent]]:
        yield first
        yield from batches

    return rest()


def gone(store: EventSourcedSessionStore, sid: str) -> Gone:
    last = None
    for batch in store.history_batches(sid):
        last = batch[-1]
    if last is None:
        raise Missing(sid)
    return Gone(sid, last.position, bool(last.metadata.get("erasure")))


@attrs.frozen
class Transcript:
    """A page of a session: `session` holds only the page's items;
    `earlier`: a page of older items exists; `page`: 1 is the newest."""

    session: Session
    page: int
    earlier: bool
    as_of: int | datetime | None


def session_page(store: EventSourcedSessionStore, sid: str, tenant: str | None, *,
                 page: int = 1, as_of: int | datetime | None = None) -> Transcript:
    """Page `page` (1: the newest `ITEMS_PAGE` items) of a live session, or of
    the session as it stood at `as_of` (a position or a moment).

    Raises:
        Missing: no such session for this viewer (or, as of then, not yet created).
        Gone: it was deleted (by `as_of`, when given).
    """
    _check_tenant(store, sid, tenant)
    if as_of is None:
        found = store.get(sid, last_n=page * ITEMS_PAGE + 1)
        if found is None:
            raise gone(store, sid)
        items = found.items
    else:
        found = store.replay(sid, as_of)
        if found is None:
            events = store.log.read_stream(sid, until=as_of)
            if not events:
                raise Missing(sid)
            raise Gone(sid, events[-1].position, bool(events[-1].metadata.get("erasure")))
        items = found.items
    if tenant is not None and found.tenant_id != tenant:
        raise Missing(sid)
    end = len(items) - (page - 1) * ITEMS_PAGE
    start = max(0, end - ITEMS_PAGE)
    shown = items[start:max(end, 0)]
    session = attrs.evolve(found, items=shown)  # the pages read items, not `messages`
    return Transcript(session, page, start > 0, as_of)


@attrs.frozen
class Trail:
    """What the audit view shows inline: the event that added each item (by
    item id; the latest for a reused id), and the state changes recorded
    after each item (key "": before the first)."""

    events: dict[str, RecordedEvent]
    state_after: dict[str, list[RecordedEvent]]


def trail(store: EventSourcedSessionStore, sid: str, until: int | datetime | None) -> Trail:
    """The session's `Trail`, from its events up to `until`."""
    events: dict[str, RecordedEvent] = {}
    after: dict[str, list[RecordedEvent]] = {}
    last = ""
    for e in store.log.read_stream(sid, until=until):
        if e.type == "ItemAdded":
            last = str(e.data.get("item_id"))
            events[last] = e
        elif e.type == "MessageAdded":
            last = f"message-{e.version}"
            events[last] = e
        elif e.type == "StateChanged":
            after.setdefault(last, []).append(e)
    return Trail(events, after)


def event_at(store: EventSourcedSessionStore, position: int) -> RecordedEvent | None:
    """The event at a global position, or None."""
    for batch in store.log.read_batches(position, batch_size=1, to_position=position):
        return batch[0]
    return None


def item_anchor(event: RecordedEvent | None) -> str:
    """The page anchor of the item an event added ("" when it added none)."""
    if event is None:
        return ""
    if event.type == "MessageAdded":
        return dom_id(f"message-{event.version}")
    if event.type == "ItemAdded":
        return dom_id(str(event.data.get("item_id")))
    return ""


def dom_id(item_id: str) -> str:
    """An HTML id for an item id (any text: hex-encoded, so it is always valid)."""
    return "item-" + item_id.encode("utf-8").hex()


def hits(store: EventSourcedSessionStore, query: str, tenant: str | None, page: int,
         limit: int = 20) -> tuple[list[tuple[object, str]], bool]:
    """Search hits of a page (with the anchor of the item each points at) and
    whether another page follows."""
    found = store.search(query, tenant, limit + 1, offset=(page - 1) * limit)
    return [(h, item_anchor(event_at(store, h.position))) for h in found[:limit]], \
        len(found) > limit

