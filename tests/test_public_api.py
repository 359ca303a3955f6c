"""The public surface is pinned: changing it must be deliberate."""

import eventlog
import projections


def test_eventlog_all():
    assert eventlog.__all__ == sorted(eventlog.__all__)
    assert set(eventlog.__all__) >= {
        "EventLog", "RecordedEvent", "SessionCreated", "MessageAdded", "SessionDeleted",
        "ConcurrencyError",
    }
    assert eventlog.__all__ == [
        "ChainBrokenError", "ConcurrencyError", "DuplicateEventError", "EventDecodeError",
        "EventLog", "EventLogError", "ItemAdded", "ItemsRemoved", "LayoutError", "MessageAdded",
        "ReadOnlyError", "RecordedEvent", "SCHEMA_VERSION", "ScopeStateChanged", "SessionCleared",
        "SessionCreated", "SessionDeleted", "SessionRole", "StateChanged", "StorageError",
        "decode_event", "encode_event", "format_timestamp", "parse_timestamp", "state_stream",
        "stream_of",
    ]


def test_projections_all():
    assert projections.__all__ == sorted(projections.__all__)
    for name in ("Session", "SessionMessage", "SessionRole", "format_session_context",
                 "SessionStore", "InMemorySessionStore", "EventSourcedSessionStore",
                 "SessionNotFoundError", "session_to_json", "session_from_json",
                 "SessionItem", "NewItem", "SessionSummary", "DuplicateKeyError"):
        assert name in projections.__all__
        assert getattr(projections, name) is not None


def test_eventlog_does_not_import_projections():
    import pathlib
    import re
    for path in pathlib.Path(eventlog.__file__).parent.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+projections", path.read_text(), re.M), path
