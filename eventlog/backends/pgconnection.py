"""A psycopg connection as the log and projections use it: `?` placeholders
(as on SQLite), rows as tuples; and a connection that waits for the log's
NOTIFY."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import StorageError

try:
    import psycopg
    from psycopg import pq
except ImportError as e:  # pragma: no cover - the extra is installed in the tests
    raise ImportError(
        "a PostgreSQL URL needs psycopg: pip install 'sessionlog[postgres]'") from e

#: A follower checks its stop flag at least this often (seconds).
WAKE = 0.25

# `?` outside quoted text becomes `%s`; a literal `%` becomes `%%`.
_PIECES = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?|%")


def _piece(m: re.Match[str]) -> str:
    piece = m.group()
    if piece == "?":
        return "%s"
    if piece[0] in "'\"-":
        return piece.replace("%", "%%")
    return "%%"


_CONVERTED: dict[str, str] = {}


def convert(sql: str) -> str:
    """qmark SQL as psycopg takes it (`%s`, literal `%` doubled); cached."""
    out = _CONVERTED.get(sql)
    if out is None:
        out = _PIECES.sub(_piece, sql)
        if len(_CONVERTED) < 4096:
            _CONVERTED[sql] = out
    return out


class PgConnection:
    """One psycopg connection as the log and projections use it:
    `execute(sql, params)` and `executemany(sql, rows)` with `?`
    placeholders, rows as tuples. `raw` is the psycopg connection."""

    __slots__ = ("raw",)
    backend_name = "postgres"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return self.raw.execute(convert(sql), tuple(params) if params is not None else ())

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(convert(sql), rows)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        """Closed, or in a state no statement can leave (reopen it)."""
        return self.raw.closed or self.raw.info.transaction_status == \
            pq.TransactionStatus.UNKNOWN

    def close(self) -> None:
        self.raw.close()


class Listener:
    """Waits for a NOTIFY on the log's channel (see `PostgresBackend.watcher`)
    on a connection of its own from `listen`, opened at once. When that
    connection is cut (a server restart), `wait` returns at once, so the
    follower reads again, and the next `wait` opens a new one (until it
    can, it waits as a timeout would)."""

    def __init__(self, listen: Callable[[], PgConnection]) -> None:
        self._listen = listen
        self.conn: PgConnection | None = listen()

    def mark(self) -> None:
        """Nothing to do: notifications queue on the connection until read."""

    def wait(self, stop: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.conn is None:
                try:
                    self.conn = self._listen()
                except StorageError:  # the server is not back yet
                    stop.wait(min(left, WAKE))
                    continue
                return  # what was notified while it was gone is lost: read again
            try:
                for _ in self.conn.raw.notifies(timeout=min(left, WAKE), stop_after=1):
                    return
            except psycopg.OperationalError:  # cut: read again, listen anew next time
                self.close()
                return

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
