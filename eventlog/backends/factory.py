"""The backend a log target names (see `urls`): PostgreSQL for a libpq URL
(psycopg is imported only then), else SQLite."""

from __future__ import annotations

from typing import Any

from .base import Backend
from .urls import URL_PREFIXES, is_url, shown

__all__ = ["URL_PREFIXES", "backend_over", "is_postgres", "is_unique_violation", "is_url",
           "open_backend", "shown"]


def open_backend(target: str, synchronous: str = "normal", timeout: float = 30.0) -> Backend:
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


def backend_over(conn: Any, target: str) -> Backend:
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
