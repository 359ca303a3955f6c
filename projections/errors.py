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


class SessionDeletedError(SessionNotFoundError):
    """The session existed and was deleted (its events stay in the log).

    Attributes:
        position: the position of its `SessionDeleted` event.
    """

    def __init__(self, session_id: uuid.UUID | str, position: int) -> None:
        super().__init__(session_id)
        self.position = position

    def __str__(self) -> str:
        return f"session {self.session_id} was deleted (position {self.position})"


class SessionNotYetError(SessionNotFoundError):
    """At the moment asked for, the session did not exist yet (it does later).

    Attributes:
        as_of: the position or moment asked for.
    """

    def __init__(self, session_id: uuid.UUID | str, as_of: object) -> None:
        super().__init__(session_id)
        self.as_of = as_of

    def __str__(self) -> str:
        return f"session {self.session_id} did not exist at {self.as_of}"


class ProjectionError(EventLogError):
    """A projection is unknown, misdeclared, or disagrees with the log."""


class DuplicateKeyError(EventLogError, ValueError):
    """A live session of the same tenant already has this key.

    Attributes:
        key: the key asked for.
        tenant_id: the tenant (None: sessions without a tenant).
        session_id: the live session that holds the key.
    """

    def __init__(self, key: str, tenant_id: str | None, session_id: uuid.UUID | str) -> None:
        self.key = key
        self.tenant_id = tenant_id
        self.session_id = session_id
        where = "without a tenant" if tenant_id is None else f"of tenant {tenant_id!r}"
        super().__init__(f"key {key!r} is already used by session {session_id} {where}")


class StaleViewWarning(RuntimeWarning):
    """A view could not be brought up to the log (read-only file, full disk):
    reads show it as it is, possibly missing the newest events."""


class MasterKeyError(EventLogError, PermissionError):
    """An erasable file's master key is missing or is not the one its data
    keys were wrapped with. Nothing was read or written."""


class ErasureError(EventLogError, ValueError):
    """An erasure that cannot be done as asked (a plain file, a session whose
    key is its user's). Nothing was written."""


class ImportFileError(EventLogError, ValueError):
    """A record of an import file is bad; nothing of the import was written.

    Attributes:
        location: "FILE:LINE" (JSON Lines, single objects) or "FILE: record N"
            (arrays): a `projections.transfer.Location`, or its text.
    """

    def __init__(self, location: object, message: str) -> None:
        self.location = location
        super().__init__(f"{location}: {message}")


class ImportConflictError(EventLogError, ValueError):
    """A session id of the file is already in the log with other content."""

    def __init__(self, location: object, session_id: str, why: str) -> None:
        self.location, self.session_id = location, session_id
        super().__init__(
            f"{location}: session {session_id} {why}; nothing was imported "
            "(on_conflict='skip' / --on-conflict skip keeps what is there; 'append' adds "
            "the file's later events when the file's session continues the stored one)"
        )
