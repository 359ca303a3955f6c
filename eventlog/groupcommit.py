"""Group commit: write calls made by several threads at once share one
transaction and one fsync (see `EventLog.run`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

_T = TypeVar("_T")

#: Batches one leader runs before handing the lead on.
LEAD_ROUNDS = 8


class _Call:
    """One queued call and its outcome."""

    __slots__ = ("done", "error", "fn", "result", "wake")

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Event()

    def run(self, conn: Any) -> None:
        try:
            self.result = self.fn(conn)
        except Exception as e:
            self.error = e


class GroupCommit:
    """Queues calls; one thread at a time (the leader) runs every queued
    call, each in its own savepoint, in one transaction, commits once, wakes
    their callers and hands the lead to the next queued call.

    Args:
        transaction: opens the log's write transaction (joined when open).
        lock: the writers' lock, held by a leader across its batches.
        rolled_back: called when a call's savepoint was rolled back (what
            was cached from inside it is void).
    """

    __slots__ = ("_leading", "_lock", "_queue", "_queue_lock", "_rolled_back", "_transaction")

    def __init__(self, transaction: Callable[[], AbstractContextManager[Any]],
                 lock: AbstractContextManager[Any], rolled_back: Callable[[], None]) -> None:
        self._transaction = transaction
        self._lock = lock
        self._rolled_back = rolled_back
        self._queue: list[_Call] = []
        self._queue_lock = threading.Lock()
        self._leading = False

    @property
    def waiting(self) -> int:
        """How many calls are queued (not yet taken by a leader)."""
        with self._queue_lock:
            return len(self._queue)

    def run(self, fn: Callable[[Any], _T]) -> _T:
        """`fn(conn)` in a shared write transaction; returns what it returns
        once the commit that holds its writes is done. A call that raises is
        rolled back to its savepoint and fails alone."""
        call = _Call(fn)
        with self._queue_lock:
            self._queue.append(call)
            lead = not self._leading
            self._leading = True
        if not lead:
            call.wake.wait()  # done, or handed the lead
        if not call.done:
            try:
                with self._lock:
                    # Lead a few rounds while calls keep coming: handing the
                    # lead to another thread costs a thread switch (the GIL's
                    # switch interval) per batch.
                    for _ in range(LEAD_ROUNDS):
                        with self._queue_lock:
                            batch, self._queue = self._queue, []
                        if not batch:
                            break
                        self._run_batch(batch)
            finally:
                with self._queue_lock:
                    if self._queue:
                        self._queue[0].wake.set()  # not done: it leads next
                    else:
                        self._leading = False
        if call.error is not None:
            raise call.error
        return call.result

    def _run_batch(self, batch: list[_Call]) -> None:
        """Run queued calls in one transaction (holding the lock), then mark
        them done and wake their callers."""
        try:
            with self._transaction() as conn:
                if len(batch) == 1:
                    batch[0].run(conn)
                    if batch[0].error is not None:
                        raise batch[0].error
                else:
                    for call in batch:
                        conn.execute("SAVEPOINT group_commit")
                        call.run(conn)
                        if call.error is not None:
                            self._rolled_back()
                            conn.execute("ROLLBACK TO group_commit")
                        conn.execute("RELEASE group_commit")
        except BaseException as exc:
            for call in batch:
                if call.error is None:
                    call.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for call in batch:
                call.done = True
                call.wake.set()
