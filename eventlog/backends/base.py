"""What a backend must do: the seam between `EventLog` (validation,
versions, idempotency, the hash chain: written once) and a database (which
only stores, reads and locks).

A new database is a new class that satisfies `Backend` (mypy checks
`SqliteBackend` and `PostgresBackend` against it), plus a branch in
`factory.open_backend`. Connections are the driver's own (SQLite) or a thin
wrapper with the same `execute`/`executemany` shape and `?` placeholders
(PostgreSQL's `PgConnection`), so they stay `Any` here.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .dialect import SQLiteDialect


class Watcher(Protocol):
    """Waits for commits (see `EventLog.subscribe`): `mark()` before a read,
    then `wait(stop, timeout)` returns once something may have been
    committed since the mark (or `stop` is set, or `timeout` passed)."""

    def mark(self) -> None: ...

    def wait(self, stop: threading.Event, timeout: float) -> None: ...


class Backend(Protocol):
    """Storage, reads and the writers' lock of one log."""

    @property
    def name(self) -> str:
        """"sqlite" or "postgres"."""

    @property
    def dialect(self) -> SQLiteDialect:
        """The SQL that views write on this database."""

    @property
    def versions_sql(self) -> str:
        """Each stream's version, for several streams in one query (one
        parameter: a JSON array of stream ids); rows of (stream id, version)."""

    @property
    def read_only(self) -> bool:
        """Every write raises `ReadOnlyError`."""

    @property
    def current(self) -> bool:
        """The stored layout is this release's (else the first write migrates)."""

    @property
    def group_commit(self) -> bool:
        """Whether concurrent writes should share a commit (`EventLog.run`)."""

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """The write connection's lock (held by a write transaction, and by a
        group-commit leader across its batches)."""

    @property
    def conn(self) -> Any:
        """The write connection."""

    @property
    def default_connection(self) -> Any:
        """The connection `EventLog.connection` gives outside a transaction."""

    def connect(self) -> Any:
        """A new connection of its own to the log's database, in autocommit
        mode (a file or server database: in memory it would see another)."""

    def writing(self) -> AbstractContextManager[Any]:
        """The write connection inside a write transaction, the writers'
        lock held: committed on success, rolled back on exception. Driver
        errors leave untranslated (the caller calls `translate`)."""

    def reading(self) -> AbstractContextManager[Any]:
        """A read transaction: one snapshot for every query inside."""

    def reader(self) -> AbstractContextManager[Any]:
        """A connection for a read outside any transaction."""

    def watcher(self) -> AbstractContextManager[Watcher]:
        """Something to wait on for commits."""

    def is_writer(self, conn: object) -> bool:
        """Is `conn` the connection of a write transaction?"""

    def data_version(self) -> int:
        """Inside a write transaction: a number that moves whenever another
        connection or process committed (not on this object's own commits)."""

    def log_top(self) -> int | None:
        """Inside a write transaction: the log's last position when the
        backend read it for free (PostgreSQL's lock does), else None. A
        cached tail that differs from it is read again."""

    def peek_data_version(self) -> int | None:
        """`data_version` outside a transaction, or None when it cannot be
        had without waiting (a writer holds the write connection)."""

    def translate(self, exc: BaseException) -> Exception | None:
        """The library error to raise for a driver error (None: not one to
        translate; integrity errors pass as they are)."""

    def is_unique_violation(self, exc: BaseException) -> bool:
        """Whether a driver error is a broken UNIQUE constraint."""

    def migrate(self, conn: Any) -> str | None:
        """Inside a write: bring the tables up to date; what was done, or None."""

    def mark_pending(self, conn: Any, position: int) -> None:
        """Inside a write: note that appends from `position` await projection."""

    def missing_triggers(self, conn: Any) -> list[str]:
        """The append-only triggers that were dropped."""

    def install_triggers(self, conn: Any) -> None:
        """(Re)create the append-only triggers."""

    def vacuum(self) -> None:
        """Give free space back (see `EventLog.vacuum`)."""

    def file_bytes(self) -> int:
        """The bytes the log takes on disk (0 in memory)."""

    def close(self) -> None:
        """Close every connection."""
