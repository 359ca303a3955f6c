"""How an adapter opens the store at the path it was given, as the CLI does:
an erasable file as the file says (its master key from $SESSIONLOG_MASTER_KEY
or the key file beside it), and a SQLAlchemy URL (what ADK's
`DatabaseSessionService` takes) refused in one line naming what to pass."""

from __future__ import annotations

import os
import re
import sqlite3

from eventlog.backends.connection import is_memory
from eventlog.backends.factory import is_url, shown
from projections import EventSourcedSessionStore

__all__ = ["check_path", "open_path", "sqlalchemy_hint"]

# dialect[+driver]://rest, as SQLAlchemy writes a database URL.
_SQLALCHEMY = re.compile(r"(?P<dialect>[A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9_]+)?://(?P<rest>.*)",
                         re.DOTALL)


def sqlalchemy_hint(target: str, argument: str = "db_path") -> str | None:
    """The one-line error for a SQLAlchemy URL given where a SQLite path or a
    PostgreSQL URL belongs (None for anything else), naming `argument` and
    the value to pass instead: `sqlite+aiosqlite:///adk.db` is the file
    `adk.db`, `postgresql+psycopg://...` is `postgresql://...`."""
    m = _SQLALCHEMY.fullmatch(target)
    if m is None or is_url(target):
        return None
    dialect, rest = m["dialect"].lower(), m["rest"]
    if dialect == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest  # sqlite:////abs/x.db is /abs/x.db
        path = path.split("?", 1)[0] or ":memory:"
        return (f"{target!r} is a SQLAlchemy URL; {argument} takes the SQLite file itself: "
                f"{argument}={path!r}")
    libpq = shown("postgresql://" + rest)  # a password shown as ***
    target = target[:m.start("rest")] + libpq[len("postgresql://"):]
    if dialect in ("postgresql", "postgres"):
        return (f"{target!r} is a SQLAlchemy URL; {argument} takes a libpq URL, without "
                f"the driver: {argument}={libpq!r}")
    return (f"{target!r} is a SQLAlchemy URL for {dialect}, which sessionlog does not "
            f"store in; {argument} takes a SQLite file path or a postgresql:// URL")


def check_path(db_path: str | os.PathLike[str], argument: str = "db_path") -> str:
    """`db_path` as a string, refused at once if it is a SQLAlchemy URL.

    Raises:
        ValueError: a SQLAlchemy URL (the message names the value to pass).
    """
    target = os.fspath(db_path)
    hint = sqlalchemy_hint(target, argument) if isinstance(target, str) else None
    if hint is not None:
        raise ValueError(hint)
    return target


def open_path(db_path: str | os.PathLike[str], source: str,
              page_size: int | None = None) -> EventSourcedSessionStore:
    """The store at `db_path`, opened as the file says: an existing erasable
    file erasable (master key from `default_provider`, as the CLI does), any
    other target plain; a new file is created plain, with SQLite pages of
    `page_size` bytes when given (an existing file keeps its own)."""
    target = check_path(db_path)
    if page_size is not None and not is_url(target) and not is_memory(target) \
            and not os.path.exists(target):
        # Set before the first table is made: WAL mode writes the header with it.
        made = sqlite3.connect(target)
        try:
            made.execute(f"PRAGMA page_size = {int(page_size)}")
            made.execute("PRAGMA journal_mode = WAL")
        finally:
            made.close()
    return EventSourcedSessionStore(target, source=source, erasable=None)
