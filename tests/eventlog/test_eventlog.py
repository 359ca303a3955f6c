"""The append-only log: versions, concurrency, idempotency, hash chain,
streaming reads and the triggers that keep it append-only."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest

from eventlog import (
    ConcurrencyError,
    DuplicateEventError,
    EventLog,
    MessageAdded,
    SessionCreated,
    SessionDeleted,
    SessionRole,
)
from eventlog.codec import GENESIS_HASH

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def created(sid):
    return SessionCreated(sid, "t", NOW)


def message(sid, text="hi"):
    return MessageAdded(sid, SessionRole.USER, text, NOW)


@pytest.fixture
def log(open_log):
    """A fresh log on each backend (tests/conftest.py)."""
    with open_log() as log:
        yield log


def driver_integrity_errors():
    errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    try:
        import psycopg
    except ImportError:
        return errors
    return (*errors, psycopg.errors.IntegrityError)


def drop_trigger(log, name):
    on = " ON events" if log.backend.name == "postgres" else ""
    log.connection.execute(f"DROP TRIGGER {name}{on}")


def test_positions_and_versions_are_one_based_and_contiguous(log):
    a, b = uuid.uuid4(), uuid.uuid4()
    log.append(str(a), [created(a), message(a)])
    log.append(str(b), [created(b)])
    log.append(str(a), [message(a, "again")])
    events = list(log.read_all())
    assert [e.position for e in events] == [1, 2, 3, 4]
    assert [e.version for e in log.read_stream(str(a))] == [1, 2, 3]
    assert [e.version for e in log.read_stream(str(b))] == [1]


def test_expected_version_zero_means_the_stream_must_not_exist(log):
    sid = uuid.uuid4()
    log.append(str(sid), [created(sid)], expected_version=0)
    with pytest.raises(ConcurrencyError) as info:
        log.append(str(sid), [created(sid)], expected_version=0)
    assert (info.value.expected_version, info.value.actual_version) == (0, 1)
    assert log.last_position() == 1


def test_expected_version_mismatch_writes_nothing(log):
    sid = uuid.uuid4()
    log.append(str(sid), [created(sid)])
    with pytest.raises(ConcurrencyError):
        log.append(str(sid), [message(sid)], expected_version=5)
    log.append(str(sid), [message(sid)], expected_version=1)
    assert [e.version for e in log.read_stream(str(sid))] == [1, 2]


def test_retried_append_with_same_event_ids_is_recorded_once(log):
    sid = uuid.uuid4()
    ids = [uuid.uuid4(), uuid.uuid4()]
    first = log.append(str(sid), [created(sid), message(sid)], event_ids=ids)
    again = log.append(str(sid), [created(sid), message(sid)], event_ids=ids, expected_version=0)
    assert again == first
    assert log.last_position() == 2


def test_partly_recorded_event_ids_are_refused(log):
    sid = uuid.uuid4()
    eid = uuid.uuid4()
    log.append(str(sid), [created(sid)], event_ids=[eid])
    with pytest.raises(DuplicateEventError):
        log.append(str(sid), [message(sid), message(sid)], event_ids=[eid, uuid.uuid4()])
    assert log.last_position() == 1


def test_stream_must_be_the_session_id(log):
    with pytest.raises(ValueError, match="stream"):
        log.append("other", [created(uuid.uuid4())])
    assert log.last_position() == 0


def test_hash_chain_links_every_event(log):
    sid = uuid.uuid4()
    log.append(str(sid), [created(sid), message(sid), SessionDeleted(sid, NOW)])
    prev = GENESIS_HASH
    for row in log.connection.execute(
        "SELECT position, event_id, stream_id, version, type, schema_version, data, metadata, "
        "recorded_at, hash FROM events ORDER BY position"
    ):
        payload = json.dumps(list(row[:-1]), ensure_ascii=False, separators=(",", ":"))
        assert row[-1] == hashlib.sha256(prev.encode() + payload.encode()).hexdigest()
        prev = row[-1]


def test_recorded_at_never_decreases(log):
    sid = uuid.uuid4()
    log.append(str(sid), [created(sid)])
    for i in range(50):
        log.append(str(sid), [message(sid, str(i))])
    stamps = [e.recorded_at for e in log.read_all()]
    assert stamps == sorted(stamps)
    assert all(s.tzinfo is not None for s in stamps)


def test_recorded_at_is_clamped_to_the_previous_event(log):
    sid = uuid.uuid4()
    # A previous writer with a clock far ahead: later events may not go back.
    future = "2999-01-01T00:00:00.000000Z"
    drop_trigger(log, "events_no_update")
    log.append(str(sid), [created(sid)])
    log.connection.execute("UPDATE events SET recorded_at = ?", (future,))
    log.append(str(sid), [message(sid)])
    assert log.read_stream(str(sid))[1].recorded_at.year == 2999


@pytest.mark.parametrize("statement", ["UPDATE events SET type = 'x'", "DELETE FROM events"])
def test_triggers_keep_the_log_append_only(log, statement):
    sid = uuid.uuid4()
    log.append(str(sid), [created(sid)])
    with pytest.raises(driver_integrity_errors(), match="append-only"):
        log.connection.execute(statement)
    assert log.read_stream(str(sid))[0].type == "SessionCreated"


def test_truncate_is_refused_on_postgresql(pg_url):
    """SQLite has no TRUNCATE (its DELETE trigger covers it); PostgreSQL's
    TRUNCATE skips row triggers, so the log has a statement trigger for it."""
    sid = uuid.uuid4()
    with EventLog(pg_url) as log:
        log.append(str(sid), [created(sid)])
        with pytest.raises(driver_integrity_errors(), match="append-only"):
            log.connection.execute("TRUNCATE events")
        assert log.read_stream(str(sid))[0].type == "SessionCreated"


def test_the_version_backstop_refuses_a_row_written_around_the_log(log):
    """UNIQUE (stream_id, version) holds even for a row inserted by hand."""
    sid = uuid.uuid4()
    (first,) = log.append(str(sid), [created(sid)])
    with pytest.raises(driver_integrity_errors()):
        log.connection.execute(
            "INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, "
            "recorded_at, hash) VALUES (2, 'x', ?, 1, 't', '{}', '{}', 'z', 'h')", (str(sid),))
    assert [e.position for e in log.read_all()] == [first.position]


def test_read_all_from_position_is_inclusive_and_streams_in_batches(log):
    sid = uuid.uuid4()
    log.append(str(sid), [created(sid)] + [message(sid, str(i)) for i in range(24)])
    assert [e.position for e in log.read_all(20)] == list(range(20, 26))
    batches = list(log.read_batches(1, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert len(list(log.read_all(batch_size=7))) == 25


def test_metadata_says_where_the_write_came_from(log):
    sid = uuid.uuid4()
    (default,) = log.append(str(sid), [created(sid)])
    (tagged,) = log.append(str(sid), [message(sid)], metadata={"source": "import", "file": "x"})
    assert default.metadata == {"source": "api"}
    assert tagged.metadata == {"source": "import", "file": "x"}
    assert log.read_stream(str(sid))[1].metadata == tagged.metadata


def test_lone_surrogates_are_refused_and_nothing_is_written(log):
    sid = uuid.uuid4()
    with pytest.raises(ValueError, match="surrogate"):
        log.append(str(sid), [created(sid), message(sid, "bad \ud800")])
    assert log.last_position() == 0


def test_log_reopens_with_everything(target, open_log):
    """(A file or a database: an in-memory log ends with its object.)"""
    sid = uuid.uuid4()
    with open_log() as log:
        written = log.append(str(sid), [created(sid), message(sid)])
    with open_log() as log:
        assert log.read_stream(str(sid)) == written
        log.append(str(sid), [message(sid)], expected_version=2)
        assert [e.position for e in log.read_all()] == [1, 2, 3]


def test_two_log_objects_on_one_store_chain_onto_each_other(target, open_log):
    """A second writer's appends land after the first's and the chain links
    (each reads the tail the other committed)."""
    sid = uuid.uuid4()
    with open_log() as a, open_log() as b:
        a.append(str(sid), [created(sid)])
        b.append(str(sid), [message(sid, "b")], expected_version=1)
        a.append(str(sid), [message(sid, "a")], expected_version=2)
        with pytest.raises(ConcurrencyError):
            b.append(str(sid), [message(sid)], expected_version=2)
        events = list(a.read_all())
    assert [e.position for e in events] == [1, 2, 3]
    assert [e.version for e in events] == [1, 2, 3]
    _check_chain(open_log())


def _check_chain(log):
    from eventlog.chain import ChainWalk
    walk = ChainWalk()
    for _ in log.read_batches(chain=walk):
        pass
    assert walk.count == log.last_position() and walk.problems == []
    log.close()


def test_bad_synchronous_is_refused(open_log):
    with pytest.raises(ValueError, match="synchronous"):
        open_log(synchronous="sometimes")


@pytest.mark.parametrize("text", ["0x000000-0000-0000-0000-000000000000",
                                  "+0000000-0000-0000-0000-000000000000", "forged", ""])
def test_stored_event_ids_are_parsed_strictly(text):
    from eventlog.checks import uuid_from_text as _uuid_from_text
    with pytest.raises(ValueError):
        _uuid_from_text(text)


def test_fast_uuid_parsing_equals_uuid_uuid():
    from eventlog.checks import uuid_from_text as _uuid_from_text
    for _ in range(100):
        u = uuid.uuid4()
        parsed = _uuid_from_text(str(u))
        assert parsed == u and hash(parsed) == hash(u) and str(parsed) == str(u)


def test_a_url_without_psycopg_names_the_extra_in_one_line():
    """Library: ImportError naming the extra; CLI: that one line, no traceback."""
    import subprocess
    import sys
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from eventlog import EventLog\n"
        "try:\n    EventLog('postgresql:///nowhere')\n"
        "except ImportError as e:\n    print('library:', e)\n"
        "from sessionlog.cli import main\n"
        "main(['--db', 'postgres://me@host/db', 'list'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    hint = "a PostgreSQL URL needs psycopg: pip install 'sessionlog[postgres]'"
    assert done.stdout == f"library: {hint}\n"
    assert done.stderr == f"Error: {hint}\n" and done.returncode == 1


def test_an_unreachable_server_is_one_storage_error():
    from eventlog import StorageError
    with pytest.raises(StorageError, match="cannot reach the PostgreSQL server"):
        EventLog("postgresql://me@/db?host=/nonexistent-socket-dir", timeout=1)


def test_a_search_path_naming_no_schema_is_one_storage_error(pg_cluster):
    from pg import with_schema

    from eventlog import StorageError
    url = with_schema(pg_cluster.url, "no_such_schema")
    with pytest.raises(StorageError, match="create it first"):
        EventLog(url)


def test_error_messages_never_show_a_password():
    from eventlog import StorageError
    with pytest.raises(StorageError) as info:
        EventLog("postgresql://me:s3cret@/db?host=/nonexistent-socket-dir", timeout=1)
    assert "s3cret" not in str(info.value) and "me:***@" in str(info.value)


@pytest.mark.sqlite_only("counts the statements of an append with sqlite3's trace callback")
def test_a_write_after_another_writer_reads_the_tail_once(tmp_path):
    """After another writer appended, an append reads the tail, the stream's
    version and the tail's link in one statement (on PostgreSQL: one round
    trip while the writers' lock is held)."""
    path = str(tmp_path / "log.db")
    a_id, b_id = uuid.uuid4(), uuid.uuid4()
    with EventLog(path) as a, EventLog(path) as b:
        a.append(str(a_id), [created(a_id)])
        b.append(str(b_id), [created(b_id)])
        seen: list[str] = []
        a.backend.conn.set_trace_callback(seen.append)
        try:
            a.append(str(a_id), [message(a_id)])
        finally:
            a.backend.conn.set_trace_callback(None)
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and " events" in s]
    assert len(reads) == 1, reads
