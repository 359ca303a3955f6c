"""Errors raised by the session stores and projections."""

from __future__ import annotations

import uuid

from eventlog import EventLogError


class SessionNotFoundError(EventLogError, LookupError):
    """No live session has this id (never created, or deleted).

    Attributes:
        session_id: the id that was looked up.
    """

    def __init__(self, session_id: uuid.UUID | str) -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id} not found")

    def __str__(self) -> str:  # LookupError would quote it like a KeyError
        return f"session {self.session_id} not found"


class ProjectionError(EventLogError):
    """A projection is unknown, misdeclared, or disagrees with the log."""
