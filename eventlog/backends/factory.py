"""Which backend a log target names: a libpq URL is PostgreSQL, anything
else a SQLite path."""

from __future__ import annotations

import urllib.parse
from typing import Any

#: URL schemes libpq accepts.
URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(target: object) -> bool:
    """Whether `target` is a PostgreSQL URL (not a SQLite path)."""
    return isinstance(target, str) and target.startswith(URL_PREFIXES)


def shown(target: str) -> str:
    """`target` as messages and `stats` may print it: a URL with its password
    hidden (in the user part and in a `password=` parameter), a path as is."""
    if not is_url(target):
        return target
    parts = urllib.parse.urlsplit(target)
    netloc = parts.netloc
    if parts.password is not None:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = "&".join(
        f"{k}=***" if k == "password" else f"{k}={v}"
        for k, v in (pair.split("=", 1) if "=" in pair else (pair, "")
                     for pair in parts.query.split("&") if pair))
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def open_backend(target: str, synchronous: str = "normal", timeout: float = 30.0) -> Any:
    """The backend that stores the log at `target`: PostgreSQL for a libpq
    URL (psycopg is imported only then), else SQLite.

    Raises:
        ImportError: a URL without psycopg installed (one line naming the extra).
    """
    if is_url(target):
        from .postgres import PostgresBackend

        return PostgresBackend(target, synchronous, timeout)
    from .sqlite import SqliteBackend

    return SqliteBackend(target, synchronous, timeout)


def backend_over(conn: Any, target: str) -> Any:
    """A read-only backend over a connection the caller owns and holds a
    transaction on (verify's isolated snapshot)."""
    if is_url(target):
        from .postgres import PostgresBackend

        return PostgresBackend.over(conn, target)
    from .sqlite import SqliteBackend

    return SqliteBackend.over(conn, target)


def is_postgres(conn: Any) -> bool:
    """Whether a connection the log handed out is a PostgreSQL one."""
    return getattr(conn, "backend_name", None) == "postgres"


def is_unique_violation(exc: BaseException) -> bool:
    """Whether a driver error is a broken UNIQUE constraint (either backend)."""
    if type(exc).__module__.startswith("psycopg"):
        from .postgres import PostgresBackend

        return PostgresBackend.is_unique_violation(exc)
    from .sqlite import SqliteBackend

    return SqliteBackend.is_unique_violation(exc)
