"""Reads never hold up writers of the same store object, and the WAL shrinks
back once a long reader lets it (issue 10, item 5)."""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from helpers import store_on

import eventlog.backends.connection
from projections import EventSourcedSessionStore, SessionMessage, SessionRole


def msg(text: str) -> SessionMessage:
    return SessionMessage(SessionRole.USER, text, datetime.now(UTC))


def test_a_long_read_transaction_does_not_delay_a_write_on_another_thread(target):
    """A thread inside snapshot() keeps its view while another thread's
    add_message on the same store object commits (ordering by events; the
    wait is only a guard against a deadlock)."""
    with store_on(target) as store:
        sid = store.create("t").id
        store.add_message(sid, msg("before"))
        reading, release, wrote = threading.Event(), threading.Event(), threading.Event()
        seen = {}

        def reader():
            with store.log.snapshot() as conn:
                seen["first"] = conn.execute("SELECT count(*) FROM items").fetchone()[0]
                reading.set()
                release.wait(60)
                seen["second"] = conn.execute("SELECT count(*) FROM items").fetchone()[0]

        def writer():
            store.add_message(sid, msg("during"))
            wrote.set()

        r = threading.Thread(target=reader)
        r.start()
        assert reading.wait(60)
        w = threading.Thread(target=writer)
        w.start()
        try:
            assert wrote.wait(60), "add_message waited for the reader's transaction"
        finally:
            release.set()
            r.join()
            w.join()
        assert seen == {"first": 1, "second": 1}  # the reader kept its snapshot
        assert [m.content for m in store.get(sid).messages] == ["before", "during"]


@pytest.mark.sqlite_only("SQLite's -wal file and its journal_size_limit")
def test_the_wal_shrinks_back_after_a_long_reader_lets_go(tmp_path, monkeypatch):
    """A write loop beside a reader that pins an old snapshot grows the WAL;
    once the reader is done, further writes cut it back to the limit."""
    limit = 256 * 1024
    monkeypatch.setattr(eventlog.backends.connection, "JOURNAL_SIZE_LIMIT", limit, raising=False)
    path = tmp_path / "s.db"
    wal = f"{path}-wal"
    with EventSourcedSessionStore(path) as store:
        sid = store.create("t").id
        pin = sqlite3.connect(path, isolation_level=None)
        pin.execute("BEGIN")
        pin.execute("SELECT count(*) FROM events").fetchone()  # holds its snapshot
        for i in range(40):
            store.add_message(sid, msg(f"{i} " + "x" * 50_000))
        grown = os.path.getsize(wal)
        assert grown > 4 * limit
        pin.execute("COMMIT")
        pin.close()
        for i in range(3):
            store.add_message(sid, msg(f"after {i}"))
        assert os.path.getsize(wal) <= limit
        assert len(store.get(sid).messages) == 43
