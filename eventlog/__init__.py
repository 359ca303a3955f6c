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
    SealedFileError,
    StorageError,
)
from .events import (
    ItemAdded,
    ItemsRemoved,
    MessageAdded,
    ScopeStateChanged,
    SessionCleared,
    SessionCreated,
    SessionDeleted,
    SessionRole,
    StateChanged,
    SubjectErased,
    state_stream,
    stream_of,
)
from .log import EventLog
from .recorded import RecordedEvent

__all__ = [
    "ChainBrokenError",
    "ConcurrencyError",
    "DuplicateEventError",
    "EventDecodeError",
    "EventLog",
    "EventLogError",
    "ItemAdded",
    "ItemsRemoved",
    "LayoutError",
    "MessageAdded",
    "ReadOnlyError",
    "RecordedEvent",
    "SCHEMA_VERSION",
    "ScopeStateChanged",
    "SealedFileError",
    "SessionCleared",
    "SessionCreated",
    "SessionDeleted",
    "SessionRole",
    "StateChanged",
    "StorageError",
    "SubjectErased",
    "decode_event",
    "encode_event",
    "format_timestamp",
    "parse_timestamp",
    "state_stream",
    "stream_of",
]
