"""Bringing conversations in and out: serde JSON sessions (one object, an
array, or JSON Lines) imported as events, and exported as JSON Lines.

Reading streams: memory grows with a batch, not with the file.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any

import attrs

from eventlog import SessionCreated
from eventlog.events import Event

from .errors import ImportConflictError, ImportFileError
from .fold import fold_all
from .models import Session, message_event, seed_fields
from .serde import decode_json, loads, session_from_dict, session_to_json

if TYPE_CHECKING:
    from .stores.eventsourced import EventSourcedSessionStore

CONFLICT_POLICIES = ("error", "skip")
_CHUNK = 1 << 16
_BLANK = re.compile(r"[ \t\r\n]*")


@attrs.frozen
class Location:
    """Where a record is: `FILE:LINE` (JSON Lines, single objects) or
    `FILE: record N` (arrays)."""

    file: str
    line: int | None = None
    record: int | None = None

    def __str__(self) -> str:
        return f"{self.file}: record {self.record}" if self.record else f"{self.file}:{self.line}"


@attrs.frozen
class ImportSummary:
    """What an import did."""

    sessions: int
    messages: int
    skipped: int
    conflicts: int
    seconds: float

    def __str__(self) -> str:
        kept = f", kept {self.conflicts} conflicting as they were" if self.conflicts else ""
        return (f"imported {self.sessions} session(s) with {self.messages} message(s), "
                f"skipped {self.skipped} already present{kept}, in {self.seconds:.2f}s")


def read_records(stream: IO[str], name: str) -> Iterator[tuple[Location, Any]]:
    """Yield (location, decoded JSON value) for each session record of a
    file: a JSON array, a single object, or JSON Lines. An array is parsed
    record by record, one line or not: memory holds one record and a chunk.

    Raises:
        ImportFileError: broken JSON, a key given twice, a number too long or
            nesting too deep, with the line or record where it is.
    """
    # Read up to the first non-blank character; unless it opens an array,
    # up to the end of its line too (to tell JSON Lines from one object).
    parts: list[str] = []
    first = ""
    while chunk := stream.read(_CHUNK):
        parts.append(chunk)
        rest = chunk if first else chunk.lstrip()
        first = first or rest[:1]
        if first == "[" or (first and "\n" in rest):
            break
    head = "".join(parts)
    stripped = head.lstrip()
    if not stripped:
        return
    if stripped[0] == "[":
        yield from _array_records(stream, head, name)
        return
    first_line = stripped.partition("\n")[0]
    try:
        loads(first_line)
    except ValueError:
        # Not JSON Lines: one object spread over several lines.
        text = head + stream.read()
        try:
            yield Location(name, 1), loads(text)
        except json.JSONDecodeError as e:
            raise ImportFileError(Location(name, e.lineno), f"broken JSON: {e.msg}") from None
        except ValueError as e:
            raise ImportFileError(Location(name, 1), str(e)) from None
        return
    yield from _line_records(stream, head, name)


def _line_records(stream: IO[str], head: str, name: str) -> Iterator[tuple[Location, Any]]:
    lineno, pending = 0, head
    while True:
        chunk = stream.read(_CHUNK)
        *lines, pending = (pending + chunk).split("\n")
        for line in lines:
            lineno += 1
            if line.strip():
                yield _decode_line(line, Location(name, lineno))
        if not chunk:
            break
    if pending.strip():
        yield _decode_line(pending, Location(name, lineno + 1))


def _decode_line(line: str, location: Location) -> tuple[Location, Any]:
    try:
        return location, loads(line)
    except json.JSONDecodeError as e:
        raise ImportFileError(location, f"broken JSON: {e.msg} (column {e.colno})") from None
    except ValueError as e:
        raise ImportFileError(location, str(e)) from None


def _array_records(stream: IO[str], buffer: str, name: str) -> Iterator[tuple[Location, Any]]:
    i = buffer.index("[") + 1
    record, eof, expect_value = 0, False, True

    def refill(size: int) -> None:
        # Keep what is not consumed yet, add `size` more characters.
        nonlocal buffer, i, eof
        more = stream.read(size)
        eof = not more
        buffer, i = buffer[i:] + more, 0

    while True:
        i = _BLANK.match(buffer, i).end()  # type: ignore[union-attr]
        if i >= len(buffer):
            if eof:
                raise ImportFileError(Location(name, record=record + 1), "the array is not closed")
            refill(_CHUNK)
            continue
        if buffer[i] == "]" and (not expect_value or record == 0):
            return
        if not expect_value:
            if buffer[i] != ",":
                raise ImportFileError(Location(name, record=record + 1), "expected ',' or ']'")
            i, expect_value = i + 1, True
            continue
        try:
            value, end = decode_json(buffer, i)
        except json.JSONDecodeError as e:
            if not eof:  # maybe cut by the chunk: read as much again (linear in the record)
                refill(max(_CHUNK, len(buffer) - i))
                continue
            raise ImportFileError(Location(name, record=record + 1), f"broken JSON: {e.msg}") from None
        except ValueError as e:
            raise ImportFileError(Location(name, record=record + 1), str(e)) from None
        if end == len(buffer) and not eof:  # a number or literal may go on
            refill(_CHUNK)
            continue
        record += 1
        yield Location(name, record=record), value
        i, expect_value = end, False


def read_sessions(stream: IO[str], name: str) -> Iterator[tuple[Location, Session]]:
    """Like `read_records`, each record read as a `Session`.

    Raises:
        ImportFileError: broken JSON or a bad session, naming where and the field.
    """
    for location, value in read_records(stream, name):
        try:
            yield location, session_from_dict(value)
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
    """Record each session as `SessionCreated` plus one `MessageAdded` per
    message (original ids and timestamps; metadata `source: "import"` and the
    `file` of the record's `Location`), all in one transaction filled in
    batches: all or nothing.

    A session already in the log with the same content is skipped; with
    other content (or deleted) it is a conflict: `ImportConflictError`, or
    skipped when `on_conflict="skip"`.

    Args:
        sessions: (location, session) pairs, e.g. from `read_sessions`.
        progress: called with the number of messages of each batch written.

    Raises:
        ImportFileError, ImportConflictError: nothing was written.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise ValueError(f"on_conflict must be one of {CONFLICT_POLICIES}, not {on_conflict!r}")
    started = time.perf_counter()
    totals = [0, 0, 0, 0]  # sessions, messages, skipped, conflicts
    with store.bulk() as bulk:
        batch: list[tuple[Location | str, Session]] = []
        size = 0
        for item in sessions:
            batch.append(item)
            size += 1 + len(item[1].messages)
            if size >= batch_size:
                _add(totals, _import_batch(store, bulk, batch, on_conflict), progress)
                batch, size = [], 0
        if batch:
            _add(totals, _import_batch(store, bulk, batch, on_conflict), progress)
    return ImportSummary(totals[0], totals[1], totals[2], totals[3], time.perf_counter() - started)


def _add(totals: list[int], counts: tuple[int, ...], progress) -> None:
    for i, n in enumerate(counts):
        totals[i] += n
    if progress:
        progress(counts[1])


def _import_batch(store, bulk, batch, on_conflict) -> tuple[int, int, int, int]:
    present = bulk.existing({str(s.id) for _, s in batch})
    plan: list[tuple[str | None, tuple[str, list[Event], int]]] = []
    seen: dict[str, Session] = {}
    skipped, conflicts, messages = 0, 0, 0
    for location, session in batch:
        sid = str(session.id)
        if sid in present or sid in seen:
            existing = seen.get(sid) or fold_all(store.log.read_stream(sid))
            if seed_fields(existing) == seed_fields(session):  # what the file can hold
                skipped += 1
                continue
            if on_conflict == "skip":
                conflicts += 1
                continue
            why = "was deleted" if existing is None else "is already in the log with other content"
            raise ImportConflictError(location, sid, why)
        seen[sid] = session
        events: list[Event] = [SessionCreated(session.id, session.title, session.created_at,
                                 session.user_id, session.tenant_id)]
        events += [message_event(session.id, m) for m in session.messages]
        plan.append((getattr(location, "file", None), (sid, events, 0)))
        messages += len(session.messages)
    for file, run in groupby(plan, key=itemgetter(0)):  # metadata names each record's file
        meta = {"source": "import"} if file is None else {"source": "import", "file": file}
        try:
            bulk.commit([item for _, item in run], meta)
        except ValueError as e:  # text that cannot be stored: find whose
            for location, session in batch:
                try:
                    session_to_json(session).encode("utf-8")
                except UnicodeEncodeError:
                    raise ImportFileError(location, str(e)) from None
            raise
    return len(plan), messages, skipped, conflicts


def export_sessions(store: EventSourcedSessionStore, tenant_id: str | None = None,
                    page: int = 500) -> Iterator[str]:
    """Yield one serde JSON line per live session, newest first, a page of
    sessions at a time (memory does not grow with the store).

    Every page comes from one snapshot (a read transaction held until the
    iterator is exhausted or closed): sessions created or deleted meanwhile
    do not change the export. Exhaust or `close()` the iterator.
    """
    with store.log.snapshot():
        before = None
        while True:
            sessions = (store.list(page, before) if tenant_id is None
                        else store.list_for_tenant(tenant_id, page, before))
            for session in sessions:
                yield session_to_json(session)
            if len(sessions) < page:
                return
            before = sessions[-1].id
