"""Copying a whole log into an empty one, row for row: positions, event ids,
timestamps and hashes unchanged, so both verify to the same `last_hash`.
Either backend to either backend (SQLite file, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from . import chain
from .backends.factory import is_postgres
from .chain import ChainWalk
from .errors import ChainBrokenError, DestinationNotEmptyError
from .recorded import COLUMNS

if TYPE_CHECKING:
    from .log import EventLog

_ROWS = (f"SELECT {COLUMNS}, idempotency_key FROM events WHERE position > ? AND position <= ? "
         "ORDER BY position LIMIT ?")
_INSERT = (f"INSERT INTO events ({COLUMNS}, idempotency_key) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_NOTE = f"INSERT INTO {chain.NOTES} (kind, position, detail, recorded_at) VALUES (?, ?, ?, ?)"


@attrs.frozen
class Copied:
    """What `copy_log` copied: the number of events and the hash of the last
    (None for an empty log), which `verify` reports for both logs."""

    events: int
    last_hash: str | None


def copy_log(source: EventLog, dest: EventLog, *, batch_size: int = 1000,
             progress: Callable[[int], None] | None = None) -> Copied:
    """Copy every event of `source` (up to its last position when the copy
    starts) and its notes into `dest`, which must hold no event, in ONE
    transaction of `dest` (joined if the caller opened one, so the caller's
    view build commits with it). Each row's link is checked on the way: a
    broken source is refused.

    Returns:
        How many events were copied, and the last one's hash.

    Raises:
        DestinationNotEmptyError: `dest` already holds events.
        ChainBrokenError: a row of `source` does not link (nothing written).
    """
    last = source.last_position()
    walk = ChainWalk(strict=True)
    copied = 0
    with dest.transaction() as conn:
        to_postgres = is_postgres(conn)
        (held,) = conn.execute("SELECT count(*) FROM events").fetchone()
        if held:
            raise DestinationNotEmptyError(dest.path, held)
        after = 0
        while after < last:
            with source.snapshot() as src:
                rows = src.execute(_ROWS, (after, last, batch_size)).fetchall()
            if not rows:
                break
            for row in rows:
                problem = walk.feed(row[:10])
                if problem is not None:
                    raise ChainBrokenError(*problem)
                if to_postgres:
                    _refuse_nul(row)
            conn.executemany(_INSERT, [tuple(r) for r in rows])
            after = rows[-1][0]
            copied += len(rows)
            if progress:
                progress(len(rows))
        if copied != last:
            raise ChainBrokenError(copied + 1, "this event is missing")
        notes = source.notes()
        if notes:
            conn.execute(chain.NOTES_DDL)
            conn.executemany(_NOTE, [(n["kind"], n["position"], n["detail"], n["recorded_at"])
                                     for n in notes])
        if copied:
            dest.backend.mark_pending(conn, 1)  # the views take the copied events up
        dest.forget_cached()
    return Copied(copied, walk.last_hash)


def _refuse_nul(row: tuple) -> None:
    """A row PostgreSQL cannot store (a NUL in a text column: an id written
    by a release that accepted one), refused in one line naming its position."""
    for name, value in zip(_NAMES, row, strict=False):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(
                f"event {row[0]}: its {name} {value!r} holds a NUL character, which PostgreSQL "
                "cannot store; nothing was written (a SQLite file can hold it: copy into one)")


_NAMES = [*(c.strip() for c in COLUMNS.split(",")), "idempotency_key"]
