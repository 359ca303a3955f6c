"""The number of SQL statements a read or write runs does not grow with the
number of sessions or events (counted with the connection's trace callback)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from projections import EventSourcedSessionStore, SessionMessage, SessionRole

pytestmark = pytest.mark.sqlite_only("counted with sqlite3's trace callback and progress handler "
                                     "(SQL statements, SQLite VM steps)")


def msg(i):
    return SessionMessage(SessionRole.USER, f"m{i}", datetime.now(UTC))


def statements(conn, call) -> int:
    seen = []
    conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return len(seen)


def counts(sessions: int, messages: int) -> dict[str, int]:
    with EventSourcedSessionStore(":memory:") as store:
        conn = store.log.connection  # taken once: taking it empties the log's caches
        ids = []
        for i in range(sessions):
            s = store.create_with_user(f"s{i}", "u", "acme")
            store.add_messages(s.id, [msg(j) for j in range(messages)])
            ids.append(s.id)
        target = ids[len(ids) // 2]
        return {
            "get": statements(conn, lambda: store.get(target)),
            "get_last_n": statements(conn, lambda: store.get(target, last_n=3)),
            "list": statements(conn, store.list),
            "list_page": statements(conn, lambda: store.list(5, before=ids[-1])),
            "list_for_tenant": statements(conn, lambda: store.list_for_tenant("acme")),
            "add_message": statements(conn, lambda: store.add_message(target, msg(0))),
            "add_messages": statements(conn, lambda: store.add_messages(target, [msg(1), msg(2)])),
            "create": statements(conn, lambda: store.create("x")),
            "delete": statements(conn, lambda: store.delete(ids[0])),
            "replay": statements(conn, lambda: store.replay(target, 10)),
        }


def test_statement_counts_do_not_grow_with_the_store():
    small, large = counts(3, 2), counts(120, 12)
    assert small == large
    # get: BEGIN, PRAGMA data_version (its cache), the session, its messages, COMMIT.
    assert large["list"] <= 4 and large["get"] <= 5
    # add_message, when only this store wrote since its last write: BEGIN,
    # PRAGMA data_version, the event, the message, the checkpoint, COMMIT
    # (no read before the write: owners, tail and version are remembered).
    assert large["add_message"] <= 6


def vm_steps(conn, call) -> int:
    """SQLite virtual-machine instructions `call` runs (a progress handler
    called on every one): a count, not a time."""
    steps = [0]

    def tick():
        steps[0] += 1
        return 0
    conn.set_progress_handler(tick, 1)
    try:
        call()
    finally:
        conn.set_progress_handler(None, 1)
    return steps[0]


def test_append_many_does_not_read_whole_streams_to_find_their_versions():
    """Each stream's version is one index seek, not a scan of its events."""
    import uuid

    from eventlog import EventLog, MessageAdded

    def steps_at(n: int) -> int:
        with EventLog(":memory:") as log:
            ids = [uuid.uuid4() for _ in range(4)]
            now = datetime.now(UTC)
            for sid in ids:
                log.append(str(sid), [MessageAdded(sid, "user", "x", now)] * n)
            batch = [(str(sid), [MessageAdded(sid, "user", "y", now)], n) for sid in ids]
            return vm_steps(log.connection, lambda: log.append_many(batch))
    small, large = steps_at(5), steps_at(400)
    assert large < small * 1.2, (small, large)
