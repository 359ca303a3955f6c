"""The SessionStore contract: every test of heartbit-core's `mod tests`, and
the additions of this port, run against every store (see conftest.STORES)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from helpers import seed

from projections import (
    Session,
    SessionMessage,
    SessionNotFoundError,
    SessionRole,
    SessionStore,
    format_session_context,
    session_from_json,
    session_to_json,
)


def make_message(role: SessionRole, content: str) -> SessionMessage:
    return SessionMessage(role, content, datetime.now(UTC))


def test_store_satisfies_protocol(store):
    assert isinstance(store, SessionStore)


def test_create_session(store):
    session = store.create(None)
    assert session.title is None
    assert session.messages == []
    assert session.created_at <= datetime.now(UTC)
    assert session.created_at.tzinfo is not None


def test_create_session_with_title(store):
    session = store.create("My Chat")
    assert session.title == "My Chat"
    assert session.messages == []


def test_get_existing_session(store):
    created = store.create("Test")
    fetched = store.get(created.id)
    assert fetched is not None
    assert fetched.id == created.id
    assert fetched.title == created.title
    assert fetched == created


def test_get_missing_session(store):
    assert store.get(uuid.uuid4()) is None


def test_list_empty(store):
    assert store.list() == []


def test_list_multiple(store):
    for _ in range(3):
        store.create(None)
    assert len(store.list()) == 3


def test_list_ordered_by_created_at(store):
    now = datetime.now(UTC)
    for title, age in (("mid", 1), ("old", 2), ("new", 0)):
        seed(store, Session(uuid.uuid4(), title, now - timedelta(hours=age), []))
    assert [s.title for s in store.list()] == ["new", "mid", "old"]


def test_list_ties_put_the_later_created_first(store):
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for title in ("first", "second", "third"):
        seed(store, Session(uuid.uuid4(), title, moment, [], "u", "t"))
    assert [s.title for s in store.list()] == ["third", "second", "first"]
    assert [s.title for s in store.list_for_tenant("t")] == ["third", "second", "first"]


def test_delete_existing(store):
    session = store.create(None)
    assert store.delete(session.id) is True
    assert store.get(session.id) is None
    assert store.list() == []


def test_delete_missing(store):
    assert store.delete(uuid.uuid4()) is False


def test_delete_twice_returns_false_the_second_time(store):
    session = store.create(None)
    assert store.delete(session.id) is True
    assert store.delete(session.id) is False


def test_add_message_to_existing(store):
    session = store.create(None)
    store.add_message(session.id, make_message(SessionRole.USER, "hello"))
    fetched = store.get(session.id)
    assert len(fetched.messages) == 1
    assert fetched.messages[0].content == "hello"
    assert fetched.messages[0].role == SessionRole.USER


def test_add_message_to_missing(store):
    missing = uuid.uuid4()
    with pytest.raises(SessionNotFoundError) as info:
        store.add_message(missing, make_message(SessionRole.USER, "hello"))
    assert str(info.value) == f"session {missing} not found"
    assert isinstance(info.value, LookupError)
    assert "not found" in str(info.value)


def test_add_message_to_deleted_session_raises(store):
    session = store.create(None)
    store.delete(session.id)
    with pytest.raises(SessionNotFoundError, match=f"session {session.id} not found"):
        store.add_message(session.id, make_message(SessionRole.USER, "late"))


def test_add_multiple_messages(store):
    session = store.create(None)
    store.add_message(session.id, make_message(SessionRole.USER, "first"))
    store.add_message(session.id, make_message(SessionRole.ASSISTANT, "second"))
    store.add_message(session.id, make_message(SessionRole.USER, "third"))
    fetched = store.get(session.id)
    assert [m.content for m in fetched.messages] == ["first", "second", "third"]
    assert [m.role for m in fetched.messages] == [
        SessionRole.USER, SessionRole.ASSISTANT, SessionRole.USER
    ]


def test_ids_may_be_given_as_strings(store):
    session = store.create("s")
    store.add_message(str(session.id), make_message(SessionRole.USER, "hi"))
    assert store.get(str(session.id)).messages[0].content == "hi"
    assert store.delete(str(session.id)) is True


def test_bad_id_is_a_clear_value_error(store):
    with pytest.raises(ValueError, match="not a session id"):
        store.get("not-a-uuid")


def test_message_round_trips_exactly(store):
    stamp = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    message = SessionMessage(SessionRole.ASSISTANT, "héllo\n\x00🦀", stamp)
    session = store.create(None)
    store.add_message(session.id, message)
    assert store.get(session.id).messages == [message]


def test_returned_sessions_are_copies(store):
    session = store.create(None)
    fetched = store.get(session.id)
    fetched.messages.append(make_message(SessionRole.USER, "not stored"))
    assert store.get(session.id).messages == []


def test_session_role_serde():
    """Roles go over the wire as serde's lowercase strings, through our session JSON."""
    now = datetime.now(UTC)
    session = Session(uuid.uuid4(), None, now, [SessionMessage(SessionRole.USER, "q", now),
                                                 SessionMessage(SessionRole.ASSISTANT, "a", now)])
    wire = json.loads(session_to_json(session))
    assert [m["role"] for m in wire["messages"]] == ["user", "assistant"]
    back = session_from_json(json.dumps(wire)).messages
    assert [m.role for m in back] == [SessionRole.USER, SessionRole.ASSISTANT]
    wire["messages"][0]["role"] = "User"
    with pytest.raises(ValueError, match="role"):
        session_from_json(json.dumps(wire))


def test_session_message_roundtrip():
    msg = SessionMessage(SessionRole.ASSISTANT, "Hello, world!", datetime.now(UTC))
    session = Session(uuid.uuid4(), None, datetime.now(UTC), [msg])
    back = session_from_json(session_to_json(session)).messages[0]
    assert (back.role, back.content, back.timestamp) == (msg.role, msg.content, msg.timestamp)


def test_concurrent_access(store):
    ids, errors = [], []

    def work(i: int) -> None:
        try:
            session = store.create(f"thread-{i}")
            store.add_message(session.id, make_message(SessionRole.USER, f"msg from thread {i}"))
            ids.append(session.id)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for sid in ids:
        assert len(store.get(sid).messages) == 1
    assert len(store.list()) == 10


def test_format_context_no_history():
    assert format_session_context([], "Hello") == "Hello"


def test_format_context_with_history_is_byte_identical_to_the_seed():
    history = [
        make_message(SessionRole.USER, "What is Rust?"),
        make_message(SessionRole.ASSISTANT, "A systems programming language."),
    ]
    assert format_session_context(history, "Tell me more") == (
        "## Conversation history\n"
        "User: What is Rust?\n"
        "Assistant: A systems programming language.\n"
        "\n## Current message\n"
        "Tell me more"
    )


def test_format_context_preserves_message_order():
    history = [make_message(r, c) for r, c in (
        (SessionRole.USER, "First"), (SessionRole.ASSISTANT, "Second"),
        (SessionRole.USER, "Third"), (SessionRole.ASSISTANT, "Fourth"),
    )]
    result = format_session_context(history, "Fifth")
    positions = [result.find(w) for w in ("First", "Second", "Third", "Fourth", "Fifth")]
    assert -1 not in positions
    assert positions == sorted(positions)


def test_format_context_single_message_history():
    result = format_session_context([make_message(SessionRole.USER, "Prior question")], "Follow-up")
    assert "User: Prior question" in result
    assert result.endswith("Follow-up")


def test_create_with_user_sets_fields(store):
    session = store.create_with_user("Test", "alice", "acme")
    assert (session.user_id, session.tenant_id, session.title) == ("alice", "acme", "Test")
    assert store.get(session.id) == session


def test_create_without_user_has_none_fields(store):
    session = store.create(None)
    assert session.user_id is None
    assert session.tenant_id is None


def test_list_for_tenant_filters_by_tenant(store):
    store.create_with_user("acme-1", "alice", "acme")
    store.create_with_user("acme-2", "bob", "acme")
    store.create_with_user("globex-1", "charlie", "globex")
    store.create("legacy")
    acme = store.list_for_tenant("acme")
    assert len(acme) == 2
    assert all(s.tenant_id == "acme" for s in acme)
    globex = store.list_for_tenant("globex")
    assert [s.tenant_id for s in globex] == ["globex"]
    assert len(store.list()) == 4


def test_list_for_tenant_drops_deleted_sessions(store):
    keep = store.create_with_user("keep", "alice", "acme")
    gone = store.create_with_user("gone", "alice", "acme")
    store.delete(gone.id)
    assert [s.id for s in store.list_for_tenant("acme")] == [keep.id]


def test_session_serde_backward_compat():
    text = ('{"id":"00000000-0000-0000-0000-000000000000","title":"old",'
            '"created_at":"2026-01-01T00:00:00Z","messages":[]}')
    session = session_from_json(text)
    assert session.user_id is None and session.tenant_id is None
    assert session.title == "old"


def test_session_serde_with_tenant():
    session = Session(uuid.UUID(int=0), None, datetime.now(UTC), [], "alice", "acme")
    text = session_to_json(session)
    assert '"user_id":"alice"' in text
    assert '"tenant_id":"acme"' in text
    back = session_from_json(text)
    assert (back.user_id, back.tenant_id) == ("alice", "acme")


# --- Tenant isolation: for_tenant ---

def test_for_tenant_is_a_session_store_that_stamps_its_tenant(store):
    acme = store.for_tenant("acme")
    assert isinstance(acme, SessionStore)
    plain = acme.create("t")
    owned = acme.create_with_user("u", "alice", "acme")
    assert (plain.tenant_id, plain.user_id) == ("acme", None)
    assert (owned.tenant_id, owned.user_id) == ("acme", "alice")
    assert [s.id for s in acme.list()] == [owned.id, plain.id]
    assert [s.id for s in store.list_for_tenant("acme")] == [owned.id, plain.id]


def test_another_tenants_session_behaves_as_missing(store):
    acme, globex = store.for_tenant("acme"), store.for_tenant("globex")
    theirs = globex.create_with_user("secret", "bob", "globex")
    legacy = store.create("no tenant")
    for foreign in (theirs, legacy):
        assert acme.get(foreign.id) is None
        assert acme.delete(foreign.id) is False
        with pytest.raises(SessionNotFoundError, match=f"session {foreign.id} not found"):
            acme.add_message(foreign.id, make_message(SessionRole.USER, "sneaky"))
    assert acme.list() == [] and acme.list_for_tenant("globex") == []
    with pytest.raises(ValueError, match="confined to tenant 'acme'"):
        acme.create_with_user("x", "mallory", "globex")
    with pytest.raises(ValueError):
        acme.for_tenant("globex")
    assert store.get(theirs.id).messages == []
    assert globex.delete(theirs.id) is True


def test_tenant_store_reads_and_writes_its_own(store):
    acme = store.for_tenant("acme")
    s = acme.create("mine")
    acme.add_message(s.id, make_message(SessionRole.USER, "hello"))
    assert acme.get(str(s.id)).messages[0].content == "hello"
    assert acme.delete(s.id) is True
    assert acme.get(s.id) is None
