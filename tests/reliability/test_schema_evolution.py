"""Schema evolution: events keep their schema version, older versions are
upcast when read, and a file written by an older release opens and migrates
without loss."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest

from eventlog.codec import GENESIS_HASH, chain_hash
from projections import EventSourcedSessionStore, SessionMessage, SessionRole

pytestmark = pytest.mark.sqlite_only("a SQLite file as release 0 wrote it (layout 0), made by hand")

SID = "6f0b8f52-0c55-4d2a-9d0e-3c3b1a1f0001"
V0_ROWS = [  # (type, data) as release 0 wrote them: a message's text under "text"
    ("SessionCreated", {"created_at": "2025-06-01T10:00:00.000000Z", "session_id": SID,
                        "tenant_id": "acme", "title": "from release 0", "user_id": "alice"}),
    ("MessageAdded", {"role": "user", "session_id": SID, "text": "written long ago",
                      "timestamp": "2025-06-01T10:00:01.000000Z"}),
]


def old_release_file(path):
    """A database as release 0 left it: no schema_version column, no
    projection tables, layout 0."""
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL "
        "UNIQUE, stream_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT "
        "NOT NULL, metadata TEXT NOT NULL, recorded_at TEXT NOT NULL, hash TEXT NOT NULL, "
        "UNIQUE (stream_id, version))")
    prev = GENESIS_HASH
    for i, (typ, data) in enumerate(V0_ROWS, start=1):
        eid, text, meta, at = str(uuid.uuid4()), json.dumps(data), '{"source":"api"}', \
            f"2025-06-01T10:00:0{i}.000000Z"
        prev = chain_hash(prev, i, eid, SID, i, typ, 0, text, meta, at)
        conn.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (i, eid, SID, i, typ, text, meta, at, prev))
    conn.commit()
    conn.close()


def test_an_older_release_file_opens_and_migrates_without_loss(tmp_path):
    path = str(tmp_path / "old.db")
    old_release_file(path)
    with EventSourcedSessionStore(path) as store:
        session = store.get(SID)
        assert session.title == "from release 0" and session.tenant_id == "acme"
        assert [m.content for m in session.messages] == ["written long ago"]
        assert [e.schema_version for e in store.history(SID)] == [0, 0]
        # Upcast once, when read: every consumer sees the current shape.
        assert store.history(SID)[1].data["content"] == "written long ago"
        assert "text" not in store.history(SID)[1].data
        assert store.verify().ok, store.verify().summary()
        store.add_message(SID, SessionMessage(SessionRole.ASSISTANT, "and now", datetime.now(UTC)))
        assert [e.schema_version for e in store.history(SID)] == [0, 0, 1]
        assert [h.position for h in store.search("long")] == [2]
        store.rebuild()
        assert [m.content for m in store.get(SID).messages] == ["written long ago", "and now"]
        assert store.verify().ok
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    with __import__("pytest").raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM events")  # the migration installed the triggers


def test_a_hand_made_v0_row_in_a_current_file_is_upcast(tmp_path):
    path = str(tmp_path / "new.db")
    with EventSourcedSessionStore(path) as store:
        s = store.create("current")
        (last,) = store.history(s.id)
        data = json.dumps({"role": "user", "session_id": str(s.id), "text": "v0 text",
                           "timestamp": "2026-01-01T00:00:00.000000Z"})
        eid, at, meta = str(uuid.uuid4()), last.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "{}"
        h = chain_hash(last.hash, 2, eid, str(s.id), 2, "MessageAdded", 0, data, meta, at)
        store.log.connection.execute(
            "INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, "
            "recorded_at, hash, schema_version) VALUES (2, ?, ?, 2, 'MessageAdded', ?, ?, ?, ?, 0)",
            (eid, str(s.id), data, meta, at, h))
        # A row inserted with plain SQL is not marked pending (EventLog.append
        # marks its appends): the inline views take it up by a rebuild.
        store.rebuild()
        assert [m.content for m in store.get(s.id).messages] == ["v0 text"]
        assert store.replay(s.id).messages[0].content == "v0 text"
        assert store.verify().ok
