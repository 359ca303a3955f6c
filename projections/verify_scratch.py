"""Where `verify` reads and folds: a connection of its own whose scratch
schema takes the fresh copies of the views (SQLite: the main database of a
connection that attaches the store's file as `log`; PostgreSQL: the
session's temporary schema), so a verify never writes the store's file and
a killed one leaves nothing behind.

It holds no read transaction for the whole run (#19 item 10): each step is
one short transaction (`Scratch.step`), so a long verify beside a writer
does not pin SQLite's WAL. The log up to a position is a consistent
snapshot without one: it is append-only and gapless. What an erasable
store's reads need of the keys as they were is in
`projections.erasure.key_snapshot`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sqlite3
from collections.abc import Iterator
from typing import Any, Protocol

from eventlog import EventLog
from eventlog.backends.connection import translate
from eventlog.backends.dialect import Db

from .erasure.key_snapshot import add_new_keys, freeze_keys, frozen_cipher
from .erasure.sealer import Sealer
from .runner import ProjectionRunner

#: Past this size of the store's WAL, verify checkpoints it between two steps.
WAL_BOUND = 8 * 2**20
#: Seconds that checkpoint waits for a writer at most.
_CHECKPOINT_WAIT = 0.2


class Verified(Protocol):
    """What the scratch needs of a store (see `verify.VerifiedStore`)."""

    log: EventLog
    runner: ProjectionRunner


class Scratch:
    """verify's connection (`db`, wrapped with the cipher that reads the
    frozen keys), the schema of the store's tables as seen from it
    (`schema`; None on PostgreSQL, where the store's are found through the
    search path), and `reader`: a shallow copy of the store whose log and
    runner read through this connection."""

    def __init__(self, store: Any, conn: Any, schema: str | None, *, own: bool,
                 pg_schema: str | None = None) -> None:
        self.conn, self.schema, self.own = conn, schema, own
        self.path = store.log.path
        self.reader = reader = copy.copy(store)
        cipher = store.runner.cipher
        if own:
            reader.log = EventLog.from_connection(conn, self.path)
            sealer = store.log.sealer
            reader.log.sealer = sealer
            if isinstance(sealer, Sealer):
                reader.log.sealer, cipher = frozen_cipher(sealer, reader.log)
            reader.runner = copy.copy(store.runner)
            reader.runner.cipher = cipher
        self.db: Db = store.runner.dialect.wrap(conn, cipher)
        self.erasable = own and isinstance(store.log.sealer, Sealer)
        self.postgres = store.runner.dialect.name == "postgres"
        #: Whether `step` helps the store's WAL checkpoint along (see `_checkpoint`).
        self.checkpoints = own and not self.postgres and not store.log.read_only
        self.wal, self.timeout = f"{self.path}-wal", store.log.timeout
        #: The prefix of the store's tables in SQL ('"log".', or '').
        self.src = f"{self.db.q(schema)}." if schema else ""
        #: PostgreSQL: the store's schema, by name (the key copy reads it).
        self.keys_from = self.src or (f"{self.db.q(pg_schema)}." if pg_schema else "")

    @contextlib.contextmanager
    def step(self) -> Iterator[Db]:
        """One short transaction: every read inside sees one state of the
        store; fresh tables written inside are kept. In memory (no other
        connection can see the database) the whole run is one transaction
        of the store's own connection already."""
        if not self.own:
            yield self.db
            return
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if self.postgres else "BEGIN")
        try:
            yield self.db
        except BaseException:
            with contextlib.suppress(Exception):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        if self.checkpoints:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Between two steps, when the store's WAL has grown past
        `WAL_BOUND`: a TRUNCATE checkpoint (it copies back what writers
        committed and starts the WAL over; what the file holds does not
        change), waiting at most `_CHECKPOINT_WAIT` for a writer. A
        writer's own automatic checkpoint cannot start the WAL over while a
        reader is inside a snapshot, and back-to-back short reads beside a
        busy writer leave it hardly a moment when none is."""
        try:
            if os.path.getsize(self.wal) <= WAL_BOUND:
                return
        except OSError:
            return
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute(f"PRAGMA busy_timeout = {int(_CHECKPOINT_WAIT * 1000)}")
            try:
                self.conn.execute("PRAGMA log.wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")

    def freeze_keys(self) -> None:
        """Inside the first step: the keys as they are now (see
        `projections.erasure.key_snapshot`)."""
        if self.erasable:
            freeze_keys(self.conn, self.keys_from, "" if self.postgres else "main.")

    def add_new_keys(self) -> None:
        """Inside the last step: keys made since `freeze_keys` join the copy."""
        if self.erasable:
            add_new_keys(self.conn, self.keys_from, "pg_temp." if self.postgres else "main.")
            self.reader.log.forget_cached()  # key look-ups cached before start over


@contextlib.contextmanager
def scratch(store: Any) -> Iterator[Scratch]:
    """verify's `Scratch`, closed (its fresh tables and copied keys gone) after."""
    path = store.log.path
    if store.runner.dialect.name == "postgres":
        with _pg_scratch(store) as found:
            yield found
        return
    if path == ":memory:" or path.startswith("file::memory:"):
        # No second connection can see it: hold the store's own, under its
        # lock, for the whole check, and roll the scratch tables back.
        class _Done(Exception):
            pass

        with contextlib.suppress(_Done), store.runner.transaction() as db:
            yield Scratch(store, db.conn, "main", own=False)
            raise _Done
        return
    try:
        # "file:" (URI mode, so a read-only file attaches as the log opened it)
        conn = sqlite3.connect("file:", isolation_level=None, check_same_thread=False, uri=True)
        conn.execute(f"PRAGMA busy_timeout = {int(store.log.timeout * 1000)}")
        conn.execute("ATTACH DATABASE ? AS log",
                     (getattr(store.log.backend, "read_only_uri", None) or path,))
    except sqlite3.Error as e:
        raise translate(e, path) from e
    try:
        yield Scratch(store, conn, "log", own=True)
    except sqlite3.Error as e:
        raise translate(e, path) from e
    finally:
        conn.close()


@contextlib.contextmanager
def _pg_scratch(store: Any) -> Iterator[Scratch]:
    """PostgreSQL: a connection of its own whose temporary schema, searched
    first, takes the fresh tables (they die with the connection)."""
    conn = store.log.backend.connect()
    try:
        (path,) = conn.execute("SHOW search_path").fetchone()
        (schema,) = conn.execute("SELECT current_schema()").fetchone()
        conn.execute(f"SET search_path = pg_temp, {path}")
        yield Scratch(store, conn, None, own=True, pg_schema=schema)
    finally:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        conn.close()
