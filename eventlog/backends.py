"""Which backend a log target names: a libpq URL is PostgreSQL, anything
else a SQLite path."""

from __future__ import annotations

from typing import Any

#: URL schemes libpq accepts.
URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(target: object) -> bool:
    """Whether `target` is a PostgreSQL URL (not a SQLite path)."""
    return isinstance(target, str) and target.startswith(URL_PREFIXES)


def open_backend(target: str, synchronous: str = "normal", timeout: float = 30.0) -> Any:
    """The backend that stores the log at `target`."""
    from .sqlite import SqliteBackend

    return SqliteBackend(target, synchronous, timeout)
