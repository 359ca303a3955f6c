"""The SQLite backend: it stores, reads and locks; `EventLog` does the rest.

One write connection, serialised by an in-process lock and `BEGIN IMMEDIATE`
(bounded retries while another process holds the file); reads of a file
database on a small pool of read connections, each in its own WAL snapshot.
An in-memory database lives on one connection: reads share it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import EventLogError, StorageError
from . import schema
from .base import Backend
from .connection import connect, connect_reader, is_memory, retry, translate
from .dialect import SQLITE
from .pool import ReaderPool

#: Each stream's version, for several streams in one query (`?`: a JSON array
#: of stream ids).
VERSIONS = (
    "SELECT value, coalesce((SELECT max(version) FROM events WHERE stream_id = value), 0) "
    "FROM json_each(?)"
)


#: How often a SQLite follower looks for commits (seconds).
POLL = 0.05


class Watcher:
    """Waits for commits: `mark()` before a read, then `wait(stop, timeout)`
    returns once something may have been committed since the mark (or
    `stop` is set, or `timeout` passed)."""

    def mark(self) -> None:
        raise NotImplementedError

    def changed(self) -> bool:
        raise NotImplementedError

    def wait(self, stop: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.changed():
            left = deadline - time.monotonic()
            if left <= 0 or stop.wait(min(POLL, left)):
                return


class _FileWatcher(Watcher):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.seen = conn, -1

    def mark(self) -> None:
        self.seen = self.conn.execute("PRAGMA data_version").fetchone()[0]

    def changed(self) -> bool:
        return self.conn.execute("PRAGMA data_version").fetchone()[0] != self.seen


class _MemoryWatcher(Watcher):
    def __init__(self, backend: SqliteBackend) -> None:
        self.backend, self.seen = backend, -1

    def _last(self) -> int:
        with self.backend.lock:
            return self.backend.conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0

    def mark(self) -> None:
        self.seen = self._last()

    def changed(self) -> bool:
        return self._last() != self.seen


def _no_reader() -> sqlite3.Connection:
    raise AssertionError("a backend over a caller's connection reads through it only")


class SqliteBackend:
    """Storage, reads and the writer lock of a log in one SQLite file.

    Args:
        path: the file (created if missing) or ":memory:".
        synchronous: "normal" or "full" (see `EventLog`).
        timeout: seconds to wait for another writer's lock.
    """

    name = "sqlite"
    #: The SQL that views write on this database (`eventlog.backends.dialect`).
    dialect = SQLITE
    versions_sql = VERSIONS

    def __init__(self, path: str, synchronous: str = "normal", timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self.conn, self.read_only_uri = connect(path, synchronous, timeout)
        #: True when the file could be opened for reading only.
        self.read_only = self.read_only_uri is not None
        #: The write connection's lock (held by a write transaction, and by a
        #: group-commit leader across its batches).
        self.lock = threading.RLock()
        # An in-memory database exists on one connection only: reads share it.
        self.shared = is_memory(path)
        self.pool: ReaderPool[sqlite3.Connection] = ReaderPool(
            lambda: connect_reader(self.read_only_uri or self.path, self.timeout))
        self._pages_checked = self.shared  # in memory: nothing on disk to check
        #: Group commit pays off where each commit waits for a flush.
        self.group_commit = synchronous == "full"
        try:
            self.current = schema.is_current(self.conn)
        except sqlite3.Error as e:
            self.conn.close()
            raise translate(e, path) from e
        except BaseException:
            self.conn.close()
            raise

    @classmethod
    def over(cls, conn: sqlite3.Connection, path: str) -> SqliteBackend:
        """A backend reading through a connection the caller opened, owns,
        and holds a transaction on. Not for writes."""
        backend = cls.__new__(cls)
        backend.path, backend.timeout, backend.conn, backend.read_only_uri = path, 30.0, conn, None
        backend.read_only, backend.shared = True, True
        backend.lock, backend.pool = threading.RLock(), ReaderPool(_no_reader)
        backend._pages_checked, backend.group_commit, backend.current = True, False, True
        return backend

    def connect(self) -> sqlite3.Connection:
        """A new connection of its own to the file, in autocommit mode (in
        memory it would open another, empty database)."""
        return connect_reader(self.read_only_uri or self.path, self.timeout)

    # -- errors -------------------------------------------------------------

    def translate(self, exc: BaseException) -> EventLogError | None:
        """The `EventLogError` for a driver error (None: not one to translate;
        integrity errors pass as they are, for the caller to judge)."""
        if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
            return translate(exc, self.path)
        return None

    @staticmethod
    def is_unique_violation(exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and (
            getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_CONSTRAINT

    # -- writes -------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The write connection inside `BEGIN IMMEDIATE`, this process's
        writer lock held: committed on success, rolled back on exception.
        Driver errors leave untranslated (the caller translates)."""
        with self.lock:
            if not self._pages_checked:
                self._check_pages()
            retry(lambda: self.conn.execute("BEGIN IMMEDIATE"), self.timeout)
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def is_writer(self, conn: object) -> bool:
        """Is `conn` the connection of a write transaction?"""
        return conn is self.conn

    def data_version(self) -> int:
        """Inside a write transaction: a number that moves whenever another
        connection or process commits (not on this connection's commits)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def log_top(self) -> int | None:
        """None: `data_version` already moves for every other writer."""
        return None

    def peek_data_version(self) -> int | None:
        """`data_version` outside a transaction, or None when it cannot be
        had without waiting (a writer holds the write connection)."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            return self.conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return None
        finally:
            self.lock.release()

    def _check_pages(self) -> None:
        """Before this object's first write: SQLite's `PRAGMA quick_check`
        (every page readable, b-trees well formed; about 2 ms per MB), so
        nothing is added to a damaged file."""
        try:
            found = [r[0] for r in self.conn.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as e:
            found = [str(e)]
        if found != ["ok"]:
            # quick_check's rows hold several lines ("*** in database main ***\nOn tree
            # page 10 ..."): the first problem is enough for one line.
            problems = [line.strip() for row in found for line in row.splitlines()
                        if line.strip() and not line.startswith("***")] or ["unknown"]
            more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
            raise StorageError(
                f"{self.path}: the file has damaged pages ({problems[0]}{more}); "
                "nothing was written. Restore a backup (see the README's \"After a failed "
                "verify\")")
        self._pages_checked = True

    def migrate(self, conn: sqlite3.Connection) -> str | None:
        """Inside a write: create or upgrade the log's tables (see
        `schema.migrate`); what an upgrade did, or None."""
        done = schema.migrate(conn)
        conn.execute(schema.PENDING_DDL)
        return done

    def mark_pending(self, conn: sqlite3.Connection, position: int) -> None:
        """Inside a write: note appends from `position` await projection."""
        schema.mark_pending(conn, position)

    def missing_triggers(self, conn: sqlite3.Connection) -> list[str]:
        have = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")}
        return [t for t in schema.TRIGGER_NAMES if t not in have]

    def install_triggers(self, conn: sqlite3.Connection) -> None:
        schema.install_triggers(conn)

    # -- reads --------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction on a connection of its own (the shared one in
        memory, where a write may join it: then it commits here)."""
        with self.reader() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:  # keep the first error
                        pass
                raise
            if conn.in_transaction:  # a write joined an in-memory snapshot
                conn.execute("COMMIT")

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A connection for a read outside any transaction: a pooled read
        connection (file databases), or the shared one under the lock."""
        if self.shared:
            with self.lock:
                yield self.conn
            return
        with self.pool.lend() as conn:
            yield conn

    @property
    def default_connection(self) -> sqlite3.Connection:
        """The connection `EventLog.connection` gives outside a transaction."""
        return self.conn

    @contextmanager
    def watcher(self) -> Iterator[Watcher]:
        """Something to wait on for commits (see `EventLog.subscribe`): a
        connection of its own whose `PRAGMA data_version` moves when any
        other connection commits (in memory: the last position)."""
        if self.shared:
            yield _MemoryWatcher(self)
            return
        conn = connect_reader(self.read_only_uri or self.path, self.timeout)
        try:
            yield _FileWatcher(conn)
        finally:
            conn.close()

    # -- upkeep -------------------------------------------------------------

    def vacuum(self) -> None:
        """Fold the WAL into the file, rewrite it without free pages, and
        truncate the WAL (see `EventLog.vacuum`)."""
        with self.lock:
            try:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                retry(lambda: self.conn.execute("VACUUM"), self.timeout)
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as e:
                raise translate(e, self.path) from e

    def file_bytes(self) -> int:
        """The size of the database file and its WAL (0 in memory)."""
        if self.path == ":memory:":
            return 0
        return sum(os.path.getsize(self.path + ext)
                   for ext in ("", "-wal") if os.path.exists(self.path + ext))

    def close(self) -> None:
        with self.lock:
            self.pool.close()
            self.conn.close()


_check: type[Backend] = SqliteBackend  # mypy: the class does all a backend must
