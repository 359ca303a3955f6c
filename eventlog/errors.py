"""Errors raised by the event log. Every error of the library (this package,
`projections` and `sessionlog`) shares the root `SessionlogError`; it lives
here, in the lowest layer, so that every layer can name it."""

from __future__ import annotations


class SessionlogError(Exception):
    """Root of every error sessionlog raises, in every layer."""


#: The root's name before it covered the whole library: `except EventLogError`
#: still catches everything it caught (every error here and in `projections`).
EventLogError = SessionlogError


class ConcurrencyError(EventLogError):
    """A stream was not at the version the caller expected.

    Attributes:
        stream_id: the stream that was appended to.
        expected_version: the version the caller said the stream was at.
        actual_version: the version the stream was really at (0: no stream).
    """

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"stream {stream_id} is at version {actual_version}, expected {expected_version}"
        )


class DuplicateEventError(EventLogError, ValueError):
    """Some, but not all, of an append's event ids are already in the log,
    or an event id is already used by another stream."""

    def __init__(self, event_id: str, message: str) -> None:
        self.event_id = event_id
        super().__init__(message)


class EventDecodeError(EventLogError, ValueError):
    """A stored event could not be read back into its class."""


class SealedFileError(EventLogError, ValueError):
    """The file is erasable (its personal fields are sealed) and was opened
    as a plain one, or the other way round. Nothing was written."""


class StorageError(EventLogError, OSError):
    """The database file could not be opened or written (missing directory,
    read-only file, full disk, corrupt file). Nothing was written."""


class ConnectionLostError(StorageError):
    """The database server could not be reached, or the connection to it was
    cut (a restart): a new connection may succeed. Nothing was written.
    `EventLog.subscribe` waits for the server and goes on."""


class LayoutError(StorageError):
    """The file was written by a newer release, in a layout this release
    cannot read. Nothing was read or written.

    Attributes:
        path: the database file.
        found: the file's layout version (`PRAGMA user_version`).
        supported: the newest layout this release reads.
    """

    def __init__(self, path: str, found: int, supported: int) -> None:
        self.path, self.found, self.supported = path, found, supported
        super().__init__(
            f"{path}: written by a newer sessionlog (database layout {found}; this release "
            f"reads up to {supported}); upgrade sessionlog to open it"
        )


class ReadOnlyError(StorageError):
    """The database file cannot be written (read-only file, directory or
    mount). Reads still work; nothing was written."""


class ChainBrokenError(SessionlogError):
    """The log's hash chain is broken (a row was edited, removed or forged
    with another tool): writes and rebuilds refuse, so nothing is chained
    onto or published from a tampered log. Nothing was written. Tampering is
    not an I/O failure: this is no `StorageError` (no `OSError`).

    Attributes:
        position: the first bad position.
        reason: what is wrong there.
    """

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        self.reason = reason
        super().__init__(
            f"position {position}: {reason}; nothing was written (see `sessionlog verify` "
            "and the README's \"After a failed verify\")"
        )


class DestinationNotEmptyError(EventLogError, ValueError):
    """The log to copy into already holds events. Nothing was written.

    Attributes:
        events: how many it holds.
    """

    def __init__(self, where: str, events: int) -> None:
        self.events = events
        super().__init__(f"{where} already holds {events} event(s); copy needs an empty "
                         "destination; nothing was written")
