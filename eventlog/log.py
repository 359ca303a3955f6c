"""The append-only event log: one table, a hash chain, optimistic
concurrency per stream, and idempotent appends.

Every public write opens its own write transaction, or joins the one the
caller opened with `EventLog.transaction()`, so that a projection can update
its tables in the same commit as the events it reads. The logic lives here,
once; a backend (`eventlog.backends.sqlite`) only stores, reads and locks.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from . import chain, lean, sealing
from .backends.factory import backend_over, open_backend
from .chain import ChainWalk
from .checks import uuid_from_int
from .codec import GENESIS_HASH, SCHEMA_VERSION, _string, dumps, format_sortable
from .errors import (
    ChainBrokenError,
    ConcurrencyError,
    DuplicateEventError,
    EventDecodeError,
    EventLogError,
    ReadOnlyError,
    SealedFileError,
)
from .events import EVENT_TYPES, Event, ScopeStateChanged, SubjectErased, stream_of
from .recorded import COLUMNS, RecordedEvent

_T = TypeVar("_T")
_INSERT = f"INSERT INTO events ({COLUMNS}, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): new event ids land at the
    end of the `event_id` index instead of on a random page."""
    return uuid_from_int(_uuid7_int(time.time_ns()))


def _uuid7_int(ns: int) -> int:
    return (ns // 1_000_000) << 80 | _random.getrandbits(80) & _UUID7_MASK | _UUID7_BITS


# Version 7 in bits 79-76 and the RFC variant in bits 63-62 of the random tail.
_UUID7_MASK = ~(0xF << 76 | 0x3 << 62) & (1 << 80) - 1
_UUID7_BITS = 0x7 << 76 | 0x2 << 62
_random = random.Random()  # seeded from os.urandom; reseeded in forked children
os.register_at_fork(after_in_child=_random.seed)


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


def _encode(stream_id: str, events: Iterable[Event]) -> list[tuple[str, dict[str, Any], str]]:
    """Validate that the events belong to the stream and encode them:
    (type name, data, canonical JSON text) each."""
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


_QUOTED = {name: _string(name) for name in EVENT_TYPES}
_TOKENS = itertools.count(1)
_LEAD_ROUNDS = 8  # batches one leader runs before handing the lead on


class _Call:
    """One queued `EventLog.run` call and its outcome."""

    __slots__ = ("done", "error", "fn", "result", "wake")

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Event()

    def run(self, conn: Any) -> None:
        try:
            self.result = self.fn(conn)
        except Exception as e:
            self.error = e


class EventLog:
    """An append-only log of session events, in one SQLite file.

    Thread-safe: writes share one connection, serialised by a lock; reads of a
    file database run on a small pool of read connections (each `snapshot()`
    in its own WAL snapshot), so they never wait for a writer nor hold one up.
    An in-memory database has one connection for both. Several processes may
    open the same file: WAL, a busy timeout and `BEGIN IMMEDIATE` for every
    write, with bounded retries.

    Args:
        path: the SQLite file (created if missing) or ":memory:".
        synchronous: "normal" (a returned write survives a process crash) or
            "full" (it also survives a power cut).
        timeout: seconds to wait for another writer's lock.
        sealer: keeps personal fields sealed (see `eventlog.sealing`); a
            sealed file refuses to open without one.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *,
                 synchronous: str = "normal", timeout: float = 30.0,
                 sealer: sealing.Sealer | None = None) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        #: What stores, reads and locks (`backend.name`: "sqlite" or "postgres").
        self.backend = open_backend(self.path, synchronous, timeout)
        #: True when the file could be opened for reading only (read-only
        #: file, directory or mount): every write raises `ReadOnlyError`.
        self.read_only = self.backend.read_only
        self._local = threading.local()  # per thread: the connection of its open transaction
        self._meta_cache: dict[tuple, tuple[dict[str, Any], str, str]] = {}
        self._notes_ready = False
        self._good_tail: tuple[int, str] | None = None
        self._init_write_state(group_commit=self.backend.group_commit)
        self._layout_checked = False  # an older layout is migrated on the first write
        self.sealer: sealing.Sealer | None = None
        if not self.backend.current:  # a new file (or a pre-release one): set up now
            try:
                with self.transaction():
                    pass  # the first write of this object migrates
            except BaseException:
                self.backend.close()
                raise
        if self.backend.name == "sqlite" and sealer is None and sealing.is_sealed(self.backend.conn):
            self.backend.close()
            raise SealedFileError(
                f"{self.path} is an erasable file (its personal fields are encrypted): open it "
                "with erasable=True")
        if sealer is not None:
            try:
                sealer.attach(self)
            except BaseException:
                self.close()
                raise
            self.sealer = sealer

    def reveal(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """Events read from the table, with sealed fields opened (as every
        read of this log gives them)."""
        return events if self.sealer is None else self.sealer.reveal(events)

    def _migrate(self, conn: Any) -> None:
        """Inside a write: bring an older layout up to date (once per object:
        another process may have done it meanwhile), noting what was done."""
        done = self.backend.migrate(conn)
        self._layout_checked = True
        if done is not None:
            (last,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            kind = chain.TRIGGERS_REINSTALLED if "reinstalled" in done else chain.LAYOUT_MIGRATED
            chain.add_note(conn, kind, last, done)
            self._notes_ready = True
            self._seq += 1

    @classmethod
    def from_connection(cls, conn: Any, path: str) -> EventLog:
        """A read-only log over a connection the caller opened, owns, and
        holds a transaction on (verify's isolated snapshot): every read goes
        through it. Not for writes; closing it leaves `conn` open."""
        log = cls.__new__(cls)
        log.path, log.timeout = path, 30.0
        log.backend = backend_over(conn, path)
        log.read_only, log._local = True, threading.local()
        log._local.conn, log._local.depth = conn, 1  # this thread reads inside the caller's
        log._meta_cache, log._notes_ready, log._good_tail = {}, False, None
        log._init_write_state(group_commit=False)
        log._layout_checked = True
        log.sealer = None
        return log

    def _init_write_state(self, group_commit: bool) -> None:
        self._clock = lean.Clock()
        # What the last append left, so the next one need not read it back:
        # valid while `stamp()` equals `_cache_at` (see `stamp`).
        self._token = next(_TOKENS)  # no other log object's stamp can equal ours
        self._seq = 0
        self._wdv: int | None = None  # the backend's data version, this transaction
        self._cache_at: tuple[int, int, int] | None = None
        self._tail: tuple[int, str, str] = (0, GENESIS_HASH, "")
        self._versions: dict[str, int] = {}
        #: Group commit: calls of `run` queued by threads share a transaction.
        self.group_commit = group_commit
        self._queue: list[_Call] = []
        self._queue_lock = threading.Lock()
        self._leading = False

    # -- transactions -------------------------------------------------------

    @property
    def connection(self) -> Any:
        """The connection of this thread's open `transaction()` or
        `snapshot()`, else the write connection, for tables that live beside
        the log. Prefer the connection those context managers yield.
        Whoever takes it may change anything: what was cached starts over."""
        with self.backend.lock:
            self._seq += 1
        return self._local.__dict__.get("conn") or self.backend.default_connection

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction (SQLite: `BEGIN IMMEDIATE` on the write
        connection), committed on success and rolled back on any exception.
        Nested calls join the outer one (and a write inside an in-memory
        snapshot joins it)."""
        local = self._local.__dict__
        joined = local.get("conn")
        if joined is not None and self.backend.is_writer(joined):
            local["depth"] += 1
            try:
                yield joined
            finally:
                local["depth"] -= 1
            return
        if self.read_only:
            raise ReadOnlyError(f"{self.path}: opened read-only (the file, its directory or "
                                "its mount cannot be written); writes are impossible")
        saved = local.get("conn"), local.get("depth", 0)
        try:
            with self.backend.writing() as conn:
                local["conn"], local["depth"] = conn, 1
                self._wdv = None
                try:
                    if not self._layout_checked:
                        self._migrate(conn)
                    yield conn
                finally:
                    local["conn"], local["depth"] = saved
                    self._wdv = None
        except BaseException as exc:
            self._notes_ready = False  # a table it created is rolled back too
            self._layout_checked = False  # and so is a migration it ran
            self._seq += 1  # whatever was cached from inside is gone
            error = self.backend.translate(exc)
            if error is not None:
                raise error from exc
            raise

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        """A read transaction: every query inside sees the same state.

        It runs on a read connection of its own (file databases), so it never
        waits for a writer and no writer waits for it; inside this thread's
        open transaction or snapshot it joins that one."""
        local = self._local.__dict__
        if local.get("depth"):
            local["depth"] += 1
            try:
                yield local["conn"]
            finally:
                local["depth"] -= 1
            return
        try:
            with self.backend.reading() as conn:
                local["conn"], local["depth"] = conn, 1
                try:
                    yield conn
                finally:
                    local["conn"], local["depth"] = None, 0
        except BaseException as exc:
            error = self.backend.translate(exc)
            if error is not None:
                raise error from exc
            raise

    @contextmanager
    def reader(self) -> Iterator[Any]:
        """A connection to read on: this thread's open one, else one from
        the backend (a pooled read connection, or the shared one)."""
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            yield conn
            return
        with self.backend.reader() as conn:
            yield conn

    def stamp(self) -> tuple[int, int, int]:
        """Inside a write transaction: a value that changes whenever the log
        may have changed behind a cache's back: this object's token, the
        backend's data version (read once per transaction; SQLite's
        `PRAGMA data_version`: it moves when another connection or process
        commits, not on this connection's own commits), and a counter this
        object bumps on every append and every rollback. Equal stamps:
        nothing was written in between except through this object, and
        nothing rolled back."""
        dv = self._wdv
        if dv is None:
            dv = self._wdv = self.backend.data_version()
        return self._token, dv, self._seq

    def forget_cached(self) -> None:
        """Move the stamp on: everything cached against it starts over (for
        writes made behind the log's back, such as rewritten views)."""
        with self.backend.lock:
            self._seq += 1

    def read_stamp(self) -> tuple[int, int, int] | None:
        """`stamp()` for a read about to start, or None when it cannot be
        had without waiting (a writer holds the write connection) or would
        not describe what the read sees (inside an older open snapshot).
        Taken before the read: what the read sees is at least that new."""
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            return self.stamp() if self.backend.is_writer(conn) else None
        dv = self.backend.peek_data_version()
        return None if dv is None else (self._token, dv, self._seq)

    def run(self, fn: Callable[[Any], _T]) -> _T:
        """`fn(conn)` in a write transaction; returns what it returns.

        With `group_commit` (on at synchronous="full"), calls made by several
        threads at once share one transaction and one fsync: calls queue, one
        thread (the leader) runs every queued call, each in its own
        savepoint, commits once, wakes their callers and hands the lead to
        the next queued call. A call returns only after the commit that holds
        its writes; a call that raises is rolled back to its savepoint and
        fails alone.
        """
        if not self.group_commit or self._in_own_transaction():
            with self.transaction() as conn:
                return fn(conn)
        call = _Call(fn)
        with self._queue_lock:
            self._queue.append(call)
            lead = not self._leading
            self._leading = True
        if not lead:
            call.wake.wait()  # done, or handed the lead
        if not call.done:
            try:
                with self.backend.lock:
                    # Lead a few rounds while calls keep coming: handing the
                    # lead to another thread costs a thread switch (the GIL's
                    # switch interval) per batch.
                    for _ in range(_LEAD_ROUNDS):
                        with self._queue_lock:
                            batch, self._queue = self._queue, []
                        if not batch:
                            break
                        self._run_batch(batch)
            finally:
                with self._queue_lock:
                    if self._queue:
                        self._queue[0].wake.set()  # not done: it leads next
                    else:
                        self._leading = False
        if call.error is not None:
            raise call.error
        return call.result

    def _in_own_transaction(self) -> bool:
        """Is this thread inside a write transaction (a write that must join
        it rather than queue behind it)?"""
        conn = self._local.__dict__.get("conn")
        return conn is not None and self.backend.is_writer(conn)

    def _run_batch(self, batch: list[_Call]) -> None:
        """Run queued calls in one transaction (holding the lock), then mark
        them done and wake their callers."""
        try:
            with self.transaction() as conn:
                if len(batch) == 1:
                    batch[0].run(conn)
                    if batch[0].error is not None:
                        raise batch[0].error
                else:
                    for call in batch:
                        conn.execute("SAVEPOINT group_commit")
                        call.run(conn)
                        if call.error is not None:
                            self._seq += 1
                            conn.execute("ROLLBACK TO group_commit")
                        conn.execute("RELEASE group_commit")
        except BaseException as exc:
            for call in batch:
                if call.error is None:
                    call.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for call in batch:
                call.done = True
                call.wake.set()

    # -- writes -------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        events: Iterable[Event],
        expected_version: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        event_ids: Sequence[uuid.UUID | str] | None = None,
    ) -> list[RecordedEvent]:
        """Append events to a stream, atomically, at the end of the log,
        marked pending for projections (`schema.PENDING`): a store's inline
        views take them up on its next write, or when it opens.

        Args:
            stream_id: the stream (for a session, `str(session_id)`).
            events: session events, in order.
            expected_version: the stream's current version, or 0 for "must not
                exist yet"; None skips the check.
            metadata: JSON-able dict stored with every event; `source`
                defaults to "api".
            event_ids: one UUID per event, to make a retried append
                idempotent: if every id is already in the log, the events
                recorded then are returned and nothing is written.

        Returns:
            The recorded events, with positions, versions and hashes.

        Raises:
            ConcurrencyError: the stream is not at `expected_version`.
            DuplicateEventError: only some of `event_ids` are recorded, or under
                another stream.
            ValueError: bad arguments or text that cannot be stored.
            StorageError: the file could not be written.
        """
        return self.run(lambda conn: self.append_in(
            conn, stream_id, events, expected_version, metadata, event_ids, pending=True))

    def append_many(
        self,
        batch: Iterable[tuple[str, Iterable[Event], int | None]],
        metadata: Mapping[str, Any] | None = None,
    ) -> list[RecordedEvent]:
        """Append to several streams at once, atomically: the bulk path.
        Marked pending for projections, as `append`.

        Args:
            batch: (stream_id, events, expected_version) triples, applied in
                order; expected_version as for `append`.
            metadata: stored with every event.

        Raises:
            ConcurrencyError, ValueError, StorageError: as `append`; nothing
                of the batch is written.
        """
        with self.transaction() as conn:
            return self.append_many_in(conn, batch, metadata, pending=True)

    def append_many_in(self, conn: Any,
                       batch: Iterable[tuple[str, Iterable[Event], int | None]],
                       metadata: Mapping[str, Any] | None = None, *,
                       pending: bool = False) -> list[RecordedEvent]:
        """`append_many` inside the caller's open transaction (the unit of
        work of a store); `pending`: see `append_in`."""
        plan = [(stream_id, self._sealed(conn, stream_id, _encode(stream_id, events)), expected)
                for stream_id, events, expected in batch]
        return self._write(conn, plan, metadata, None, pending)

    def append_in(self, conn: Any, stream_id: str, events: Iterable[Event],
                  expected_version: int | None = None,
                  metadata: Mapping[str, Any] | None = None,
                  event_ids: Sequence[uuid.UUID | str] | None = None, *,
                  pending: bool = False) -> list[RecordedEvent]:
        """`append` inside the caller's open transaction (`conn`, from
        `transaction()` or `run`): the way a store appends and applies its
        inline views in one commit. Writes nothing on error.

        `pending`: mark the events as appended without projection (see
        `schema.PENDING`). A caller that applies its inline projections in
        the same transaction passes False."""
        encoded = self._sealed(conn, stream_id, _encode(stream_id, events))
        if not encoded or event_ids is None:
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

    def _sealed(self, conn, stream_id: str, encoded: list) -> list:
        if self.sealer is None or not encoded:
            return encoded
        return self.sealer.seal(conn, stream_id, encoded)

    def _write(self, conn, plan, metadata, ids, pending=False) -> list[RecordedEvent]:
        """Chain and insert planned (stream_id, encoded events, expected_version)
        items at the end of the log. Checks every version before writing.

        The log's tail and the streams' versions come from what this object
        last wrote when `stamp()` says nothing changed since; else they are
        read (one query, plus one for further streams).
        """
        plan = [item for item in plan if item[1]]
        if not plan:
            return []
        meta, meta_text, meta_q = self._meta_entry(metadata)
        stamp = self.stamp()
        versions = self._versions
        if stamp != self._cache_at:
            # Not the tail this object wrote (or something rolled back): read
            # it, check it links and that no break is recorded.
            versions.clear()
            if not self._notes_ready:
                conn.execute(chain.NOTES_DDL)
                self._notes_ready = True
            row = conn.execute(_TAIL, (plan[0][0], *_TAIL_ARGS)).fetchone()
            if row:
                self._check_tail(conn, row)
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
            stream_q = _string(stream_id)
            for type_name, data, data_text in encoded:
                pos += 1
                current += 1
                if ids:
                    eid = ids[pos - prev_pos - 1]
                    event_id = uuid.UUID(eid)
                else:
                    n = _uuid7_int(ns)
                    eid, event_id = lean.uuid_text(n), uuid_from_int(n)
                type_q = _QUOTED.get(type_name) or _string(type_name)
                prev_hash = lean.chain_hash(prev_hash, pos, eid, stream_q, current, type_q,
                                            data_text, meta_q, now)
                rows.append((pos, eid, stream_id, current, type_name, data_text, meta_text, now,
                             prev_hash, SCHEMA_VERSION, eid if ids else None))
                recorded.append(RecordedEvent(pos, event_id, stream_id, current,
                                              type_name, data, meta, moment, prev_hash))
            written[stream_id] = current
        try:
            if len(rows) == 1:
                conn.execute(_INSERT, rows[0])
            else:
                conn.executemany(_INSERT, rows)
            if pending:
                self.backend.mark_pending(conn, prev_pos + 1)
        finally:
            self._seq += 1  # written, or partly: the cache is stamped anew or void
        if len(versions) > 4096:
            versions.clear()
        versions.update(written)
        self._tail = (pos, prev_hash, now)
        self._good_tail = (pos, prev_hash)
        self._cache_at = (self._token, stamp[1], self._seq)
        return recorded

    def _check_tail(self, conn, row) -> None:
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

    def _meta_entry(self, metadata: Mapping[str, Any] | None) -> tuple[dict[str, Any], str, str]:
        """The metadata dict (source defaulted to "api"), its JSON text, and
        that text as a JSON string literal (for the chain). Writers repeat
        the same few metadata dicts: each is encoded once."""
        try:
            key = tuple(metadata.items()) if metadata else ()
            entry = self._meta_cache.get(key)
        except TypeError:  # unhashable values
            key, entry = None, None
        if entry is None:
            meta = {"source": "api", **(metadata or {})}
            text = dumps(meta)
            entry = (meta, text, _string(text))
            if key is not None:
                if len(self._meta_cache) > 256:
                    self._meta_cache.clear()
                self._meta_cache[key] = entry
        return dict(entry[0]), entry[1], entry[2]

    def _recorded_ids(self, conn, ids: list[str]) -> list[RecordedEvent]:
        found = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"{_SELECT} WHERE idempotency_key IN ({marks})", chunk):
                found[row[1]] = RecordedEvent.from_row(row)
        return self.reveal([found[i] for i in ids if i in found])

    # -- reads --------------------------------------------------------------

    def read_stream(self, stream_id: str, until: int | datetime | None = None) -> list[RecordedEvent]:
        """Every event of one stream, by version ([] for an unknown stream).

        Args:
            until: only events up to this global position (int), or recorded
                at or before this moment (aware datetime).
        """
        sql = f"{_SELECT} WHERE stream_id = ?"
        params: list[Any] = [stream_id]
        if isinstance(until, datetime):
            sql += " AND recorded_at <= ?"
            params.append(format_sortable(until))
        elif until is not None:
            sql += " AND position <= ?"
            params.append(until)
        with self.reader() as conn:
            rows = conn.execute(sql + " ORDER BY version", params).fetchall()
        return self.reveal([RecordedEvent.from_row(r) for r in rows])

    def read_all(self, from_position: int = 0, *, batch_size: int = 1000) -> Iterator[RecordedEvent]:
        """Every event with `position >= from_position`, in position order.

        Streams in batches of `batch_size`: memory does not grow with the log,
        and no lock is held between batches.
        """
        for batch in self.read_batches(from_position, batch_size=batch_size):
            yield from batch

    def read_batches(self, from_position: int = 0, *, batch_size: int = 1000,
                     to_position: int | None = None,
                     chain: ChainWalk | None = None) -> Iterator[list[RecordedEvent]]:
        """Like `read_all`, a list of up to `batch_size` events at a time,
        optionally stopping after `to_position`.

        Args:
            chain: check each row's link on the way (see `walk_after`): a
                strict walk raises `ChainBrokenError` at the first bad row; a
                lenient one notes it in `chain.problems`, skips rows that
                cannot be read, and goes on.
        """
        last = max(from_position, 1) - 1
        end = to_position if to_position is not None else -1
        while True:
            with self.reader() as conn:
                rows = conn.execute(
                    f"{_SELECT} WHERE position > ? AND (? < 0 OR position <= ?) "
                    "ORDER BY position LIMIT ?",
                    (last, end, end, batch_size),
                ).fetchall()
            if not rows:
                return
            if chain is None:
                yield self.reveal([RecordedEvent.from_row(r) for r in rows])
            else:
                yield self.reveal(self._checked(rows, chain))
            last = rows[-1][0]

    @staticmethod
    def _checked(rows, chain: ChainWalk) -> list[RecordedEvent]:
        events = []
        for row in rows:
            problem = chain.feed(row)
            if problem is not None:
                if chain.strict:
                    raise ChainBrokenError(*problem)
                chain.problems.append(problem)
            try:
                events.append(RecordedEvent.from_row(row))
            except EventDecodeError:
                if chain.strict:
                    raise
                chain.problems.append((row[0], "unreadable event, left out"))
        return events

    def subscribe(self, from_position: int = 1, *, stop: threading.Event | None = None,
                  batch_size: int = 1000, wake: float = 1.0) -> Iterator[RecordedEvent]:
        """Every event from `from_position` on, in position order, then each
        new one as it is committed, for ever: a live follower (a projection
        in another process, `sessionlog tail --follow`).

        It always reads from its position; commits only wake it (SQLite: a
        connection of its own polls `PRAGMA data_version`; PostgreSQL:
        LISTEN/NOTIFY), and it also looks every `wake` seconds, so a lost
        wake-up only delays an event. Positions are gapless in commit order
        on both backends, so nothing is skipped.

        Args:
            stop: set it (from any thread) to end the iteration; closing the
                iterator ends it too.
        """
        stop = stop or threading.Event()
        last = max(from_position, 1) - 1
        with self.backend.watcher() as watcher:
            while not stop.is_set():
                watcher.mark()  # before the read: a commit after it wakes us
                for batch in self.read_batches(last + 1, batch_size=batch_size):
                    for event in batch:
                        yield event
                        last = event.position
                        if stop.is_set():
                            return
                watcher.wait(stop, wake)

    def walk_after(self, position: int, *, strict: bool = True) -> ChainWalk:
        """A hash-chain walk that goes on after `position` (0: from the start)."""
        if position <= 0:
            return ChainWalk(strict=strict)
        with self.reader() as conn:
            row = conn.execute(
                "SELECT hash, recorded_at FROM events WHERE position = ?", (position,)).fetchone()
        if row is None:
            raise ChainBrokenError(position, "this event is missing")
        return ChainWalk(position, row[0], row[1], strict=strict)

    def record_break(self, position: int, detail: str) -> None:
        """Note that the chain is broken at `position`: writes refuse from
        then on. Nothing is written if that is already the latest note, or
        the file cannot be written."""
        try:
            with self.transaction() as conn:
                if chain.chain_state(conn) != (chain.BROKEN, position):
                    chain.add_note(conn, chain.BROKEN, position, detail)
                    self._seq += 1  # the next write must read the note
        except EventLogError:
            pass

    def record_intact(self, position: int, detail: str) -> None:
        """Note that a walk up to `position` found the whole chain intact
        after a break was noted: writes go on. Nothing is written otherwise."""
        try:
            with self.transaction() as conn:
                state = chain.chain_state(conn)
                if state is not None and state[0] == chain.BROKEN:
                    chain.add_note(conn, chain.INTACT, position, detail)
                    self._seq += 1
        except EventLogError:
            pass

    def notes(self) -> list[dict[str, Any]]:
        """The log's notes, oldest first: breaks found, triggers reinstalled,
        rebuilds forced (see `eventlog.chain`)."""
        with self.reader() as conn:
            return chain.read_notes(conn)

    def repair_triggers(self) -> list[str]:
        """Reinstall the append-only triggers if any was dropped, and record
        that in the log's notes (with the position the log had reached), so
        the gap stays visible to `verify` and `stats`. Returns the names of
        the triggers reinstalled ([] when none was missing: nothing written).
        """
        with self.transaction() as conn:
            missing = self.backend.missing_triggers(conn)
            if not missing:
                return []
            self.backend.install_triggers(conn)
            (last,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            chain.add_note(conn, chain.TRIGGERS_REINSTALLED, last, (
                f"{', '.join(missing)} had been dropped; edits made without them show only in "
                "the hash chain"))
        return missing

    def last_position(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        with self.reader() as conn:
            row = conn.execute("SELECT max(position) FROM events").fetchone()
        return row[0] or 0

    def vacuum(self) -> None:
        """Give free pages back to the disk: fold the WAL into the database
        and truncate it, rewrite the file without free pages (VACUUM needs
        free space about the database's size), truncate the WAL again.

        Raises:
            StorageError: the disk is full or another connection is busy.
        """
        if self._local.__dict__.get("depth"):
            raise RuntimeError("vacuum() cannot run inside a transaction")
        if self.read_only:
            raise ReadOnlyError(f"{self.path}: opened read-only; nothing was written")
        self.backend.vacuum()

    def file_bytes(self) -> int:
        """The size of the database file and its WAL (0 in memory)."""
        return self.backend.file_bytes()

    def close(self) -> None:
        """Close the connections. Further calls fail."""
        self.backend.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
