"""What the event-sourced store adds to the contract: one event per write,
persistence, several store objects on one file, catch-up and replay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from eventlog import MessageAdded, SessionCreated
from projections import (
    EventSourcedSessionStore,
    SessionMessage,
    SessionNotFoundError,
    SessionRole,
)


def msg(text: str, role: SessionRole = SessionRole.USER) -> SessionMessage:
    return SessionMessage(role, text, datetime.now(UTC))


def types_and_versions(store, sid):
    return [(e.type, e.version) for e in store.history(sid)]


def test_each_write_appends_exactly_one_event(open_store):
    with open_store() as store:
        s = store.create("t")
        store.add_message(s.id, msg("a"))
        store.add_message(s.id, msg("b", SessionRole.ASSISTANT))
        t = store.create_with_user(None, "alice", "acme")
        assert store.delete(s.id)
        assert types_and_versions(store, s.id) == [
            ("SessionCreated", 1), ("MessageAdded", 2), ("MessageAdded", 3), ("SessionDeleted", 4)
        ]
        assert types_and_versions(store, t.id) == [("SessionCreated", 1)]
        assert [e.stream_id for e in store.log.read_all()] == [str(s.id)] * 3 + [str(t.id), str(s.id)]


def test_failed_writes_append_nothing(open_store):
    with open_store() as store:
        s = store.create(None)
        store.delete(s.id)
        before = store.log.last_position()
        assert store.delete(s.id) is False
        assert store.delete(uuid.uuid4()) is False
        with pytest.raises(SessionNotFoundError):
            store.add_message(s.id, msg("late"))
        with pytest.raises(SessionNotFoundError):
            store.add_message(uuid.uuid4(), msg("nobody"))
        with pytest.raises(TypeError):
            store.add_message(s.id, "not a message")
        assert store.log.last_position() == before


def test_delete_is_a_tombstone(open_store):
    with open_store() as store:
        s = store.create_with_user("x", "alice", "acme")
        store.add_message(s.id, msg("kept in the log"))
        store.delete(s.id)
        assert store.get(s.id) is None
        assert store.list() == [] and store.list_for_tenant("acme") == []
        assert store.history(s.id)[1].data["content"] == "kept in the log"


def test_reopen_keeps_everything(target, open_store):
    with open_store() as store:
        s = store.create_with_user("persist", "alice", "acme")
        store.add_message(s.id, msg("hello"))
        expected = store.get(s.id)
    with open_store() as store:
        assert store.get(s.id) == expected
        assert store.list_for_tenant("acme") == [expected]


def test_two_store_objects_on_one_file_see_each_others_writes(target, open_store):
    with open_store() as a, open_store() as b:
        s = a.create("shared")
        b.add_message(s.id, msg("from b"))
        a.add_message(s.id, msg("from a"))
        assert [m.content for m in b.get(s.id).messages] == ["from b", "from a"]
        assert b.delete(s.id) and a.get(s.id) is None
        assert [e.version for e in a.history(s.id)] == [1, 2, 3, 4]


def test_events_appended_to_the_log_directly_are_caught_up(target, open_store, open_log):
    with open_store() as store:
        first = store.create("via store")
    sid = uuid.uuid4()
    now = datetime.now(UTC)
    with open_log() as log:
        log.append(str(sid), [SessionCreated(sid, "direct", now),
                              MessageAdded(sid, SessionRole.USER, "hi", now)])
    with open_store() as store:
        assert store.get(sid).messages[0].content == "hi"
        assert {s.title for s in store.list()} == {"via store", "direct"}
        assert store.get(first.id).title == "via store"


def test_a_write_first_catches_up_events_appended_behind_its_back(open_store):
    with open_store() as store:
        sid = uuid.uuid4()
        store.log.append(str(sid), [SessionCreated(sid, "behind", datetime.now(UTC))])
        store.add_message(sid, msg("after"))
        assert store.get(sid).messages[0].content == "after"
        marks = store.runner.checkpoints()
        assert marks["sessions"] == marks["tenants"] == store.log.last_position()


def test_replay_by_position_and_by_time(open_store):
    with open_store() as store:
        s = store.create("r")
        store.add_message(s.id, msg("one"))
        store.add_message(s.id, msg("two"))
        store.delete(s.id)
        h = store.history(s.id)
        assert store.replay(s.id, 0) is None
        assert store.replay(s.id, h[0].position).messages == []
        assert [m.content for m in store.replay(s.id, h[2].position).messages] == ["one", "two"]
        assert store.replay(s.id, h[3].position) is None
        assert store.replay(s.id, h[1].recorded_at).messages[0].content == "one"
        assert store.replay(s.id) is None
        assert store.replay(uuid.uuid4()) is None
        with pytest.raises(ValueError):
            store.replay(s.id, "yesterday")


def test_add_messages_is_all_or_nothing(open_store):
    with open_store() as store:
        s = store.create(None)
        store.add_messages(s.id, [msg("q"), msg("a", SessionRole.ASSISTANT)])
        with pytest.raises(ValueError):
            store.add_messages(s.id, [msg("fine"), msg("bad \udc00")])
        assert [m.content for m in store.get(s.id).messages] == ["q", "a"]
        assert store.log.last_position() == 3


def test_get_last_n_and_keyset_pagination(open_store):
    with open_store() as store:
        s = store.create("p")
        store.add_messages(s.id, [msg(str(i)) for i in range(5)])
        assert [m.content for m in store.get(s.id, last_n=2).messages] == ["3", "4"]
        assert store.get(s.id, last_n=0).messages == []
        for i in range(4):
            store.create(f"s{i}")
        everything = store.list()
        page1 = store.list(limit=2)
        page2 = store.list(limit=2, before=page1[-1].id)
        page3 = store.list(limit=2, before=page2[-1].id)
        assert page1 + page2 + page3 == everything
        with pytest.raises(SessionNotFoundError):
            store.list(before=uuid.uuid4())


@pytest.mark.sqlite_only("a file path whose directory is missing")
def test_store_in_a_missing_directory_is_a_clear_error(tmp_path):
    from eventlog import StorageError
    with pytest.raises(StorageError, match="does not exist"):
        EventSourcedSessionStore(tmp_path / "nope" / "s.db")


def test_require_says_why_there_is_no_session(open_store):
    """deleted / never existed / another tenant / not yet: decided by the library."""
    from projections import SessionDeletedError, SessionNotFoundError, SessionNotYetError
    with open_store() as store:
        s = store.create_with_user("t", "u", "acme")
        created = store.log.last_position()
        assert store.require(s.id, tenant_id="acme") == store.get(s.id)
        with pytest.raises(SessionNotFoundError) as other:
            store.require(s.id, tenant_id="globex")
        assert type(other.value) is SessionNotFoundError
        with pytest.raises(SessionNotYetError):
            store.require(s.id, as_of=created - 1)
        store.delete(s.id)
        with pytest.raises(SessionDeletedError) as gone:
            store.require(s.id)
        assert gone.value.position == created + 1
        assert store.require(s.id, as_of=created).title == "t"
        with pytest.raises(SessionNotFoundError) as never:
            store.require(uuid.uuid4())
        assert type(never.value) is SessionNotFoundError
