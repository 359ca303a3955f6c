"""The append-only event log: one table, a hash chain, optimistic
concurrency per stream, and idempotent appends.

Every public write opens its own write transaction, or joins the one the
caller opened with `EventLog.transaction()`, so that a projection can update
its tables in the same commit as the events it reads. The logic lives in
eventlog, once: this module (lifecycle, transactions, reads, notes),
`appender` (checking, chaining and inserting events), `groupcommit`; a
backend (`eventlog.backends`) only stores, reads and locks.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from . import chain, sealing
from .appender import Appender
from .backends import Backend, backend_over, open_backend
from .backends.urls import shown
from .chain import LogNotes
from .errors import ReadOnlyError, SealedFileError
from .events import Event
from .groupcommit import GroupCommit
from .ids import uuid7  # noqa: F401  (importable from here, as before)
from .reads import LogReads
from .recorded import RecordedEvent

_T = TypeVar("_T")


class EventLog(LogReads, LogNotes):
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
        self.backend: Backend = open_backend(self.path, synchronous, timeout)
        #: True when the file could be opened for reading only (read-only
        #: file, directory or mount): every write raises `ReadOnlyError`.
        self.read_only = self.backend.read_only
        self._local = threading.local()  # per thread: the connection of its open transaction
        self._init_write_state(group_commit=self.backend.group_commit)
        self._layout_checked = False  # an older layout is migrated on the first write
        if not self.backend.current:  # a new file (or a pre-release one): set up now
            try:
                with self.transaction():
                    pass  # the first write of this object migrates
            except BaseException:
                self.backend.close()
                raise
        if sealer is None and sealing.is_sealed(self.backend.conn):
            self.backend.close()
            raise SealedFileError(
                f"{shown(self.path)} is an erasable "
                f"{'file' if self.backend.name == 'sqlite' else 'log'} (its personal fields are "
                "encrypted): open it with erasable=True")
        if sealer is not None:
            try:
                sealer.attach(self)
            except BaseException:
                self.close()
                raise
            self.sealer = sealer

    @property
    def sealer(self) -> sealing.Sealer | None:
        """What keeps personal fields sealed (None: a plain log)."""
        return self._appender.sealer

    @sealer.setter
    def sealer(self, sealer: sealing.Sealer | None) -> None:
        self._appender.sealer = sealer

    def reveal(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """Events read from the table, with sealed fields opened (as every
        read of this log gives them)."""
        sealer = self._appender.sealer
        return events if sealer is None else sealer.reveal(events)

    def _migrate(self, conn: Any) -> None:
        """Inside a write: bring an older layout up to date (once per object:
        another process may have done it meanwhile), noting what was done."""
        done = self.backend.migrate(conn)
        self._layout_checked = True
        if done is not None:
            (last,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            kind = chain.TRIGGERS_REINSTALLED if "reinstalled" in done else chain.LAYOUT_MIGRATED
            chain.add_note(conn, kind, last, done)
            self._appender.noted()

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
        log._init_write_state(group_commit=False)
        log._layout_checked = True
        return log

    def _init_write_state(self, group_commit: bool) -> None:
        #: Checks, chains and inserts events; keeps the stamp and what the
        #: last append left.
        self._appender = Appender(self.backend)
        #: Group commit: calls of `run` queued by threads share a transaction.
        self.group_commit = group_commit
        self._group = GroupCommit(self.transaction, self.backend.lock, self._appender.forget)

    # -- transactions -------------------------------------------------------

    @property
    def connection(self) -> Any:
        """The connection of this thread's open `transaction()` or
        `snapshot()`, else the write connection, for tables that live beside
        the log. Prefer the connection those context managers yield.
        Whoever takes it may change anything: what was cached starts over."""
        with self.backend.lock:
            self._appender.forget()
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
        saved = joined, local.get("depth", 0)
        appender = self._appender
        try:
            with self.backend.writing() as conn:
                local["conn"], local["depth"] = conn, 1
                appender.wdv = None
                try:
                    if not self._layout_checked:
                        self._migrate(conn)
                    yield conn
                finally:
                    local["conn"], local["depth"] = saved
                    appender.wdv = None
        except BaseException as exc:
            appender.rolled_back()  # whatever was cached from inside is gone
            self._layout_checked = False  # and so is a migration it ran
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
        try:
            with self.backend.reader() as conn:
                yield conn
        except BaseException as exc:  # a damaged page, a full disk: one clear error
            error = self.backend.translate(exc)
            if error is not None:
                raise error from exc
            raise

    def stamp(self) -> tuple[int, int, int]:
        """Inside a write transaction: a value that changes whenever the log
        may have changed behind a cache's back: this object's token, the
        backend's data version (read once per transaction; SQLite's
        `PRAGMA data_version`: it moves when another connection or process
        commits, not on this connection's own commits), and a counter this
        object bumps on every append and every rollback. Equal stamps:
        nothing was written in between except through this object, and
        nothing rolled back."""
        return self._appender.stamp()

    def forget_cached(self) -> None:
        """Move the stamp on: everything cached against it starts over (for
        writes made behind the log's back, such as rewritten views)."""
        with self.backend.lock:
            self._appender.forget()

    def read_stamp(self) -> tuple[int, int, int] | None:
        """`stamp()` for a read about to start, or None when it cannot be
        had without waiting (a writer holds the write connection) or would
        not describe what the read sees (inside an older open snapshot).
        Taken before the read: what the read sees is at least that new."""
        conn = self._local.__dict__.get("conn")
        if conn is not None:
            return self._appender.stamp() if self.backend.is_writer(conn) else None
        return self._appender.peek_stamp()

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
        if self.group_commit:
            conn = self._local.__dict__.get("conn")
            if conn is None or not self.backend.is_writer(conn):  # not inside our own write
                return self._group.run(fn)
        with self.transaction() as conn:
            return fn(conn)

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
        append = self._appender.append
        return self.run(lambda conn: append(
            conn, stream_id, events, expected_version, metadata, event_ids, True))

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
            return self._appender.append_many(conn, batch, metadata, True)

    def append_many_in(self, conn: Any,
                       batch: Iterable[tuple[str, Iterable[Event], int | None]],
                       metadata: Mapping[str, Any] | None = None, *,
                       pending: bool = False) -> list[RecordedEvent]:
        """`append_many` inside the caller's open transaction (the unit of
        work of a store); `pending`: see `append_in`."""
        return self._appender.append_many(conn, batch, metadata, pending)

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
        return self._appender.append(conn, stream_id, events, expected_version, metadata,
                                     event_ids, pending)

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
