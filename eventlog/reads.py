"""The read side of `EventLog`: streams, the whole log in batches (with a
hash-chain walk on the way), a live follower.

A mixin: every read goes through the log's `reader()` (this thread's open
transaction or snapshot, else a connection from the backend) and comes back
through `reveal()` (sealed fields opened), which `_Readable` declares.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from .backends import Backend
from .chain import ChainWalk
from .checks import MAX_INT
from .codec import format_sortable
from .errors import ChainBrokenError, ConnectionLostError, EventDecodeError
from .recorded import COLUMNS, RecordedEvent

_SELECT = f"SELECT {COLUMNS} FROM events"

#: A follower whose server went away tries again after this many seconds,
#: doubling each time up to the second bound.
_FIRST_BACKOFF, _MAX_BACKOFF = 0.05, 5.0


class _Readable(Protocol):
    """What the reads need of the log they are mixed into."""

    @property
    def backend(self) -> Backend: ...

    def reader(self) -> AbstractContextManager[Any]: ...

    def reveal(self, events: list[RecordedEvent]) -> list[RecordedEvent]: ...

    def read_batches(self, from_position: int = 0, *, batch_size: int = 1000,
                     to_position: int | None = None,
                     chain: ChainWalk | None = None) -> Iterator[list[RecordedEvent]]: ...


class LogReads:
    """Reads of an `EventLog` (mixed into it)."""

    def read_stream(self: _Readable, stream_id: str,
                    until: int | datetime | None = None) -> list[RecordedEvent]:
        """Every event of one stream, by version ([] for an unknown stream).

        Args:
            until: only events up to this global position (int), or recorded
                at or before this moment (aware datetime).
        """
        sql = f"{_SELECT} WHERE stream_id = ?"
        params: list[Any] = [stream_id]
        if isinstance(until, datetime):
            sql += " AND recorded_at <= ?"
            params.append(format_sortable(until))
        elif until is not None:
            sql += " AND position <= ?"
            params.append(until)
        with self.reader() as conn:
            rows = conn.execute(sql + " ORDER BY version", params).fetchall()
        return self.reveal([RecordedEvent.from_row(r) for r in rows])

    def read_all(self: _Readable, from_position: int = 0, *,
                 batch_size: int = 1000) -> Iterator[RecordedEvent]:
        """Every event with `position >= from_position`, in position order.

        Streams in batches of `batch_size`: memory does not grow with the log,
        and no lock is held between batches.
        """
        for batch in self.read_batches(from_position, batch_size=batch_size):
            yield from batch

    def read_batches(self: _Readable, from_position: int = 0, *, batch_size: int = 1000,
                     to_position: int | None = None,
                     chain: ChainWalk | None = None) -> Iterator[list[RecordedEvent]]:
        """Like `read_all`, a list of up to `batch_size` events at a time,
        optionally stopping after `to_position`.

        Args:
            chain: check each row's link on the way (see `walk_after`): a
                strict walk raises `ChainBrokenError` at the first bad row; a
                lenient one notes it in `chain.problems`, skips rows that
                cannot be read, and goes on.
        """
        last = min(max(from_position, 1) - 1, MAX_INT)  # past any position: nothing
        end = min(to_position, MAX_INT) if to_position is not None else -1
        while True:
            with self.reader() as conn:
                rows = conn.execute(
                    f"{_SELECT} WHERE position > ? AND (? < 0 OR position <= ?) "
                    "ORDER BY position LIMIT ?",
                    (last, end, end, batch_size),
                ).fetchall()
            if not rows:
                return
            if chain is None:
                yield self.reveal([RecordedEvent.from_row(r) for r in rows])
            else:
                yield self.reveal(_checked(rows, chain))
            last = rows[-1][0]

    def subscribe(self: _Readable, from_position: int = 1, *, stop: threading.Event | None = None,
                  batch_size: int = 1000, wake: float = 1.0) -> Iterator[RecordedEvent]:
        """Every event from `from_position` on, in position order, then each
        new one as it is committed, for ever: a live follower (a projection
        in another process, `sessionlog tail --follow`).

        It always reads from its position; commits only wake it (SQLite: a
        connection of its own polls `PRAGMA data_version`; PostgreSQL:
        LISTEN/NOTIFY), and it also looks every `wake` seconds, so a lost
        wake-up only delays an event. Positions are gapless in commit order
        on both backends, so nothing is skipped.

        When the server goes away (PostgreSQL restarting), it reconnects with
        backoff, for as long as it takes, and goes on from its last position:
        no event is skipped or repeated.

        Args:
            stop: set it (from any thread) to end the iteration; closing the
                iterator ends it too.
        """
        stop = stop or threading.Event()
        last = min(max(from_position, 1) - 1, MAX_INT)
        backoff = 0.0
        with self.backend.watcher() as watcher:
            while not stop.is_set():
                watcher.mark()  # before the read: a commit after it wakes us
                try:
                    for batch in self.read_batches(last + 1, batch_size=batch_size):
                        for event in batch:
                            yield event
                            last = event.position
                            if stop.is_set():
                                return
                except ConnectionLostError:
                    # the server restarted: read again from `last`, after a growing pause
                    backoff = min(max(2 * backoff, _FIRST_BACKOFF), _MAX_BACKOFF)
                    stop.wait(backoff)
                    continue
                backoff = 0.0
                watcher.wait(stop, wake)

    def last_position(self: _Readable) -> int:
        """The position of the newest event (0 for an empty log)."""
        with self.reader() as conn:
            row = conn.execute("SELECT max(position) FROM events").fetchone()
        return row[0] or 0


def _checked(rows: Iterable[Sequence[Any]], chain: ChainWalk) -> list[RecordedEvent]:
    """Decode raw rows, feeding each to the walk on the way (see
    `read_batches`)."""
    events = []
    for row in rows:
        problem = chain.feed(row)
        if problem is not None:
            if chain.strict:
                raise ChainBrokenError(*problem)
            chain.problems.append(problem)
        try:
            events.append(RecordedEvent.from_row(row))
        except EventDecodeError:
            if chain.strict:
                raise
            chain.problems.append((row[0], "unreadable event, left out"))
    return events
