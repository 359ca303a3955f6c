"""Bringing conversations in and out: session records (`sessionlog/1`,
see `transfer_format`, or the seed's session JSON; one object, an array,
or JSON Lines, read by `transfer_read`) imported as events, and live
sessions exported as JSON Lines.

Reading streams: memory grows with a batch, not with the file.
"""

from __future__ import annotations

import time
from bisect import insort
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import IO, TYPE_CHECKING

import attrs

from eventlog import ItemAdded, MessageAdded, SessionCreated, StateChanged
from eventlog.events import Event

from .errors import ImportConflictError, ImportFileError
from .fold import fold_all
from .models import MESSAGE_ROLES, Session, message_event, seed_fields
from .serde import session_to_json
from .transfer_format import (
    EXPORT_FORMATS,
    FORMAT,
    header,
    is_whole,
    item_events,
    record_to_json,
    session_from_record,
    state_delta,
    whole_events,
)
from .transfer_read import Location, open_text, read_error, read_records
from .views.sessions import find_by_key

if TYPE_CHECKING:
    from .stores.eventsourced import EventSourcedSessionStore
    from .stores.unit import BulkWrite

__all__ = ["CONFLICT_POLICIES", "EXPORT_FORMATS", "FORMAT", "ImportConflictError",
           "ImportFileError", "ImportSummary", "Location", "export_sessions", "import_sessions",
           "open_text", "read_error", "read_records", "read_sessions"]

CONFLICT_POLICIES = ("error", "skip", "append")


@attrs.frozen
class ImportSummary:
    """What an import did."""

    sessions: int
    messages: int
    skipped: int
    conflicts: int
    seconds: float
    items: int = 0  #: items other than messages (tool calls, system prompts...)
    appended: int = 0  #: stored sessions that got the new items of their record

    def __str__(self) -> str:
        kept = f", kept {self.conflicts} conflicting as they were" if self.conflicts else ""
        items = f" and {self.items} other item(s)" if self.items else ""
        appended = f", appended to {self.appended} stored session(s)" if self.appended else ""
        return (f"imported {self.sessions} session(s) with {self.messages} message(s){items}"
                f"{appended}, skipped {self.skipped} already present{kept}, "
                f"in {self.seconds:.2f}s")


def read_sessions(stream: IO[str], name: str) -> Iterator[tuple[Location, Session]]:
    """Like `read_records`, each record read as a `Session`: a `sessionlog/1`
    record whole (items, state, key), a seed record as its messages.

    Raises:
        ImportFileError: broken JSON or a bad session, naming where and the field.
    """
    for location, value in read_records(stream, name):
        try:
            yield location, session_from_record(value)
        except ValueError as e:
            raise ImportFileError(location, str(e)) from None


def import_sessions(
    store: EventSourcedSessionStore,
    sessions: Iterable[tuple[Location | str, Session]],
    *,
    on_conflict: str = "error",
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Record each session as events, all in one transaction filled in
    batches: all or nothing. Original ids and timestamps are kept; the
    metadata says `source: "import"` and the `file` of the record's
    `Location`, so `history` shows what was imported.

    A whole session (`is_whole`: a `sessionlog/1` record, or a session got
    from a store) becomes `SessionCreated` (with its key), one event per
    item (`MessageAdded`, or `ItemAdded` with the item's id, so it folds to
    equal items) and a `StateChanged` for its state. A seed record becomes
    `SessionCreated` plus one `MessageAdded` per message.

    A session already in the log with the same content is skipped; with
    other content (or deleted) it is a conflict: `ImportConflictError`, or
    kept as it is with `on_conflict="skip"`. With `on_conflict="append"`, a
    stored session that is a prefix of its record (same id, title, times,
    owners and key; its items the first of the record's) gets the record's
    further items (and its state); any other difference is still an error.

    Args:
        sessions: (location, session) pairs, e.g. from `read_sessions`.
        progress: called with the number of messages and items of each batch.

    Raises:
        ImportFileError, ImportConflictError: nothing was written.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise ValueError(f"on_conflict must be one of {CONFLICT_POLICIES}, not {on_conflict!r}")
    started = time.perf_counter()
    totals = [0, 0, 0, 0, 0, 0]  # sessions, messages, skipped, conflicts, items, appended
    with store.bulk() as bulk:
        batch: list[tuple[Location | str, Session]] = []
        size = 0
        for item in sessions:
            batch.append(item)
            size += 1 + max(len(item[1].messages), len(item[1].items))
            if size >= batch_size:
                _add(totals, _import_batch(store, bulk, batch, on_conflict), progress)
                batch, size = [], 0
        if batch:
            _add(totals, _import_batch(store, bulk, batch, on_conflict), progress)
    return ImportSummary(totals[0], totals[1], totals[2], totals[3], time.perf_counter() - started,
                         totals[4], totals[5])


def _add(totals: list[int], counts: tuple[int, ...], progress) -> None:
    for i, n in enumerate(counts):
        totals[i] += n
    if progress:
        progress(counts[1] + counts[4])


def _new_events(existing: Session | None, version: int, session: Session,
                on_conflict: str) -> list[Event] | str:
    """What a record adds to a session already there: [] (the same), the
    events to append ("append" and a prefix), or why it is a conflict."""
    if existing is None:
        return "was deleted"
    if is_whole(session):
        same = (header(existing) == header(session) if is_whole(existing)
                else seed_fields(existing) == seed_fields(session) and session.key is None)
        have, want = existing.items, session.items
        if same and have == want and existing.state == session.state:
            return []
        if on_conflict == "append" and same and want[:len(have)] == have:
            events = item_events(session, want[len(have):], version)
            if existing.state != session.state:
                events.append(StateChanged(session.id, state_delta(existing.state, session.state),
                                           session.updated_at or session.created_at))
            return events
    else:
        if seed_fields(existing) == seed_fields(session):  # what the file can hold
            return []
        before, after = seed_fields(existing), seed_fields(session)
        n = len(existing.messages)
        if (on_conflict == "append" and before is not None and after is not None
                and before[:3] + before[4:] == after[:3] + after[4:]
                and session.messages[:n] == existing.messages):
            return [message_event(session.id, m) for m in session.messages[n:]]
    return "is already in the log with other content"


def _key_clash(bulk: BulkWrite, keys: dict[tuple[str | None, str], str],
               session: Session) -> str | None:
    """Why a new session cannot have its key (another live session of its
    tenant holds it, in the log or earlier in this batch), or None."""
    if session.key is None or not is_whole(session):
        return None
    scope, sid = (session.tenant_id, session.key), str(session.id)
    holder = keys.get(scope) or find_by_key(bulk.db, session.key, session.tenant_id)
    if holder is not None and holder != sid:
        return f"has key {session.key!r}, which live session {holder} already holds"
    keys[scope] = sid
    return None


def _import_batch(store, bulk, batch, on_conflict) -> tuple[int, ...]:
    present = bulk.existing({str(s.id) for _, s in batch})
    plan: list[tuple[str | None, tuple[str, list[Event], int]]] = []
    seen: dict[str, tuple[Session, int, list[Event]]] = {}  # planned: session, version, events
    counts = [0, 0, 0, 0, 0, 0]  # sessions, messages, skipped, conflicts, items, appended
    keys: dict[tuple[str | None, str], str] = {}  # (tenant, key) -> session, in this batch
    existing: Session | None
    events: list[Event]
    for location, session in batch:
        sid = str(session.id)
        if sid in present or sid in seen:
            if sid in seen:
                existing, version, events = seen[sid]
            else:
                existing = fold_all(store.log.read_stream(sid))
                version, events = (existing.version if existing else 0), []
            new = _new_events(existing, version, session, on_conflict)
            if isinstance(new, str):
                if on_conflict == "skip":
                    counts[3] += 1
                    continue
                raise ImportConflictError(location, sid, new)
            if not new:
                counts[2] += 1
                continue
            if sid not in seen:
                plan.append((getattr(location, "file", None), (sid, events, version)))
                counts[5] += 1
            events += new
            seen[sid] = (session, version + len(new), events)
        else:
            clash = _key_clash(bulk, keys, session)
            if clash is not None:
                if on_conflict == "skip":
                    counts[3] += 1
                    continue
                raise ImportConflictError(location, sid, clash)
            if is_whole(session):
                events = whole_events(session)
            else:
                events = [SessionCreated(session.id, session.title, session.created_at,
                                         session.user_id, session.tenant_id)]
                events += [message_event(session.id, m) for m in session.messages]
            seen[sid] = (session, len(events), events)
            plan.append((getattr(location, "file", None), (sid, events, 0)))
            counts[0] += 1
            new = events
        for e in new:
            if isinstance(e, MessageAdded) or (isinstance(e, ItemAdded) and e.text is not None
                                               and e.role in MESSAGE_ROLES):
                counts[1] += 1
            elif isinstance(e, ItemAdded):
                counts[4] += 1
    for file, run in groupby(plan, key=itemgetter(0)):  # metadata names each record's file
        meta = {"source": "import"} if file is None else {"source": "import", "file": file}
        try:
            bulk.commit([item for _, item in run], meta)
        except ValueError as e:  # text that cannot be stored: find whose
            for location, session in batch:
                try:
                    record_to_json(session).encode("utf-8")
                except UnicodeEncodeError:
                    raise ImportFileError(location, str(e)) from None
            raise
    return tuple(counts)


def export_sessions(store: EventSourcedSessionStore, tenant_id: str | None = None,
                    page: int = 500, *, format: str = "seed") -> Iterator[str]:
    """Yield one JSON line per live session, newest first, a page of
    sessions at a time (memory does not grow with the store).

    Args:
        format: "sessionlog" for `sessionlog/1` records (everything a session
            holds; what `sessionlog export` writes), "seed" for the seed's
            session JSON (id, title, times, owners and messages only).

    The export is the store as of the log's last position when it starts:
    sessions created, changed or deleted meanwhile do not change it. It
    holds no read transaction open: each page is read in a short one, and a
    session written since the start is folded from the log up to that
    position (the log is append-only and gapless), so a long export beside a
    writer does not pin SQLite's WAL.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, not {format!r}")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValueError(f"page must be a positive integer, not {page!r}")
    encode = record_to_json if format == "sessionlog" else session_to_json
    return _export(store, tenant_id, page, encode)


_Keyed = tuple[tuple[str, int], Session]


def _export(store, tenant_id, page, encode) -> Iterator[str]:
    upto = scanned = store.log.last_position()  # the export: the store as of `upto`
    touched: set[str] = set()  # streams with events after `upto`
    pending: list[_Keyed] = []  # live at `upto`, deleted since, not yet reached; newest last
    after = None
    while True:
        rows, head = store.keyed_page(tenant_id, page, after)
        for batch in store.log.read_batches(scanned + 1, to_position=head):
            for event in batch:
                touched.add(event.stream_id)
                if event.type == "SessionDeleted":
                    gone = _as_of(store, event.stream_id, upto)
                    # a key before `after`: an earlier page, read before the delete, had it
                    if gone is not None and (after is None or gone[0] < after) and \
                            (tenant_id is None or gone[1].tenant_id == tenant_id):
                        insort(pending, gone, key=itemgetter(0))
        scanned = max(scanned, head)
        for key, session in rows:
            while pending and pending[-1][0] > key:
                yield encode(pending.pop()[1])
            if str(session.id) in touched:
                then = _as_of(store, str(session.id), upto)
                if then is None:  # created after `upto`
                    continue
                session = then[1]
            yield encode(session)
        if len(rows) < page:
            while pending:
                yield encode(pending.pop()[1])
            return
        after = rows[-1][0]


def _as_of(store, stream_id: str, position: int) -> _Keyed | None:
    """A session as it stood at `position`, folded from the log, with its
    key (see `keyed_page`); None if it was not live then."""
    events = store.log.read_stream(stream_id, until=position)
    session = fold_all(events) if events and events[0].type == "SessionCreated" else None
    if session is None:
        return None
    return (events[0].data["created_at"], events[0].position), session
