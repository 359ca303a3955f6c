"""Idle read connections kept for reuse, shared by a backend's threads (both
backends: SQLite's read connections, PostgreSQL's autocommit ones)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

_C = TypeVar("_C", bound=Any)

#: Read connections kept open for reuse.
IDLE_READERS = 4


class ReaderPool(Generic[_C]):
    """Lends a connection per read: an idle one, else a new one from
    `connect`; takes it back while fewer than `size` wait, else closes it."""

    def __init__(self, connect: Callable[[], _C], size: int = IDLE_READERS) -> None:
        self._connect, self._size = connect, size
        self._idle: list[_C] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def idle(self) -> list[_C]:
        """The connections waiting to be lent (a copy)."""
        with self._lock:
            return list(self._idle)

    @contextmanager
    def lend(self, reusable: Callable[[_C], bool] = lambda conn: True) -> Iterator[_C]:
        """A connection for the block; `reusable(conn)` after it says whether
        it may be kept (a closed or broken one is not)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            keep = reusable(conn)
            with self._lock:
                keep = keep and not self._closed and len(self._idle) < self._size
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        """Close the idle connections; connections lent now close when returned."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
