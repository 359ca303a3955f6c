"""The v2 session API (keys, items, pops, clears, state, versions,
summaries), one contract run against every store that offers it."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from helpers import STORES, make_store

from eventlog import ConcurrencyError
from projections import (
    DuplicateKeyError,
    NewItem,
    SessionItem,
    SessionMessage,
    SessionNotFoundError,
    SessionRole,
    SessionSummary,
)

#: The stores the v2 API is implemented on so far.
ITEM_STORES = STORES


@pytest.fixture(params=ITEM_STORES)
def store(request, tmp_path):
    s = make_store(request.param, tmp_path, request)
    yield s
    if hasattr(s, "close"):
        s.close()


def msg(role: SessionRole, content: str) -> SessionMessage:
    return SessionMessage(role, content, datetime.now(UTC))


TOOL_CALL = {"type": "function_call", "name": "lookup", "arguments": '{"q": "R-88"}',
             "call_id": "c1", "nested": {"list": [1, 2.5, True, None, "x"]}}


# --- keys --------------------------------------------------------------------

def test_create_session_with_key_and_state_is_found_by_key(store):
    s = store.create_session("t", user_id="u", tenant_id="acme", key="user-42/chat-7",
                             state={"lang": "en"})
    assert (s.key, s.state, s.version) == ("user-42/chat-7", {"lang": "en"}, 2)
    assert store.get_by_key("user-42/chat-7", "acme") == s
    assert store.get_by_key("user-42/chat-7") is None  # no-tenant namespace is separate
    assert store.get(s.id) == s


def test_odd_text_in_titles_and_items_round_trips(store):
    """A NUL (which PostgreSQL text cannot hold) or a leading \\x01 in a
    title or an item; an id (user, tenant, key) with one is refused at the
    edge (tests/projections/test_id_control_chars.py)."""
    s = store.create_session("\x01t\x00", user_id="u/\u00e9", tenant_id="acme", key="k\u202e")
    store.add_items(s.id, [NewItem("tool\x00", {"x\x00": "\x00"}, "\x01text\x00", id="i\x00")])
    got = store.get_by_key("k\u202e", "acme")
    assert (got.title, got.user_id, got.key) == ("\x01t\x00", "u/\u00e9", "k\u202e")
    assert [(i.id, i.role, i.data, i.text) for i in got.items] == [
        ("i\x00", "tool\x00", {"x\x00": "\x00"}, "\x01text\x00")]
    assert [x.id for x in store.list_summaries(tenant_id="acme", user_id="u/\u00e9")] == [s.id]


def test_a_key_is_unique_among_live_sessions_of_a_tenant(store):
    first = store.create_session(key="k", tenant_id="acme")
    with pytest.raises(DuplicateKeyError) as info:
        store.create_session(key="k", tenant_id="acme")
    assert isinstance(info.value, ValueError)
    assert (info.value.key, info.value.tenant_id, info.value.session_id) == ("k", "acme", first.id)
    other = store.create_session(key="k", tenant_id="globex")
    untenanted = store.create_session(key="k")
    assert len({first.id, other.id, untenanted.id}) == 3
    assert store.delete(first.id)
    again = store.create_session(key="k", tenant_id="acme")  # deleting frees the key
    assert store.get_by_key("k", "acme").id == again.id


def test_get_or_create_returns_the_live_session_of_the_key(store):
    a = store.get_or_create("k", title="first", user_id="u", tenant_id="acme")
    b = store.get_or_create("k", title="ignored", tenant_id="acme")
    assert a.id == b.id and b.title == "first"
    assert store.get_or_create("k").id != a.id


def test_get_or_create_from_many_threads_makes_one_session(store):
    ids, barrier = [], threading.Barrier(8)

    def work():
        barrier.wait()
        s = store.get_or_create("shared", tenant_id="acme")
        store.add_items(s.id, [NewItem("user", {"from": threading.get_ident()}, "hi")])
        ids.append(s.id)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(store.get(ids[0]).items) == 8


@pytest.mark.parametrize("bad", ["", None, 3])
def test_a_bad_key_is_a_value_error(store, bad):
    with pytest.raises(ValueError, match="key"):
        store.create_session(key=bad) if bad is not None else store.get_or_create(bad)
    assert store.list() == []


# --- items -------------------------------------------------------------------

def test_items_are_stored_exactly_with_open_roles(store):
    s = store.create_session()
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    version = store.add_items(s.id, [
        NewItem("system", {"role": "system", "content": "be brief"}, "be brief", id="i1",
                timestamp=at),
        {"role": "tool", "data": TOOL_CALL, "text": "lookup(R-88)"},
        NewItem("user", {"role": "user", "content": "héllo 🦀"}, "héllo 🦀"),
        NewItem("assistant", {"role": "assistant", "content": []}),  # no text: not a message
    ])
    got = store.get(s.id)
    assert version == got.version == 5
    assert [i.role for i in got.items] == ["system", "tool", "user", "assistant"]
    assert got.items[0] == SessionItem("i1", "system", {"role": "system", "content": "be brief"},
                                       at, "be brief")
    assert got.items[1].data == TOOL_CALL and got.items[1].text == "lookup(R-88)"
    assert all(i.id for i in got.items) and len({i.id for i in got.items}) == 4
    assert [(m.role, m.content) for m in got.messages] == [(SessionRole.USER, "héllo 🦀")]
    assert got.updated_at == got.items[-1].timestamp


def test_a_message_is_an_item_too(store):
    s = store.create(None)
    m = msg(SessionRole.USER, "hello")
    store.add_message(s.id, m)
    (item,) = store.get(s.id).items
    assert item == SessionItem("message-2", "user", {"role": "user", "content": "hello"},
                               m.timestamp, "hello")


def test_the_callers_data_is_copied(store):
    s = store.create_session()
    data = {"a": [1]}
    store.add_items(s.id, [NewItem("tool", data)])
    data["a"].append(2)
    got = store.get(s.id)
    assert got.items[0].data == {"a": [1]}


def test_returned_item_data_is_read_only_and_a_copy_of_it_is_not(store):
    """Items are shared by every reader: their data cannot be changed in
    place (nothing another caller or the cache holds changes); copies can."""
    import copy
    import json

    s = store.create_session()
    store.add_items(s.id, [NewItem("tool", {"a": [1, {"b": 2}]})])
    got = store.get(s.id)
    data = got.items[0].data
    for change in (lambda: data.__setitem__("x", 1), lambda: data["a"].append(3),
                   lambda: data["a"][1].update(b=3), lambda: data.pop("a"),
                   lambda: data["a"].sort(), lambda: data.clear()):
        with pytest.raises(TypeError, match="read-only"):
            change()
    got.items.clear()
    got.messages.append(SessionMessage(SessionRole.USER, "mine", datetime.now(UTC)))
    got.state["k"] = 1
    mine = copy.deepcopy(data)
    mine["a"].append(3)
    assert type(mine) is dict and type(mine["a"]) is list and dict(data) == {"a": [1, {"b": 2}]}
    assert isinstance(data, dict) and json.loads(json.dumps(data)) == {"a": [1, {"b": 2}]}
    again = store.get(s.id)
    assert again.items[0].data == {"a": [1, {"b": 2}]} and again.messages == [] \
        and again.state == {}
    assert [i.data for i in store.pop_items(s.id)] == [{"a": [1, {"b": 2}]}]


@pytest.mark.parametrize("bad", [
    [NewItem("user", {})] + ["not an item"],
    [{"role": "", "data": {}}],
    [{"role": "user", "data": {"x": float("nan")}}],
    [{"role": "user", "data": {1: "int key"}}],
    [{"role": "user", "data": {"x": (1, 2)}}],
    [{"role": "user", "data": {}, "extra": 1}],
    [{"role": "user", "data": []}],
])
def test_bad_items_are_a_value_error_and_nothing_is_written(store, bad):
    s = store.create_session()
    with pytest.raises(ValueError):
        store.add_items(s.id, bad)
    assert store.get(s.id).version == 1 and store.get(s.id).items == []


def test_add_items_to_a_missing_session(store):
    with pytest.raises(SessionNotFoundError):
        store.add_items(uuid.uuid4(), [NewItem("user", {})])


def test_pop_items_returns_the_removed_items_oldest_first(store):
    s = store.create_session()
    store.add_items(s.id, [NewItem("user", {"n": i}, f"m{i}") for i in range(4)])
    assert [i.data["n"] for i in store.pop_items(s.id)] == [3]
    assert [i.data["n"] for i in store.pop_items(s.id, 2)] == [1, 2]
    got = store.get(s.id)
    assert [i.data["n"] for i in got.items] == [0] and [m.content for m in got.messages] == ["m0"]
    assert got.version == 7  # created, 4 items, 2 pops
    assert [i.data["n"] for i in store.pop_items(s.id, 5)] == [0]
    assert store.pop_items(s.id) == [] and store.get(s.id).version == 8  # empty: no event
    with pytest.raises(ValueError):
        store.pop_items(s.id, 0)


def test_clear_removes_every_item_and_keeps_the_session(store):
    s = store.create_session(key="k")
    store.add_message(s.id, msg(SessionRole.USER, "a"))
    store.add_items(s.id, [NewItem("tool", {})])
    store.clear(s.id)
    got = store.get(s.id)
    assert (got.items, got.messages, got.version, got.key) == ([], [], 4, "k")
    store.clear(s.id)  # one event even when already empty
    assert store.get(s.id).version == 5
    store.add_items(s.id, [NewItem("user", {}, "after")])
    assert [m.content for m in store.get(s.id).messages] == ["after"]


def test_replace_last_swaps_the_tail_at_once(store):
    s = store.create_session()
    v = store.add_items(s.id, [NewItem("user", {"n": i}, f"m{i}") for i in range(3)])
    v2 = store.replace_last(s.id, 2, [NewItem("assistant", {"summary": 1}, "sum")],
                            expected_version=v)
    got = store.get(s.id)
    assert v2 == got.version == v + 2  # one removal, one item
    assert [i.text for i in got.items] == ["m0", "sum"]
    with pytest.raises(ConcurrencyError):
        store.replace_last(s.id, 1, [NewItem("user", {})], expected_version=v)
    with pytest.raises(ValueError):
        store.replace_last(s.id, 3, [], expected_version=v2)
    assert store.get(s.id) == got


# --- versions ----------------------------------------------------------------

def test_every_write_checks_expected_version_and_writes_nothing_on_mismatch(store):
    s = store.create_session(tenant_id="acme", user_id="u")
    store.add_items(s.id, [NewItem("user", {}, "x")])
    stale = 1
    writes = [
        lambda v: store.add_message(s.id, msg(SessionRole.USER, "m"), expected_version=v),
        lambda v: store.add_messages(s.id, [msg(SessionRole.USER, "m")], expected_version=v),
        lambda v: store.add_items(s.id, [NewItem("user", {})], expected_version=v),
        lambda v: store.add_items(s.id, [], state_delta={"a": 1}, expected_version=v),
        lambda v: store.pop_items(s.id, expected_version=v),
        lambda v: store.clear(s.id, expected_version=v),
        lambda v: store.replace_last(s.id, 0, [NewItem("user", {})], expected_version=v),
        lambda v: store.delete(s.id, expected_version=v),
    ]
    for write in writes:
        before = store.get(s.id)
        with pytest.raises(ConcurrencyError) as info:
            write(stale)
        assert (info.value.expected_version, info.value.actual_version) == (stale, before.version)
        assert store.get(s.id) == before
        write(before.version)
        stale = before.version
    assert store.get(s.id) is None


def test_versions_count_the_streams_events(store):
    s = store.create(None)
    assert (s.version, s.updated_at) == (1, s.created_at)
    store.add_messages(s.id, [msg(SessionRole.USER, "a"), msg(SessionRole.ASSISTANT, "b")])
    assert store.get(s.id).version == 3


# --- state -------------------------------------------------------------------

def test_state_deltas_for_session_user_and_tenant(store):
    s = store.create_session(user_id="u", tenant_id="acme", state={"a": 1, "b": {"c": 2}})
    v = store.add_items(s.id, [NewItem("user", {}, "x")], state_delta={"a": None, "d": [1]},
                        user_state_delta={"theme": "dark"}, tenant_state_delta={"plan": "pro"})
    got = store.get(s.id)
    assert got.state == {"b": {"c": 2}, "d": [1]}
    assert v == got.version == 4  # created, initial state, item, state change
    assert store.get_state("acme") == {"plan": "pro"}
    assert store.get_state("acme", "u") == {"theme": "dark"}
    assert store.get_state("acme", "other") == {} and store.get_state("globex") == {}
    store.add_items(s.id, [], user_state_delta={"theme": None})
    assert store.get_state("acme", "u") == {}


def test_scoped_state_needs_an_owner_and_nothing_is_written_without_one(store):
    s = store.create_session(user_id="u")
    with pytest.raises(ValueError, match="tenant"):
        store.add_items(s.id, [NewItem("user", {})], tenant_state_delta={"x": 1})
    with pytest.raises(ValueError, match="user"):
        store.add_items(s.id, [NewItem("user", {})], user_state_delta={"x": 1})
    assert store.get(s.id).version == 1


def test_tenant_and_user_ids_with_colons_get_their_own_state(store):
    a = store.create_session(user_id="b:c", tenant_id="a")
    b = store.create_session(user_id="c", tenant_id="a:b")
    store.add_items(a.id, [], user_state_delta={"who": "a/b:c"})
    store.add_items(b.id, [], user_state_delta={"who": "a:b/c"})
    assert store.get_state("a", "b:c") == {"who": "a/b:c"}
    assert store.get_state("a:b", "c") == {"who": "a:b/c"}


# --- reads -------------------------------------------------------------------

def test_list_summaries_without_items(store):
    old = store.create_session("old", user_id="u", tenant_id="acme", key="k1")
    store.add_items(old.id, [NewItem("user", {}, "x"), NewItem("tool", {})])
    new = store.create_session("new", user_id="v", tenant_id="acme")
    store.create_session("other", tenant_id="globex")
    summaries = store.list_summaries(tenant_id="acme")
    assert all(isinstance(x, SessionSummary) for x in summaries)
    assert [x.id for x in summaries] == [new.id, old.id]
    got = store.get(old.id)
    assert summaries[1] == SessionSummary(old.id, "old", old.created_at, got.updated_at, "u",
                                          "acme", "k1", 3, 2)
    assert [x.id for x in store.list_summaries(tenant_id="acme", user_id="u")] == [old.id]
    assert len(store.list_summaries()) == 3
    assert [x.id for x in store.list_summaries(tenant_id="acme", limit=1)] == [new.id]
    assert [x.id for x in store.list_summaries(tenant_id="acme", before=new.id)] == [old.id]


def test_get_last_n_limits_items_and_messages(store):
    s = store.create_session()
    store.add_items(s.id, [NewItem("user", {}, "a"), NewItem("tool", {}),
                           NewItem("assistant", {}, "b")])
    last2 = store.get(s.id, last_n=2)
    assert [i.role for i in last2.items] == ["tool", "assistant"]
    assert [m.content for m in last2.messages] == ["b"]
    assert store.get(s.id, last_n=0).items == []
    assert len(store.get(s.id, last_n=4).items) == 3  # more than there are: all of them
    with pytest.raises(ValueError):
        store.get(s.id, last_n=-1)


def test_list_pages_with_limit_and_before(store):
    ids = [store.create(f"s{i}").id for i in range(5)]
    everything = [s.id for s in store.list()]
    assert everything == ids[::-1]
    page1 = store.list(2)
    page2 = store.list(2, before=page1[-1].id)
    page3 = store.list(2, before=page2[-1].id)
    assert [s.id for s in page1 + page2 + page3] == everything
    with pytest.raises(SessionNotFoundError):
        store.list(before=uuid.uuid4())


# --- tenant views --------------------------------------------------------------

def test_a_tenant_view_offers_the_same_api_confined_to_its_tenant(store):
    acme, globex = store.for_tenant("acme"), store.for_tenant("globex")
    mine = acme.get_or_create("k", user_id="u")
    theirs = globex.create_session(key="k", user_id="u")
    assert mine.tenant_id == "acme" and mine.id != theirs.id
    assert acme.get_by_key("k").id == mine.id and acme.get_by_key("k", "globex") is None
    v = acme.add_items(mine.id, [NewItem("user", {}, "hi")], tenant_state_delta={"x": 1},
                       user_state_delta={"y": 2})
    assert acme.get_state("acme") == {"x": 1} and acme.get_state("acme", "u") == {"y": 2}
    with pytest.raises(ValueError):
        acme.get_state("globex")
    with pytest.raises(ValueError):
        acme.create_session(tenant_id="globex")
    for write in (lambda: acme.add_items(theirs.id, [NewItem("user", {})]),
                  lambda: acme.pop_items(theirs.id), lambda: acme.clear(theirs.id),
                  lambda: acme.replace_last(theirs.id, 0, [], expected_version=None),
                  lambda: acme.add_messages(theirs.id, [msg(SessionRole.USER, "x")])):
        with pytest.raises(SessionNotFoundError):
            write()
    assert store.get(theirs.id).version == 1
    assert [x.id for x in acme.list_summaries()] == [mine.id]
    assert acme.get(mine.id, last_n=1).items[0].text == "hi"
    assert [s.id for s in acme.list(1)] == [mine.id]
    assert acme.pop_items(mine.id, expected_version=v)[0].text == "hi"
    acme.clear(mine.id)
    assert acme.replace_last(mine.id, 0, [NewItem("user", {}, "x")], expected_version=None) > v
