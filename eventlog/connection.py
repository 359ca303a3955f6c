"""Opening the SQLite file, and the one place sqlite3 errors become
`EventLogError`s."""

from __future__ import annotations

import os
import sqlite3
import time

from .errors import EventLogError, ReadOnlyError, StorageError

SYNCHRONOUS = ("normal", "full")


def translate(e: sqlite3.Error, path: str) -> EventLogError:
    """Turn a sqlite3 error into one clear `EventLogError` (the one place this
    is done), by its SQLite result code, never by the words of its message."""
    code = _primary(e)
    if code == sqlite3.SQLITE_FULL:
        return StorageError(f"{path}: disk or database is full; nothing was written")
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


def connect(path: str, synchronous: str = "normal", timeout: float = 30.0) -> sqlite3.Connection:
    """Open a connection in autocommit mode (we issue BEGIN ourselves), WAL,
    with a busy timeout."""
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, not {synchronous!r}")
    try:
        conn = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False,
            cached_statements=256,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if path != ":memory:" and not path.startswith("file::memory:"):
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                _retry(lambda: conn.execute("PRAGMA journal_mode = WAL"), timeout)
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    except sqlite3.Error as e:
        raise translate(e, path) from e
    return conn


def _retry(fn, timeout: float, attempts: int = 5):
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


