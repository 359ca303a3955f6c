"""Walking the hash chain: the one place a row's link to the previous one is
checked (by `verify`, by a rebuild as it folds, and by a write for the tail).

Also the log's notes: a small table beside `events` where the tools record
what the chain alone cannot show (a break found, triggers reinstalled, a
rebuild forced over a break), so that gap stays visible.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .backends.factory import is_postgres
from .codec import GENESIS_HASH, chain_hash, format_sortable

#: Raw rows, in `recorded.COLUMNS` order, for a walk.
ROWS = (
    "SELECT position, event_id, stream_id, version, type, data, metadata, recorded_at, hash, "
    "schema_version FROM {schema}events WHERE position > ? AND (? < 0 OR position <= ?) "
    "ORDER BY position LIMIT ?"
)

NOTES = "log_notes"
#: The note `repair_triggers` records.
TRIGGERS_REINSTALLED = "triggers_reinstalled"
#: The kind of the note a layout upgrade leaves (see `schema.migrate`).
LAYOUT_MIGRATED = "layout_migrated"
#: The note a rebuild forced over a broken chain records.
REBUILD_FORCED = "rebuild_forced"
NOTES_DDL = (
    f"CREATE TABLE IF NOT EXISTS {NOTES} (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
    "position INTEGER, detail TEXT NOT NULL, recorded_at TEXT NOT NULL)"
)
#: The kind of the note that makes writes refuse until the chain is whole again.
BROKEN = "chain_broken"
#: A later walk found the whole chain intact again: writes go on.
INTACT = "chain_intact"
_HASH = re.compile(r"[0-9a-f]{64}")


def check_hash_text(text: str) -> str:
    """A kept hash as `verify --json` printed it: 64 lowercase hex digits.

    Raises:
        ValueError: anything else.
    """
    if not isinstance(text, str) or not _HASH.fullmatch(text.strip().lower()):
        raise ValueError(f"{text!r} is not a hash (64 hex digits, as `verify --json` prints)")
    return text.strip().lower()


class ChainWalk:
    """Checks rows fed in position order from position 1: each row's hash
    links to the previous one, positions are gapless, each stream's versions
    contiguous, `recorded_at` never goes back.

    Attributes:
        count: rows fed so far.
        last_hash: the stored hash of the last row fed (None before any).
        streams: the version each stream reached.
    """

    def __init__(self, after: int = 0, prev_hash: str = GENESIS_HASH, prev_at: str = "", *,
                 strict: bool = True) -> None:
        """Start at position 1, or after position `after` whose row has
        `prev_hash` and `prev_at` (stream versions are then not checked:
        the walk has not seen the streams' earlier events). `strict`: see
        `EventLog.read_batches`."""
        self.strict = strict
        self.problems: list[tuple[int, str]] = []
        self.count = after
        self.last_hash: str | None = None
        self.streams: dict[str, int] = {}
        self._prev_hash, self._prev_at = prev_hash, prev_at
        self._versions = after == 0

    def feed(self, row: Sequence[Any]) -> tuple[int, str] | None:
        """Check one raw row; returns the first bad position and what is
        wrong there, or None. The walk goes on from the row as stored, so
        later rows are judged on their own link."""
        pos, eid, stream, ver, typ, data, meta, at, stored, sv = row
        expected = self.count + 1
        self.count += 1
        computed: str | None = None
        problem: str | None = None
        try:
            computed = chain_hash(self._prev_hash, pos, eid, stream, ver, typ, sv, data, meta, at)
        except (ValueError, TypeError) as e:
            problem = f"unreadable row: {e}"
        want = self.streams.get(stream, 0) + 1 if isinstance(stream, str) else None
        if not self._versions and stream not in self.streams and isinstance(ver, int):
            want = ver
        if pos != expected:
            problem = (f"position gap: expected {expected}, found {pos} "
                       f"({pos - expected} event(s) deleted)")
            self.count = pos if isinstance(pos, int) else self.count
        elif problem is None and computed != stored:
            problem = ("hash mismatch: this row was altered, or rows before it were removed "
                       "or reordered")
        elif problem is None and want is not None and ver != want:
            problem = f"stream {stream} jumps from version {want - 1} to {ver}"
        elif problem is None and at < self._prev_at:
            problem = "recorded_at goes back in time"
        if isinstance(stream, str):
            self.streams[stream] = ver if isinstance(ver, int) else self.streams.get(stream, 0)
        self._prev_hash = stored if isinstance(stored, str) else GENESIS_HASH
        self._prev_at = at if isinstance(at, str) else self._prev_at
        self.last_hash = self._prev_hash
        if problem is None:
            return None
        return (expected if problem.startswith("position gap") else pos), problem


def tail_problem(tail: Sequence[Any], prev_hash: str | None) -> str | None:
    """Whether the log's last row (raw, `recorded.COLUMNS` order) links to
    the hash of the row before it (None: there is none)."""
    pos, eid, stream, ver, typ, data, meta, at, stored, sv = tail
    if pos > 1 and prev_hash is None:
        return f"position gap before {pos}"
    try:
        computed = chain_hash(prev_hash or GENESIS_HASH, pos, eid, stream, ver, typ, sv, data,
                              meta, at)
    except (ValueError, TypeError) as e:
        return f"unreadable row: {e}"
    if computed != stored:
        return "hash mismatch: this row was altered, or rows before it were removed or reordered"
    return None


# -- notes -------------------------------------------------------------------

def has_notes(conn: Any, schema: str | None = "main") -> bool:
    """Whether the notes table exists (`schema`: SQLite's attached schema;
    None: unqualified)."""
    if is_postgres(conn):
        return conn.execute(f"SELECT to_regclass('{NOTES}') IS NOT NULL").fetchone()[0]
    where = f"[{schema}]." if schema else ""
    return conn.execute(
        f"SELECT 1 FROM {where}sqlite_master WHERE type = 'table' AND name = ?", (NOTES,)
    ).fetchone() is not None


def add_note(conn: Any, kind: str, position: int | None, detail: str) -> None:
    """Inside a write transaction: record a note (creating the table)."""
    conn.execute(NOTES_DDL)
    conn.execute(
        f"INSERT INTO {NOTES} (kind, position, detail, recorded_at) VALUES (?, ?, ?, ?)",
        (kind, position, detail, format_sortable(datetime.now(UTC))),
    )


def chain_state(conn: Any) -> tuple[str, int] | None:
    """The latest of the broken / intact-again notes, as (kind, position)."""
    if not has_notes(conn):
        return None
    return conn.execute(
        f"SELECT kind, position FROM {NOTES} WHERE kind IN (?, ?) ORDER BY id DESC LIMIT 1",
        (BROKEN, INTACT),
    ).fetchone()


def read_notes(conn: Any, schema: str | None = "main") -> list[dict[str, Any]]:
    """Every note, oldest first ([] when none was ever written)."""
    if not has_notes(conn, schema):
        return []
    where = f"[{schema}]." if schema and not is_postgres(conn) else ""
    return [
        {"kind": k, "position": p, "detail": d, "recorded_at": at}
        for k, p, d, at in conn.execute(
            f"SELECT kind, position, detail, recorded_at FROM {where}{NOTES} ORDER BY id")
    ]
