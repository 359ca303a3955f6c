"""The events table: its DDL, the append-only triggers, and migrations.

The schema version of the file is kept in `PRAGMA user_version`.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from ..errors import LayoutError

#: The file layout this release writes. Layout 2 (this release): no
#: AUTOINCREMENT, `event_id` chained but not indexed, and idempotency by a
#: partial UNIQUE index on `idempotency_key`, which only caller-given event ids
#: fill. Layout 1 files are read as they are and migrated on their first write.
DB_VERSION = 2

#: Layouts this release reads without migrating first.
READABLE = (1, 2)

_EVENTS_COLUMNS = """
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    hash TEXT NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 1,
    idempotency_key TEXT,
    UNIQUE (stream_id, version)
"""
EVENTS_DDL = f"CREATE TABLE IF NOT EXISTS events ({_EVENTS_COLUMNS})"
IDEMPOTENCY_DDL = (
    "CREATE UNIQUE INDEX IF NOT EXISTS events_idempotency_key ON events (idempotency_key) "
    "WHERE idempotency_key IS NOT NULL"
)
_COPIED = ("position, event_id, stream_id, version, type, data, metadata, recorded_at, hash, "
           "schema_version")

#: Appends made without inline projections (plain `EventLog.append` and
#: `append_many`) mark themselves here: one row holding the first position
#: not yet taken up by a projection runner. Writers that apply their inline
#: projections in the same transaction (the store) do not mark, so those
#: projections derive their checkpoint from the log's tail (see
#: `projections.runner`). The runner reads and clears it.
PENDING = "events_pending"
PENDING_DDL = (
    f"CREATE TABLE IF NOT EXISTS {PENDING} "
    "(id INTEGER PRIMARY KEY CHECK (id = 1), from_position INTEGER NOT NULL)"
)
_MARK_PENDING = f"INSERT OR IGNORE INTO {PENDING} (id, from_position) VALUES (1, ?)"

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


def mark_pending(conn: sqlite3.Connection, position: int) -> None:
    """Inside the write that appended from `position` without projecting:
    keep the first such position (an earlier mark stays)."""
    conn.execute(_MARK_PENDING, (position,))


def pending_from(conn: sqlite3.Connection, src: str = "") -> int | None:
    """The first position appended without projection and not yet taken
    up, or None (also when the table is not there: a layout-1 file, or one
    never written by this release). `src`: a schema prefix such as '"log".'."""
    if conn.execute(f"SELECT 1 FROM {src}sqlite_master WHERE name = ?",
                    (PENDING,)).fetchone() is None:
        return None
    row = conn.execute(f"SELECT from_position FROM {src}{PENDING}").fetchone()
    return None if row is None else row[0]


def clear_pending(conn: sqlite3.Connection) -> None:
    """Inside a write transaction: every pending append is taken up."""
    conn.execute(f"DELETE FROM {PENDING}")


def layout(conn: sqlite3.Connection) -> int:
    """The file's layout (`PRAGMA user_version`; 0: new or pre-release).

    Raises:
        LayoutError: the file is in a newer layout than this release reads.
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    _refuse_newer(conn, current)
    return current


def is_current(conn: sqlite3.Connection) -> bool:
    """True when the file can be opened without writing (so a read-only
    file can still be read): layout 1 is read as it is and migrated on the
    first write (see `migrate`).

    Raises:
        LayoutError: the file is in a newer layout than this release reads.
    """
    return layout(conn) in READABLE


def _refuse_newer(conn: sqlite3.Connection, current: int) -> None:
    if current > DB_VERSION:
        path = conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:"
        raise LayoutError(path, current, DB_VERSION)


def migrate(conn: sqlite3.Connection) -> str | None:
    """Create or upgrade the events table to `DB_VERSION`. Call inside a
    write transaction; returns what an upgrade of an existing log did (to
    record in the log's notes), or None.

    Layout 1 to 2 copies the events into a table of the new layout, row for
    row (every column, so every hash stays valid; `idempotency_key` =
    `event_id`, so a retry of an append made before still records once),
    then installs the index and the append-only triggers.
    """
    db = sqlite_utils.Database(conn)
    current = layout(conn)
    if current == DB_VERSION:
        return None
    if "events" not in db.table_names():
        conn.execute(EVENTS_DDL)
        conn.execute(IDEMPOTENCY_DDL)
        install_triggers(conn)
        conn.execute(f"PRAGMA user_version = {DB_VERSION}")
        return None
    if "schema_version" not in db["events"].columns_dict:
        # Layout 0 (pre-release) had no per-event schema version: its events
        # are version 0 and are upcast when read.
        db.table("events").add_column("schema_version", int, not_null_default=0)
    had = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")}
    conn.execute(f"CREATE TABLE events_v2 ({_EVENTS_COLUMNS})")
    conn.execute(f"INSERT INTO events_v2 ({_COPIED}, idempotency_key) "
                 f"SELECT {_COPIED}, event_id FROM events ORDER BY position")
    (count,) = conn.execute("SELECT count(*) FROM events_v2").fetchone()
    conn.execute("DROP TABLE events")
    conn.execute("ALTER TABLE events_v2 RENAME TO events")
    conn.execute(IDEMPOTENCY_DDL)
    install_triggers(conn)
    conn.execute(f"PRAGMA user_version = {DB_VERSION}")
    missing = [t for t in TRIGGER_NAMES if t not in had]
    done = f"layout {current} -> {DB_VERSION}: {count} events copied, hashes unchanged"
    if missing:
        done += f"; the append-only triggers {', '.join(missing)} were missing and are reinstalled"
    return done
