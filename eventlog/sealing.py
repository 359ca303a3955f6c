"""The seam through which an erasable store keeps personal fields sealed
(encrypted) in the log: the log itself knows no keys and no cipher.

A `Sealer` is handed each append's encoded events before they are chained
(it returns them with the personal fields of the stored text replaced by
ciphertext, so the hash chain covers the ciphertext), and each batch of
events read back (it returns them with those fields opened, or marked
erased). `projections.erasure` implements it.

A sealed file (or PostgreSQL schema) says so: it holds the table `MARKER`. The log refuses to open
a sealed file without a sealer, so its ciphertext is never taken for text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

from .recorded import RecordedEvent

#: The table whose presence marks a sealed (erasable) file.
MARKER = "erasure_meta"

#: (type name, data dict, canonical JSON text) of one event.
Encoded = tuple[str, dict[str, Any], str]


class Sealer(Protocol):
    """What `EventLog(sealer=...)` calls."""

    def attach(self, log: Any) -> None:
        """Called once by the log's constructor: check or set up the file."""

    def seal(self, conn: sqlite3.Connection, stream_id: str,
             encoded: list[Encoded]) -> list[Encoded]:
        """Inside the append's transaction: the events with their stored
        text sealed (the data dicts stay plain: they go to the views)."""

    def reveal(self, events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        """The events with their sealed fields opened (or marked erased)."""


def is_sealed(conn: sqlite3.Connection) -> bool:
    """Whether the file (a PostgreSQL log: its schema) is marked sealed (erasable)."""
    if getattr(conn, "backend_name", "sqlite") == "postgres":
        return bool(conn.execute("SELECT to_regclass(?) IS NOT NULL", (MARKER,)).fetchone()[0])
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (MARKER,)).fetchone() is not None
