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
        "ChainBrokenError", "ConcurrencyError", "ConnectionLostError", "DestinationNotEmptyError",
        "DuplicateEventError", "EventDecodeError", "EventLog", "EventLogError", "ItemAdded", "ItemsRemoved", "LayoutError", "MessageAdded",
        "ReadOnlyError", "RecordedEvent", "SCHEMA_VERSION", "ScopeStateChanged", "SealedFileError",
        "SessionCleared", "SessionCreated", "SessionDeleted", "SessionRole", "SessionlogError", "StateChanged",
        "StorageError", "SubjectErased", "decode_event", "encode_event", "format_timestamp", "parse_timestamp", "state_stream",
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
    for path in pathlib.Path(eventlog.__file__).parent.rglob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+projections", path.read_text(), re.M), path


def test_sessionlog_all():
    """`sessionlog` is the one entry point: it re-exports both layers' public API."""
    import sessionlog
    assert sessionlog.__all__ == sorted(sessionlog.__all__)
    assert sessionlog.__all__ == [
        "BulkWrite", "ChainBrokenError", "ConcurrencyError", "ConnectionLostError", "DestinationNotEmptyError",
        "DuplicateEventError", "DuplicateKeyError", "Erasure",
        "ErasureError", "EventDecodeError", "EventLog", "EventLogError",
        "EventSourcedSessionStore", "FullSessionStore", "ImportConflictError", "ImportFileError", "ImportSummary",
        "InMemorySessionStore", "ItemAdded", "ItemsRemoved", "LayoutError", "MasterKeyError",
        "MessageAdded", "NewItem", "Problem", "Projection", "ProjectionError", "ProjectionRunner",
        "ReadOnlyError", "RecordedEvent", "SCHEMA_VERSION", "ScopeStateChanged", "SealedFileError",
        "SearchHit", "SearchProjection", "Session", "SessionCleared", "SessionCreated",
        "SessionDeleted", "SessionDeletedError", "SessionItem", "SessionMessage",
        "SessionNotFoundError", "SessionNotYetError", "SessionRole", "SessionStore",
        "SessionSummary", "SessionlogError", "SessionsProjection", "StaleViewWarning", "StateChanged", "StorageError",
        "SubjectErased", "TenantIndexProjection", "TenantSessionStore", "VerifyReport",
        "decode_event", "encode_event", "export_sessions", "fold", "fold_all",
        "format_session_context", "format_timestamp", "import_sessions", "parse_timestamp",
        "read_sessions", "session_from_dict", "session_from_json", "session_to_dict",
        "session_to_json", "state_stream", "stream_of", "verify",
    ]
    missing = (set(eventlog.__all__) | set(projections.__all__)) - set(sessionlog.__all__)
    assert not missing, f"re-export {sorted(missing)} in sessionlog/__init__.py and pin them here"
    for name in sessionlog.__all__:
        source = eventlog if name in eventlog.__all__ else projections
        if name in source.__all__:
            assert getattr(sessionlog, name) is getattr(source, name), name


def test_importing_sessionlog_does_not_load_the_cli():
    import subprocess
    import sys
    code = "import sys, sessionlog; print('sessionlog.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_one_error_root_for_the_whole_library():
    """Every error class of the three packages is a SessionlogError; EventLogError is the
    same class (old `except EventLogError` catches what it did); tampering is no OSError."""
    import sessionlog
    errors = [getattr(sessionlog, n) for n in sessionlog.__all__
              if isinstance(getattr(sessionlog, n), type) and n.endswith("Error")]
    assert len(errors) >= 15
    for cls in errors:
        assert issubclass(cls, sessionlog.SessionlogError), cls
    assert sessionlog.EventLogError is sessionlog.SessionlogError
    assert not issubclass(sessionlog.ChainBrokenError, OSError)
    assert issubclass(sessionlog.SessionNotFoundError, LookupError)
