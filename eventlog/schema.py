"""The events table: its DDL, the append-only triggers, and migrations.

The schema version of the file is kept in `PRAGMA user_version`.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from .errors import LayoutError

#: The file layout this release writes.
DB_VERSION = 1

EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    hash TEXT NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (stream_id, version)
)
"""

TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events is append-only: DELETE is not allowed'); END;
"""


TRIGGER_NAMES = ("events_no_update", "events_no_delete")


def install_triggers(conn: sqlite3.Connection) -> None:
    """Create the append-only triggers that are missing. Inside a write
    transaction (one statement at a time: executescript() would commit)."""
    for statement in TRIGGERS.strip().split("END;"):
        if statement.strip():
            conn.execute(statement + "END;")


def is_current(conn: sqlite3.Connection) -> bool:
    """True when the file needs no migration (so opening writes nothing,
    and a read-only file can still be read).

    Raises:
        LayoutError: the file is in a newer layout than this release reads.
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    _refuse_newer(conn, current)
    return current == DB_VERSION


def _refuse_newer(conn: sqlite3.Connection, current: int) -> None:
    if current > DB_VERSION:
        path = conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:"
        raise LayoutError(path, current, DB_VERSION)


def migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the events table. Call inside a write transaction."""
    db = sqlite_utils.Database(conn)
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    _refuse_newer(conn, current)
    if "events" not in db.table_names():
        conn.execute(EVENTS_DDL)
    elif "schema_version" not in db["events"].columns_dict:
        # Layout 0 (pre-release) had no per-event schema version: its events
        # are version 0 and are upcast when read.
        db.table("events").add_column("schema_version", int, not_null_default=0)
    if current != DB_VERSION:
        # Only when the file is new or upgraded: a file whose triggers were
        # dropped by hand keeps that evidence for `verify` to report.
        install_triggers(conn)
        conn.execute(f"PRAGMA user_version = {DB_VERSION}")
