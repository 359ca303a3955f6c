"""An append-only, hash-chained SQLite log of conversation-session events."""

from .codec import (
    SCHEMA_VERSION,
    decode_event,
    encode_event,
    format_timestamp,
    parse_timestamp,
)
from .errors import (
    ChainBrokenError,
    ConcurrencyError,
    DuplicateEventError,
    EventDecodeError,
    EventLogError,
    LayoutError,
    ReadOnlyError,
    StorageError,
)
from .events import MessageAdded, SessionCreated, SessionDeleted, SessionRole
from .log import EventLog
from .recorded import RecordedEvent

__all__ = [
    "ChainBrokenError",
    "ConcurrencyError",
    "DuplicateEventError",
    "EventDecodeError",
    "EventLog",
    "EventLogError",
    "LayoutError",
    "MessageAdded",
    "ReadOnlyError",
    "RecordedEvent",
    "SCHEMA_VERSION",
    "SessionCreated",
    "SessionDeleted",
    "SessionRole",
    "StorageError",
    "decode_event",
    "encode_event",
    "format_timestamp",
    "parse_timestamp",
]
