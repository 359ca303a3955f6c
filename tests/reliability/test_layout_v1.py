"""A file made by the previous release (layout 1, tests/fixtures/v1.db, made
with the code of commit 4260d05): read as it is, migrated in place on the
first write with every hash unchanged, verify passes, and retries of its
idempotent appends still record nothing."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eventlog import EventLog, MessageAdded, SessionRole
from projections import EventSourcedSessionStore, SessionMessage, fold_all

pytestmark = pytest.mark.sqlite_only('a SQLite file the previous release made (tests/fixtures/v1.db)')

FIXTURE = Path(__file__).parent.parent / "fixtures" / "v1.db"
RETRIED = [uuid.UUID(int=0xABC), uuid.UUID(int=0xABD)]  # the event_ids the fixture used


@pytest.fixture
def v1(tmp_path):
    path = tmp_path / "v1.db"
    shutil.copy(FIXTURE, path)
    return str(path)


def rows(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT position, event_id, stream_id, version, type, data, "
                            "metadata, recorded_at, hash, schema_version FROM events "
                            "ORDER BY position").fetchall()


def layout(path):
    with sqlite3.connect(path) as conn:
        return (conn.execute("PRAGMA user_version").fetchone()[0],
                conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0])


def test_a_v1_file_is_read_without_migrating(v1):
    before = layout(v1)
    assert before[0] == 1 and "AUTOINCREMENT" in before[1]
    with EventLog(v1) as log:
        events = list(log.read_all())
        assert len(events) == 9
        assert {e.stream_id for e in events} and log.last_position() == 9
    assert layout(v1) == before


def test_the_first_write_migrates_in_place_with_hashes_unchanged(v1):
    before = rows(v1)
    with EventSourcedSessionStore(v1) as store:
        sessions = {s.title: s for s in store.list()}
        assert set(sessions) == {"refund R-88", "no tenant"}
        refund = sessions["refund R-88"]
        assert [m.content for m in refund.messages] == [
            "where is R-88?", "It ships in 5 business days.", "retried once", "recorded once"]
        assert refund.version == 5 and refund.items[0].id == "message-2"
        assert store.replay(refund.id) == refund
        # A retry of the fixture's idempotent append records nothing.
        again = store.log.append(str(refund.id), [
            MessageAdded(refund.id, SessionRole.USER, "retried once", datetime(2026, 1, 1, 0, 0, 4, tzinfo=UTC)),
            MessageAdded(refund.id, SessionRole.ASSISTANT, "recorded once", datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)),
        ], event_ids=RETRIED)
        assert [e.position for e in again] == [8, 9]
        store.add_message(refund.id, SessionMessage(SessionRole.USER, "new", datetime.now(UTC)))
        report = store.verify()
        assert report.ok, report.summary()
        assert any("layout 1 -> 2" in n for n in report.notes)
        assert fold_all(store.history(refund.id)).messages[-1].content == "new"
    version, ddl = layout(v1)
    assert version == 2 and "AUTOINCREMENT" not in ddl and "idempotency_key" in ddl
    assert rows(v1)[:9] == before  # every column of every old row, hashes included
    with sqlite3.connect(v1) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM events")  # the triggers are back


def test_a_failed_first_write_leaves_the_next_one_to_migrate(v1):
    """The first write migrates; when it fails, the migration is rolled back
    with it, and the next write migrates again."""
    from eventlog import ConcurrencyError, SessionCreated

    sid = uuid.uuid4()
    with EventLog(v1) as log:
        with pytest.raises(ConcurrencyError):
            log.append(str(sid), [SessionCreated(sid, "t", datetime.now(UTC))], expected_version=3)
        (written,) = log.append(str(sid), [SessionCreated(sid, "t", datetime.now(UTC))])
    assert written.position == 10 and layout(v1)[0] == 2


def test_a_v1_checkpoint_behind_the_log_still_means_what_it_said(v1):
    """A layout-1 file's checkpoints are real positions: an event after
    them (added to the v1 file by another tool, with its link) is applied
    when a store opens, once, and the next write keeps it once."""
    from eventlog import lean
    from eventlog.codec import chain_hash

    with sqlite3.connect(v1) as conn:
        (stream, version, prev, at) = conn.execute(
            "SELECT stream_id, version, hash, recorded_at FROM events WHERE position = 9").fetchone()
        sid = uuid.UUID(stream)
        type_name, _, data = lean.encode(MessageAdded(
            sid, SessionRole.USER, "after the checkpoint", datetime(2026, 1, 2, tzinfo=UTC)))
        eid, meta = str(uuid.uuid4()), '{"source":"api"}'
        h = chain_hash(prev, 10, eid, stream, version + 1, type_name, 1, data, meta, at)
        conn.execute("INSERT INTO events (position, event_id, stream_id, version, type, data, "
                      "metadata, recorded_at, hash, schema_version) "
                      "VALUES (10, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                      (eid, stream, version + 1, type_name, data, meta, at, h))
        assert dict(conn.execute("SELECT name, position FROM projection_checkpoints")) == {
            "sessions": 9, "tenants": 9, "search": 9}
    with EventSourcedSessionStore(v1) as store:
        texts = [m.content for m in store.get(sid).messages]
        assert texts[-2:] == ["recorded once", "after the checkpoint"]
        store.add_message(sid, SessionMessage(SessionRole.USER, "new", datetime.now(UTC)))
        assert [m.content for m in store.get(sid).messages] == [*texts, "new"]
        assert [h.position for h in store.search("checkpoint")] == [10]
        assert store.verify().ok
