"""A temporary search index, for a SQLite file that cannot be written and
whose search view is missing or behind its log (#19 item 9): a read-only
backup, a file on a read-only mount. Catch-up cannot write the view there,
so `search` would find nothing, or miss what came after the view's
checkpoint.

The index is the search view's own tables (`SearchProjection`), made in a
private temporary database (SQLite's "file:" database: a file in the
temporary directory, deleted when closed, so memory does not grow with the
log) of a connection that attaches the store's file read-only; it is filled
from the log in batches (short reads, with progress), kept while the store
is open and caught up before each search. An erasable store's index is
built as its view is (hashed terms under the file's search key, text
sealed); its keys are read from the attached file. Nothing is written to
the store's file.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from eventlog import EventLog

from ..checkpoints import CHECKPOINTS
from .search import SearchHit, SearchProjection
from .search import search as search_view


class TemporarySearchIndex:
    """The search view of a read-only file, built apart from it (see the
    module). `position`: the last event of the log it holds."""

    def __init__(self, log: EventLog, projection: SearchProjection, dialect: Any,
                 cipher: Any) -> None:
        self.projection, self.position = projection, 0
        self._names = {t: t for t in projection.tables}
        self._lock = threading.Lock()
        source = getattr(log.backend, "read_only_uri", None) or log.path
        conn = sqlite3.connect("file:", isolation_level=None, check_same_thread=False, uri=True)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(log.timeout * 1000)}")
            conn.execute("ATTACH DATABASE ? AS log", (source,))
            self.db = dialect.wrap(conn, cipher)
            # its own (empty) checkpoint table: the file's would say the view
            # exists, and an erasable index made where one exists asks for a purge
            conn.execute(f"CREATE TABLE main.{CHECKPOINTS} (name TEXT PRIMARY KEY, "
                         "position INTEGER NOT NULL)")
            conn.execute("BEGIN")
            projection.create(self.db, self._names)
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def catch_up(self, log: EventLog, progress: Callable[[int], Any] | None = None,
                 batch_size: int = 5000) -> int:
        """Apply what the log holds past `position` (each batch read in a
        short transaction of the log); returns how many events."""
        done = 0
        with self._lock:
            for batch in log.read_batches(self.position + 1, batch_size=batch_size):
                self.conn.execute("BEGIN")
                try:
                    self.projection.apply(self.db, batch, self._names)
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
                self.position, done = batch[-1].position, done + len(batch)
                if progress:
                    progress(len(batch))
        return done

    def search(self, query: str, tenant_id: str | None, limit: int, syntax: str,
               offset: int) -> list[SearchHit]:
        """`views.search.search` on this index."""
        with self._lock:
            return search_view(self.db, query, tenant_id, limit, syntax, offset)

    def close(self) -> None:
        """Drop the index (its temporary file goes with the connection)."""
        with self._lock:
            self.conn.close()
