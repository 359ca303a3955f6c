"""Opening the SQLite file, and the one place sqlite3 errors become
`EventLogError`s."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
import urllib.parse
from contextlib import closing

from ..errors import EventLogError, ReadOnlyError, StorageError

SYNCHRONOUS = ("normal", "full")


def translate(e: sqlite3.Error, path: str) -> EventLogError:
    """Turn a sqlite3 error into one clear `EventLogError` (the one place this
    is done), by its SQLite result code, never by the words of its message."""
    code = _primary(e)
    if code == sqlite3.SQLITE_FULL:
        full = StorageError(f"{path}: disk or database is full; nothing was written")
        full.errno = errno.ENOSPC  # callers tell a full disk by it, as for any OSError
        return full
    if code == sqlite3.SQLITE_READONLY:
        return ReadOnlyError(f"{path}: database is read-only; nothing was written")
    if code == sqlite3.SQLITE_CANTOPEN:
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            return StorageError(f"{path}: directory {parent} does not exist")
        return StorageError(f"{path}: cannot open database file")
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return StorageError(f"{path}: not a sessionlog database or the file is corrupt")
    if code in _BUSY:
        return StorageError(f"{path}: database stayed locked by another writer; try again")
    if code == sqlite3.SQLITE_IOERR:
        return StorageError(f"{path}: disk I/O error ({e.sqlite_errorname}); nothing was written")
    return StorageError(f"{path}: {e}")


_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _primary(e: sqlite3.Error) -> int | None:
    """The primary SQLite result code of an error (extended codes keep it in
    their low byte), or None when sqlite3 raised it without one."""
    code = getattr(e, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


#: The WAL is cut back to this size whenever a checkpoint lets it restart, so a
#: burst of writes beside a long read does not keep its disk space for ever.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


def is_memory(path: str) -> bool:
    """Whether `path` names an in-memory database (one connection only)."""
    return path == ":memory:" or path.startswith("file::memory:") or "mode=memory" in path


def connect(path: str, synchronous: str = "normal",
            timeout: float = 30.0) -> tuple[sqlite3.Connection, str | None]:
    """Open the write connection in autocommit mode (we issue BEGIN
    ourselves), WAL, with a busy timeout.

    Returns:
        (connection, None), or (connection, uri) for a file that exists but
        cannot be written (read-only file, directory or mount, where not even
        the `-shm` file can be created): it is then opened for reading only,
        through `uri` (see `read_only_uri`).
    """
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, not {synchronous!r}")
    uri = None
    try:
        conn = _open(path, timeout)
        try:
            if not is_memory(path):
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if mode != "wal":
                    retry(lambda: conn.execute("PRAGMA journal_mode = WAL"), timeout)
                conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        except sqlite3.Error as e:
            conn.close()
            uri = read_only_uri(path, e)
            if uri is None:
                raise
            conn = _open(uri, timeout, uri=True)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as e:
        raise translate(e, path) from e
    return conn, uri


def connect_reader(path: str, timeout: float = 30.0) -> sqlite3.Connection:
    """Open one more connection to a file database, for reads only."""
    try:
        return _open(path, timeout, uri=path.startswith("file:"))
    except sqlite3.Error as e:
        raise translate(e, path) from e


def _open(path: str, timeout: float, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                           check_same_thread=False, cached_statements=256, uri=uri)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


def read_only_uri(path: str, error: sqlite3.Error) -> str | None:
    """The URI that reads an existing file this process cannot write, or
    None when `error` is not about that (or no safe way exists).

    `mode=ro` when SQLite can still share the WAL index; `immutable=1` when
    not even that can be created, and only if no `-wal` file holds changes
    (immutable reads ignore it: they would miss committed writes)."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code not in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY) or not os.path.isfile(path):
        return None
    if os.access(path, os.W_OK) and os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        return None  # writable after all: the error is something else
    base = "file:" + urllib.parse.quote(os.path.abspath(path))
    try:
        with closing(sqlite3.connect(f"{base}?mode=ro", uri=True)) as probe:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return f"{base}?mode=ro"
    except sqlite3.Error:
        pass
    try:
        wal = os.path.getsize(path + "-wal")
    except OSError:
        wal = 0
    if wal:
        raise ReadOnlyError(
            f"{path}: cannot be written, and its -wal file holds changes that SQLite "
            "reads only with write access to the directory; copy both files somewhere "
            "writable to read them")
    return f"{base}?immutable=1"


def retry(fn, timeout: float, attempts: int = 5):
    """Run `fn`, retrying a bounded number of times while the database is busy
    (on top of SQLite's own busy timeout)."""
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as e:
            if _primary(e) not in _BUSY or attempt == attempts - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, timeout))
    raise AssertionError("unreachable")


