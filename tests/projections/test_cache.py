"""What a store remembers between calls (the `get` cache, the owners and
tail its writes skip reading) is never stale: a write by another store
object, another process, or the log directly is seen by the next call."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from eventlog import SessionDeleted
from projections import EventSourcedSessionStore, SessionMessage, SessionNotFoundError, SessionRole
from projections.stores.cache import SESSION_FIELDS


def msg(text: str) -> SessionMessage:
    return SessionMessage(SessionRole.USER, text, datetime.now(UTC))


@pytest.fixture
def path(tmp_path):
    return tmp_path / "cache.db"


@pytest.mark.sqlite_only("counts the SQLite statements a cached get runs (PRAGMA data_version)")
def test_repeated_get_is_served_from_the_cache(path):
    with EventSourcedSessionStore(path) as store:
        s = store.create("t")
        store.add_message(s.id, msg("a"))
        first = store.get(s.id)
        seen = []
        connections = [store.log.backend.conn, *store.log.backend.pool.idle]  # the writer's and the pooled readers
        assert len(connections) == 2
        for conn in connections:
            conn.set_trace_callback(seen.append)
        assert store.get(s.id) == first
        assert seen == ["PRAGMA data_version"], seen


def test_a_write_by_another_store_object_is_seen_by_the_next_get(target, open_store):
    with open_store() as a, open_store() as b:
        s = a.create("t")
        assert a.get(s.id).messages == []
        b.add_message(s.id, msg("from b"))
        assert [m.content for m in a.get(s.id).messages] == ["from b"]
        b.delete(s.id)
        assert a.get(s.id) is None


def test_a_write_by_another_process_is_seen_by_the_next_get(target, open_store):
    with open_store() as store:
        s = store.create("t")
        store.add_message(s.id, msg("mine"))
        assert len(store.get(s.id).messages) == 1
        code = (
            "import sys; from datetime import UTC, datetime\n"
            "from projections import EventSourcedSessionStore, SessionMessage\n"
            "with EventSourcedSessionStore(sys.argv[1], erasable=sys.argv[3] == 'y') as st:\n"
            "    st.add_message(sys.argv[2], SessionMessage('assistant', 'theirs', datetime.now(UTC)))\n"
        )
        subprocess.run([sys.executable, "-c", code, target, str(s.id), "yn"[not target.erasable]],
                       check=True)
        assert [m.content for m in store.get(s.id).messages] == ["mine", "theirs"]
        store.add_message(s.id, msg("mine again"))  # the write path re-reads too
        assert [m.content for m in store.get(s.id).messages] == ["mine", "theirs", "mine again"]
        assert store.verify().ok


def test_this_stores_own_writes_are_seen_and_keep_other_sessions_cached(open_store):
    with open_store() as store:
        a, b = store.create("a"), store.create("b")
        store.get(a.id), store.get(b.id)
        store.add_message(a.id, msg("x"))
        assert [m.content for m in store.get(a.id).messages] == ["x"]
        assert store.cache._entries[str(b.id)].epoch == store.cache._epoch  # b stayed current


def test_an_append_to_the_log_directly_is_seen_by_the_next_read_and_write(open_store):
    with open_store() as store:
        s = store.create("t")
        store.add_message(s.id, msg("a"))
        assert store.get(s.id) is not None
        store.log.append(str(s.id), [SessionDeleted(s.id, datetime.now(UTC))])
        with pytest.raises(SessionNotFoundError):
            store.add_message(s.id, msg("b"))  # owners were remembered: not any more
        store.catch_up()  # the views learn of it (a failed write rolled its catch-up back)
        assert store.get(s.id) is None
        assert store.verify().ok


def test_a_rolled_back_write_leaves_nothing_remembered(open_store):
    with open_store() as store:
        s = store.create("t")
        with pytest.raises(RuntimeError), store.log.transaction():
            store.add_message(s.id, msg("gone"))
            raise RuntimeError("abort")
        assert store.get(s.id).messages == []
        store.add_message(s.id, msg("kept"))  # the tail it remembered was rolled back
        assert [m.content for m in store.get(s.id).messages] == ["kept"]
        assert store.verify().ok


def test_a_returned_session_shares_nothing_mutable_with_the_cache(open_store):
    with open_store() as store:
        s = store.create("t")
        store.add_message(s.id, msg("a"))
        got = store.get(s.id)
        got.messages.append(msg("mine only"))
        got.title = "changed"
        for name in SESSION_FIELDS:
            value = getattr(got, name)
            if isinstance(value, list):
                value.clear()
            elif isinstance(value, dict):
                value["x"] = 1
        again = store.get(s.id)
        assert again.title == "t" and [m.content for m in again.messages] == ["a"]
        assert again == store.get(s.id)


def test_the_cache_is_bounded(open_store):
    with open_store() as store:
        store.cache.size = 3
        ids = [store.create(str(i)).id for i in range(10)]
        for sid in ids:
            store.get(sid)
        assert len(store.cache._entries) == 3
        assert all(store.get(sid).title == str(i) for i, sid in enumerate(ids))


def test_copies_cover_every_session_field():
    """`SESSION_FIELDS` comes from attrs: a new `Session` field is copied too."""
    import attrs

    from projections import Session
    assert SESSION_FIELDS == tuple(f.name for f in attrs.fields(Session))
    fresh = Session(uuid.uuid4(), "t", datetime.now(UTC), [])
    from projections.stores.cache import copy_session
    assert copy_session(fresh) == fresh


def test_a_session_changed_elsewhere_is_read_again_reusing_its_unchanged_messages(target, open_store):
    with open_store() as a, open_store() as b:
        s = a.create("t")
        a.add_messages(s.id, [msg(str(i)) for i in range(5)])
        first = a.get(s.id)
        b.add_message(s.id, msg("5"))
        second = a.get(s.id)
        assert [m.content for m in second.messages] == [str(i) for i in range(6)]
        assert all(x is y for x, y in zip(first.messages, second.messages[:5]))  # frozen, reused


@pytest.mark.sqlite_only("a hand edit of a view by another connection moves SQLite's data_version; PostgreSQL's stamp follows the log's writers only")
def test_rows_changed_behind_the_stores_back_are_not_reused(path):
    import sqlite3
    with EventSourcedSessionStore(path) as store:
        s = store.create("t")
        store.add_messages(s.id, [msg("a"), msg("b")])
        assert [m.content for m in store.get(s.id).messages] == ["a", "b"]
        with sqlite3.connect(path) as raw:  # a hand edit of the view, by another connection
            raw.execute("UPDATE items SET text = 'edited' WHERE text = 'a'")
        assert [m.content for m in store.get(s.id).messages] == ["edited", "b"]
