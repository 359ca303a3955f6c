"""Google ADK adapter: appending an `Event.id` the session already holds is a
no-op (issue 19, item 16), on every backend and across service objects, as
ADK's own services keep one copy (InMemorySessionService returns an equal
re-delivery as it is; SqliteSessionService's and DatabaseSessionService's
primary key refuses the second row)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("google.adk", reason="google-adk not installed (pip install -e '.[test]')")

from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.in_memory_session_service import InMemorySessionService
from google.genai import types

from eventlog import DuplicateEventError, SessionCreated
from projections import InMemorySessionStore, NewItem
from sessionlog.integrations.adk import EventSourcedSessionService, session_key

APP, USER = "my_app", "user"


def run(coro):
    return asyncio.run(coro)


def an_event(text: str = "hi", **kw) -> Event:
    return Event(author="user", invocation_id="inv",
                 content=types.Content(role="user", parts=[types.Part(text=text)]),
                 actions=EventActions(state_delta={"n": 1, "user:seen": True}), **kw)


async def _twice(service) -> tuple[list[str], list[str], object]:
    """Create a session, append one event twice through the same session
    object: (stored event ids, the object's event ids, the stored session)."""
    session = await service.create_session(app_name=APP, user_id=USER, session_id="s1")
    event = an_event()
    await service.append_event(session, event)
    again = await service.append_event(session, event.model_copy(deep=True))
    assert again.id == event.id
    got = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
    return [e.id for e in got.events], [e.id for e in session.events], got


@pytest.fixture
def service(open_store):
    """The service on this test's backend (every backend of the suite)."""
    s = EventSourcedSessionService(store=open_store())
    yield s
    run(s.close())


def test_same_event_twice_is_stored_once(service):
    """The same Event.id appended twice is stored once, written once (the
    second append adds no event to the log) and kept once on the caller's
    session object, as InMemorySessionService does."""
    stored, mine, got = run(_twice(service))
    assert stored == mine and len(stored) == 1
    assert got.state == {"n": 1, "user:seen": True}
    store = service.store
    sid = store.get_by_key(session_key(USER, "s1"), tenant_id=APP).id
    types_written = [r.type for r in store.history(sid)]
    assert types_written.count("ItemAdded") == 1 and types_written.count("StateChanged") == 1


def test_same_event_twice_in_memory_store():
    """The same on the in-memory reference store."""
    service = EventSourcedSessionService(store=InMemorySessionStore())
    stored, mine, _ = run(_twice(service))
    assert stored == mine and len(stored) == 1


@pytest.mark.parametrize("reference", ["InMemorySessionService", "SqliteSessionService"])
def test_adk_own_services_keep_one(reference, tmp_path):
    """The reference: ADK's own services keep one copy of a re-appended event
    (SqliteSessionService refuses the second with its primary key;
    DatabaseSessionService does the same but needs SQLAlchemy, not installed here)."""
    async def body():
        if reference == "InMemorySessionService":
            service = InMemorySessionService()
        else:
            from google.adk.sessions.sqlite_session_service import SqliteSessionService
            service = SqliteSessionService(str(tmp_path / "adk.db"))
        session = await service.create_session(app_name=APP, user_id=USER, session_id="s1")
        event = an_event()
        await service.append_event(session, event)
        try:
            await service.append_event(session, event.model_copy(deep=True))
        except sqlite3.IntegrityError:
            pass
        got = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
        return [e.id for e in got.events]
    assert len(run(body())) == 1


def test_two_services_on_one_database_store_it_once(target, open_store):
    """Two services on one database (two connections), each holding the
    session as it was before either appended, append the same event: the
    second is a no-op, not a StaleSessionError, and the session has it once."""
    a = EventSourcedSessionService(store=open_store())
    b = EventSourcedSessionService(store=open_store())

    async def body():
        await a.create_session(app_name=APP, user_id=USER, session_id="s1")
        sa = await a.get_session(app_name=APP, user_id=USER, session_id="s1")
        sb = await b.get_session(app_name=APP, user_id=USER, session_id="s1")
        event = an_event()
        await a.append_event(sa, event)
        await b.append_event(sb, event.model_copy(deep=True))
        for service in (a, b):
            got = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
            assert [e.id for e in got.events] == [event.id]
    run(body())


def test_two_writers_at_once_store_it_once(target, open_store):
    """Two services on one database append the same event at once (each from
    its own thread and connection, both holding the same revision): neither
    fails, and the session has it once, whichever goes first."""
    services = [EventSourcedSessionService(store=open_store()) for _ in range(2)]
    run(services[0].create_session(app_name=APP, user_id=USER, session_id="s1"))
    event = an_event()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(service: EventSourcedSessionService) -> None:
        async def body():
            session = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
            barrier.wait()
            await service.append_event(session, event.model_copy(deep=True))
        try:
            run(body())
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = run(services[1].get_session(app_name=APP, user_id=USER, session_id="s1"))
    assert [e.id for e in got.events] == [event.id]


def test_store_unique_ids_refuses_a_held_item_id(open_store):
    """`add_items(unique_ids=True)`: an item id the session already holds is
    refused with DuplicateEventError before the version is checked, and
    nothing is written; an id that was popped is new again."""
    store = open_store()
    sid = store.create_session().id
    v1 = store.add_items(sid, [NewItem(role="user", data={"a": 1}, id="x")], unique_ids=True)
    with pytest.raises(DuplicateEventError) as raised:
        store.add_items(sid, [NewItem(role="user", data={"a": 2}, id="x")],
                        state_delta={"k": 1}, expected_version=0, unique_ids=True)
    assert raised.value.event_id == "x"
    assert store.get(sid).version == v1 and store.get(sid).state == {}
    store.pop_items(sid)
    store.add_items(sid, [NewItem(role="user", data={"a": 3}, id="x")], unique_ids=True)
    assert [i.data for i in store.get(sid).items] == [{"a": 3}]
    assert isinstance(store.history(sid)[0].event, SessionCreated)
