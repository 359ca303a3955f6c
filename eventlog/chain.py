"""Walking the hash chain: the one place a row's link to the previous one is
checked (by `verify`, by a rebuild as it folds, and by a write for the tail).

Also the log's notes: a small table beside `events` where the tools record
what the chain alone cannot show (a break found, triggers reinstalled, a
rebuild forced over a break), so that gap stays visible. `LogNotes` gives
`EventLog` its walks and notes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from .backends.base import Backend
from .backends.factory import is_postgres
from .codec import GENESIS_HASH, chain_hash, format_sortable
from .errors import ChainBrokenError, EventLogError

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


# -- the log's side of it ----------------------------------------------------

class _Noting(Protocol):
    """What `LogNotes` needs of the log it is mixed into."""

    @property
    def backend(self) -> Backend: ...

    def reader(self) -> AbstractContextManager[Any]: ...

    def transaction(self) -> AbstractContextManager[Any]: ...

    def forget_cached(self) -> None: ...


class LogNotes:
    """An `EventLog`'s walks and notes (mixed into it)."""

    def walk_after(self: _Noting, position: int, *, strict: bool = True) -> ChainWalk:
        """A hash-chain walk that goes on after `position` (0: from the start)."""
        if position <= 0:
            return ChainWalk(strict=strict)
        with self.reader() as conn:
            row = conn.execute(
                "SELECT hash, recorded_at FROM events WHERE position = ?", (position,)).fetchone()
        if row is None:
            raise ChainBrokenError(position, "this event is missing")
        return ChainWalk(position, row[0], row[1], strict=strict)

    def notes(self: _Noting) -> list[dict[str, Any]]:
        """The log's notes, oldest first: breaks found, triggers reinstalled,
        rebuilds forced (see `eventlog.chain`)."""
        with self.reader() as conn:
            return read_notes(conn)

    def record_break(self: _Noting, position: int, detail: str) -> None:
        """Note that the chain is broken at `position`: writes refuse from
        then on. Nothing is written if that is already the latest note, or
        the file cannot be written."""
        try:
            with self.transaction() as conn:
                if chain_state(conn) != (BROKEN, position):
                    add_note(conn, BROKEN, position, detail)
                    self.forget_cached()  # the next write must read the note
        except EventLogError:
            pass

    def record_intact(self: _Noting, position: int, detail: str) -> None:
        """Note that a walk up to `position` found the whole chain intact
        after a break was noted: writes go on. Nothing is written otherwise."""
        try:
            with self.transaction() as conn:
                state = chain_state(conn)
                if state is not None and state[0] == BROKEN:
                    add_note(conn, INTACT, position, detail)
                    self.forget_cached()
        except EventLogError:
            pass

    def repair_triggers(self: _Noting) -> list[str]:
        """Reinstall the append-only triggers if any was dropped, and record
        that in the log's notes (with the position the log had reached), so
        the gap stays visible to `verify` and `stats`. Returns the names of
        the triggers reinstalled ([] when none was missing: nothing written).
        """
        with self.transaction() as conn:
            missing = self.backend.missing_triggers(conn)
            if not missing:
                return []
            self.backend.install_triggers(conn)
            (last,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            add_note(conn, TRIGGERS_REINSTALLED, last, (
                f"{', '.join(missing)} had been dropped; edits made without them show only in "
                "the hash chain"))
        return missing
