"""Appending: events checked against their stream, encoded, sealed, chained
and inserted at the end of the log, inside a write transaction the caller
holds (`EventLog` opens it).

The `Appender` is the log's one "what changed since" owner: it keeps the
log's stamp (see `EventLog.stamp`) and, against it, what its last append
left (the tail and the streams' versions), so the next append need not read
them back. It reads the stamp once per write.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from . import chain, lean
from .backends.base import Backend
from .checks import uuid_from_int
from .codec import GENESIS_HASH, SCHEMA_VERSION, dumps, json_string
from .errors import ChainBrokenError, ConcurrencyError, DuplicateEventError
from .events import EVENT_TYPES, Event, ScopeStateChanged, SubjectErased, stream_of
from .ids import uuid7_int
from .recorded import COLUMNS, RecordedEvent
from .sealing import Encoded, Sealer

#: One event row, as the log stores it.
INSERT = f"INSERT INTO events ({COLUMNS}, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT = f"SELECT {COLUMNS} FROM events"
# The stream's version, the log's tail (for the hash chain), whether a break
# was recorded, and the tail row whole with the hash before it (to check the
# tail's link), in one read: one round trip under the writers' lock.
_TAIL = (
    "SELECT (SELECT max(version) FROM events WHERE stream_id = ?), position, hash, recorded_at, "
    f"(SELECT CASE kind WHEN ? THEN position END FROM {chain.NOTES} WHERE kind IN (?, ?) "
    f"ORDER BY id DESC LIMIT 1), {COLUMNS}, "
    "(SELECT hash FROM events p WHERE p.position = e.position - 1) "
    "FROM events e ORDER BY position DESC LIMIT 1"
)
_TAIL_ARGS = (chain.BROKEN, chain.BROKEN, chain.INTACT)

# Each stream's version by one index seek (max() of an index prefix), not a
# GROUP BY that reads every event of every stream (several streams at once:
# the backend's `versions_sql`).
_VERSION = "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = ?"

_QUOTED = {name: json_string(name) for name in EVENT_TYPES}
_TOKENS = itertools.count(1)

#: Planned appends: (stream_id, encoded events, expected_version) each.
Plan = list[tuple[str, list[Encoded], int | None]]
MetaEntry = tuple[dict[str, Any], str, str]


def _owner(stream_id: str) -> uuid.UUID | None:
    """The session a stream id names (its canonical text form only), or None."""
    owner = _OWNERS.get(stream_id)
    if owner is None:
        if not isinstance(stream_id, str) or not stream_id:
            raise ValueError("stream_id must be a non-empty string")
        try:
            owner = uuid.UUID(stream_id)
        except ValueError:
            return None
        if str(owner) != stream_id:
            return None  # only the canonical text form names a session's stream
        if len(_OWNERS) >= 4096:
            _OWNERS.clear()
        _OWNERS[stream_id] = owner
    return owner


_OWNERS: dict[str, uuid.UUID] = {}  # parsed stream ids: writes repeat the same few


def encode_for(stream_id: str, events: Iterable[Event]) -> list[Encoded]:
    """Validate that the events belong to the stream and encode them:
    (type name, data, canonical JSON text) each.

    Raises:
        ValueError: an event of another stream, or a bad stream id.
        TypeError: not a session event.
    """
    owner = _owner(stream_id)
    encoded = []
    for e in events:
        if type(e) is ScopeStateChanged or type(e) is SubjectErased:
            if stream_of(e) != stream_id:
                raise ValueError(f"a {type(e).__name__} belongs to stream {stream_of(e)!r}, "
                                 f"not {stream_id!r}")
        elif owner is None or getattr(e, "session_id", None) != owner:
            raise ValueError(
                f"a session's events belong to stream str(session_id): "
                f"{getattr(e, 'session_id', e)!r} is not {stream_id!r}"
            )
        encoded.append(lean.encode(e))
    return encoded


class Appender:
    """Writes a log's events; owns its stamp and the cache kept against it.

    Args:
        backend: the log's backend (its data version, versions query and
            pending mark).

    Attributes:
        sealer: seals personal fields before they are chained (None: plain).
        wdv: the backend's data version, read at most once per write
            transaction (None: not yet); the log clears it when a
            transaction begins and ends.
    """

    __slots__ = ("_cache_dv", "_cache_seq", "_clock", "_good_tail", "_meta_cache",
                 "_notes_ready", "_seq", "_tail", "_token", "_versions", "backend", "sealer",
                 "wdv")

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.sealer: Sealer | None = None
        self._clock = lean.Clock()
        self._token = next(_TOKENS)  # no other log object's stamp can equal ours
        self._seq = 0
        self.wdv: int | None = None
        # What the last append left, so the next one need not read it back:
        # valid while the stamp's data version and counter are these.
        self._cache_dv: int | None = None
        self._cache_seq = -1
        self._tail: tuple[int, str, str] = (0, GENESIS_HASH, "")
        self._versions: dict[str, int] = {}
        self._good_tail: tuple[int, str] | None = None
        self._meta_cache: dict[tuple[Any, ...], MetaEntry] = {}
        self._notes_ready = False

    # -- the stamp ------------------------------------------------------------

    def stamp(self) -> tuple[int, int, int]:
        """See `EventLog.stamp` (inside a write transaction)."""
        dv = self.wdv
        if dv is None:
            dv = self.wdv = self.backend.data_version()
        return self._token, dv, self._seq

    def peek_stamp(self) -> tuple[int, int, int] | None:
        """The stamp outside a transaction, or None when it cannot be had
        without waiting (see `EventLog.read_stamp`)."""
        dv = self.backend.peek_data_version()
        return None if dv is None else (self._token, dv, self._seq)

    def forget(self) -> None:
        """Move the stamp on: the log may have changed behind our back."""
        self._seq += 1

    def noted(self) -> None:
        """A note was written in this transaction (so the notes table exists)."""
        self._notes_ready = True
        self._seq += 1

    def rolled_back(self) -> None:
        """A write transaction rolled back: what was cached from inside is
        gone, and so is a notes table it created."""
        self._notes_ready = False
        self._seq += 1

    # -- appends --------------------------------------------------------------

    def append(self, conn: Any, stream_id: str, events: Iterable[Event],
               expected_version: int | None = None,
               metadata: Mapping[str, Any] | None = None,
               event_ids: Sequence[uuid.UUID | str] | None = None,
               pending: bool = False) -> list[RecordedEvent]:
        """`EventLog.append_in`: append to one stream inside `conn`'s write
        transaction. Writes nothing on error."""
        encoded = encode_for(stream_id, events)
        if not encoded:
            return []
        if self.sealer is not None:
            encoded = self.sealer.seal(conn, stream_id, encoded)
        if event_ids is None:
            return self._write(conn, [(stream_id, encoded, expected_version)], metadata, None,
                               pending)
        ids = [str(e if isinstance(e, uuid.UUID) else uuid.UUID(str(e))) for e in event_ids]
        if len(ids) != len(encoded) or len(set(ids)) != len(ids):
            raise ValueError("event_ids must be distinct, one per event")
        already = self._recorded_ids(conn, ids)
        if already:
            if len(already) == len(ids) and all(r.stream_id == stream_id for r in already):
                return already
            raise DuplicateEventError(
                str(already[0].event_id),
                f"event {already[0].event_id} is already recorded (stream "
                f"{already[0].stream_id}), but not the whole append",
            )
        return self._write(conn, [(stream_id, encoded, expected_version)], metadata, ids, pending)

    def append_many(self, conn: Any, batch: Iterable[tuple[str, Iterable[Event], int | None]],
                    metadata: Mapping[str, Any] | None = None,
                    pending: bool = False) -> list[RecordedEvent]:
        """`EventLog.append_many_in`: append to several streams inside
        `conn`'s write transaction, all or nothing."""
        sealer = self.sealer
        plan: Plan = []
        for stream_id, events, expected in batch:
            encoded = encode_for(stream_id, events)
            if sealer is not None and encoded:
                encoded = sealer.seal(conn, stream_id, encoded)
            plan.append((stream_id, encoded, expected))
        return self._write(conn, plan, metadata, None, pending)

    def _write(self, conn: Any, plan: Plan, metadata: Mapping[str, Any] | None,
               ids: list[str] | None, pending: bool) -> list[RecordedEvent]:
        """Chain and insert the planned items at the end of the log. Checks
        every version before writing.

        The log's tail and the streams' versions come from what this object
        last wrote when the stamp says nothing changed since; else they are
        read (one query, plus one for further streams).
        """
        plan = [item for item in plan if item[1]]
        if not plan:
            return []
        meta, meta_text, meta_q = self._meta_entry(metadata)
        dv = self.wdv
        if dv is None:
            dv = self.wdv = self.backend.data_version()
        versions = self._versions
        top = self.backend.log_top()
        if (dv != self._cache_dv or self._seq != self._cache_seq
                or (top is not None and top != self._tail[0])):
            # Not the tail this object wrote (or something rolled back): read
            # it, check it links and that no break is recorded.
            versions.clear()
            if not self._notes_ready:
                conn.execute(chain.NOTES_DDL)
                self._notes_ready = True
            row = conn.execute(_TAIL, (plan[0][0], *_TAIL_ARGS)).fetchone()
            if row:
                self._check_tail(row)
                versions[plan[0][0]] = row[0] or 0
                self._tail = row[1:4]
            else:
                self._tail = (0, GENESIS_HASH, "")
        missing = list({stream for stream, _, _ in plan if stream not in versions})
        if len(missing) == 1:
            versions[missing[0]] = conn.execute(_VERSION, missing).fetchone()[0]
        elif missing:
            versions.update(conn.execute(self.backend.versions_sql, (json.dumps(missing),)))
        prev_pos, prev_hash, prev_at = self._tail
        ns = time.time_ns()
        now, moment = self._clock.at(ns)
        if now < prev_at:  # another writer's clock ran ahead: never go back
            now, moment = prev_at, datetime.fromisoformat(prev_at)
        rows, recorded, pos, written = [], [], prev_pos, dict[str, int]()
        for stream_id, encoded, expected in plan:
            current = written.get(stream_id, versions[stream_id])
            if expected is not None and expected != current:
                raise ConcurrencyError(stream_id, expected, current)
            stream_q = json_string(stream_id)
            for type_name, data, data_text in encoded:
                pos += 1
                current += 1
                if ids:
                    eid = ids[pos - prev_pos - 1]
                    event_id = uuid.UUID(eid)
                else:
                    n = uuid7_int(ns)
                    eid, event_id = lean.uuid_text(n), uuid_from_int(n)
                type_q = _QUOTED.get(type_name) or json_string(type_name)
                prev_hash = lean.chain_hash(prev_hash, pos, eid, stream_q, current, type_q,
                                            data_text, meta_q, now)
                rows.append((pos, eid, stream_id, current, type_name, data_text, meta_text, now,
                             prev_hash, SCHEMA_VERSION, eid if ids else None))
                recorded.append(RecordedEvent(pos, event_id, stream_id, current,
                                              type_name, data, meta, moment, prev_hash))
            written[stream_id] = current
        try:
            if len(rows) == 1:
                conn.execute(INSERT, rows[0])
            else:
                conn.executemany(INSERT, rows)
            if pending:
                self.backend.mark_pending(conn, prev_pos + 1)
        finally:
            self._seq += 1  # written, or partly: the cache is stamped anew or void
        if len(versions) > 4096:
            versions.clear()
        versions.update(written)
        self._tail = (pos, prev_hash, now)
        self._good_tail = (pos, prev_hash)
        self._cache_dv, self._cache_seq = dv, self._seq
        return recorded

    def _check_tail(self, row: Sequence[Any]) -> None:
        """Refuse to chain onto a log known to be broken: a break recorded
        by `verify` or a rebuild, or a last row that does not link to the
        one before it (a row added or edited with another tool), from the
        row `_TAIL` read. The tail this object wrote or checked last is not
        hashed again; `verify` checks every row."""
        _, pos, stored, _, broken, *tail, before = row
        if broken is not None:
            raise ChainBrokenError(broken, "the hash chain is broken (found by verify or rebuild)")
        if (pos, stored) == self._good_tail:
            return
        problem = chain.tail_problem(tail, before)
        if problem is not None:
            raise ChainBrokenError(pos, problem)
        self._good_tail = (pos, stored)

    def _meta_entry(self, metadata: Mapping[str, Any] | None) -> MetaEntry:
        """The metadata dict (source defaulted to "api"), its JSON text, and
        that text as a JSON string literal (for the chain). Writers repeat
        the same few metadata dicts: each is encoded once."""
        key: tuple[Any, ...] | None
        try:
            key = tuple(metadata.items()) if metadata else ()
            entry = self._meta_cache.get(key)
        except TypeError:  # unhashable values
            key, entry = None, None
        if entry is None:
            meta = {"source": "api", **(metadata or {})}
            text = dumps(meta)
            entry = (meta, text, json_string(text))
            if key is not None:
                if len(self._meta_cache) > 256:
                    self._meta_cache.clear()
                self._meta_cache[key] = entry
        return dict(entry[0]), entry[1], entry[2]

    def _recorded_ids(self, conn: Any, ids: list[str]) -> list[RecordedEvent]:
        """The events already recorded under these idempotency keys, in
        their order (sealed fields opened)."""
        found = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"{_SELECT} WHERE idempotency_key IN ({marks})", chunk):
                found[row[1]] = RecordedEvent.from_row(row)
        events = [found[i] for i in ids if i in found]
        return events if self.sealer is None else self.sealer.reveal(events)
