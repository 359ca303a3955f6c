"""Google ADK adapter: `EventSourcedSessionService` keeps the behaviours ADK's
own session-service suite (google/adk-python tests/unittests/sessions/
test_session_service.py) asks of every `BaseSessionService`, runs a real ADK
Runner offline, and records conversations `sessionlog history` and `show` read."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

if os.environ.get("CI") != "true":
    pytest.importorskip("google.adk", reason="google-adk not installed (pip install -e '.[test]')")

from google.adk.agents import LlmAgent
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import Runner
from google.adk.sessions.base_session_service import GetSessionConfig
from google.adk.sessions.session import Session
from google.genai import types

from eventlog import EventLog
from projections import EventSourcedSessionStore, InMemorySessionStore, SessionMessage, SessionRole
from sessionlog.cli import main
from sessionlog.integrations import adk
from sessionlog.integrations.adk import EventSourcedSessionService, session_key

APP, USER = "my_app", "user"
KINDS = ["sqlite-memory", "sqlite-file", "memory-store"]


def run(coro):
    return asyncio.run(coro)


def make_service(kind: str, tmp_path) -> EventSourcedSessionService:
    if kind == "sqlite-memory":
        return EventSourcedSessionService()
    if kind == "sqlite-file":
        return EventSourcedSessionService(tmp_path / "adk.db")
    return EventSourcedSessionService(store=InMemorySessionStore())


@pytest.fixture(params=KINDS)
def service(request, tmp_path):
    """The service on each kind of store, fresh."""
    s = make_service(request.param, tmp_path)
    yield s
    run(s.close())


def text_event(author: str, text: str, **kw) -> Event:
    role = "user" if author == "user" else "model"
    kw.setdefault("invocation_id", "inv")
    return Event(author=author, content=types.Content(role=role, parts=[types.Part(text=text)]),
                 **kw)


def delta_event(delta: dict, **kw) -> Event:
    kw.setdefault("invocation_id", "inv")
    return Event(author="user", actions=EventActions(state_delta=delta), **kw)


# -- create / get / list / delete -------------------------------------------

def test_get_missing_session_is_none(service):
    assert run(service.get_session(app_name=APP, user_id=USER, session_id="123")) is None


def test_create_get_delete(service):
    """A created session reads back equal, then delete makes it missing."""
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER, state={"key": "value"})
        assert (session.app_name, session.user_id, session.state) == (APP, USER, {"key": "value"})
        assert session.id and session.events == []
        assert session.last_update_time <= time.time()
        got = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
        assert got == session
        await service.delete_session(app_name=APP, user_id=USER, session_id=session.id)
        assert await service.get_session(app_name=APP, user_id=USER, session_id=session.id) is None
        await service.delete_session(app_name=APP, user_id=USER, session_id=session.id)  # no-op
    run(body())


def test_create_with_existing_id_raises_and_nothing_changes(service):
    """A second create with a live session's id raises AlreadyExistsError; after
    a delete the id is free again."""
    async def body():
        await service.create_session(app_name=APP, user_id=USER, session_id="s1", state={"a": 1})
        with pytest.raises(AlreadyExistsError):
            await service.create_session(app_name=APP, user_id=USER, session_id="s1",
                                         state={"a": 2, "user:u": 1})
        got = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
        assert got.state == {"a": 1}
        assert await service.get_user_state(app_name=APP, user_id=USER) == {}
        await service.delete_session(app_name=APP, user_id=USER, session_id="s1")
        again = await service.create_session(app_name=APP, user_id=USER, session_id="s1")
        assert again.state == {} and again.events == []
    run(body())


def test_padded_session_id_is_normalised(service):
    """Padded ids are stripped on create, get and delete, as ADK's in-memory
    and SQLite services do."""
    async def body():
        created = await service.create_session(app_name=APP, user_id=USER, session_id="  s1 ")
        assert created.id == "s1"
        got = await service.get_session(app_name=APP, user_id=USER, session_id=" s1  ")
        assert got is not None and got.id == "s1"
        await service.delete_session(app_name=APP, user_id=USER, session_id=" s1 ")
        assert await service.get_session(app_name=APP, user_id=USER, session_id="s1") is None
    run(body())


def test_create_and_list_sessions(service):
    """list_sessions returns every session of the user with its state and no events."""
    async def body():
        ids = [f"session{i}" for i in range(5)]
        for sid in ids:
            s = await service.create_session(app_name=APP, user_id=USER, session_id=sid,
                                             state={"key": "value" + sid})
            await service.append_event(s, text_event("user", "hi " + sid))
        sessions = (await service.list_sessions(app_name=APP, user_id=USER)).sessions
        assert [s.id for s in sessions] == ids
        for s in sessions:
            assert s.state == {"key": "value" + s.id} and s.events == []
    run(body())


def test_list_sessions_all_users_and_other_apps(service):
    async def body():
        await service.create_session(app_name=APP, user_id="u1", session_id="s1a", state={"k": "1a"})
        await service.create_session(app_name=APP, user_id="u1", session_id="s1b", state={"k": "1b"})
        await service.create_session(app_name=APP, user_id="u2", session_id="s2a", state={"k": "2a"})
        await service.create_session(app_name="other", user_id="u1", session_id="x")
        one = (await service.list_sessions(app_name=APP, user_id="u1")).sessions
        assert {s.id: s.state for s in one} == {"s1a": {"k": "1a"}, "s1b": {"k": "1b"}}
        every = (await service.list_sessions(app_name=APP)).sessions
        assert {(s.user_id, s.id) for s in every} == {("u1", "s1a"), ("u1", "s1b"), ("u2", "s2a")}
        assert (await service.list_sessions(app_name="nobody")).sessions == []
    run(body())


def test_list_sessions_ordered_by_last_update_time(service):
    """Oldest update first: the session appended to last comes last."""
    async def body():
        s1 = await service.create_session(app_name=APP, user_id=USER, session_id="s1")
        await service.create_session(app_name=APP, user_id=USER, session_id="s2")
        await service.append_event(s1, text_event("user", "later", timestamp=time.time() + 10))
        listed = (await service.list_sessions(app_name=APP, user_id=USER)).sessions
        assert [s.id for s in listed] == ["s2", "s1"]
        assert listed[1].last_update_time == s1.last_update_time
    run(body())


# -- state --------------------------------------------------------------------

def test_session_state_scopes(service):
    """app: keys reach every user's sessions, user: keys the user's, plain keys
    the session only; temp: keys are never stored."""
    async def body():
        s11 = await service.create_session(app_name=APP, user_id="user1", session_id="s11",
                                           state={"key11": "value11"})
        await service.create_session(app_name=APP, user_id="user1", session_id="s12",
                                     state={"key12": "value12"})
        await service.create_session(app_name=APP, user_id="user2", session_id="s2")
        event = text_event("user", "text", actions=EventActions(state_delta={
            "app:key": "value", "user:key1": "value1", "temp:key": "temp", "key11": "new"}))
        await service.append_event(session=s11, event=event)
        assert s11.state["app:key"] == "value" and s11.state["user:key1"] == "value1"
        assert s11.state["key11"] == "new" and s11.state["temp:key"] == "temp"
        assert "temp:key" not in event.actions.state_delta

        s12 = await service.get_session(app_name=APP, user_id="user1", session_id="s12")
        assert s12.state == {"key12": "value12", "app:key": "value", "user:key1": "value1"}
        s2 = await service.get_session(app_name=APP, user_id="user2", session_id="s2")
        assert s2.state == {"app:key": "value"}
        s11 = await service.get_session(app_name=APP, user_id="user1", session_id="s11")
        assert s11.state == {"key11": "new", "app:key": "value", "user:key1": "value1"}
        assert "temp:key" not in s11.events[0].actions.state_delta
    run(body())


def test_new_session_merges_app_and_user_state(service):
    async def body():
        s1 = await service.create_session(app_name=APP, user_id=USER, session_id="s1",
                                          state={"key1": "value1", "app:k1": "v1"})
        await service.append_event(s1, delta_event({"app:k2": "v2", "user:u": 1, "temp:t": 0}))
        s2 = await service.create_session(app_name=APP, user_id=USER, session_id="s2", state={})
        assert s2.state == {"app:k1": "v1", "app:k2": "v2", "user:u": 1}
        other = await service.create_session(app_name=APP, user_id="u2", session_id="s3",
                                             state={"user:own": True})
        assert other.state == {"app:k1": "v1", "app:k2": "v2", "user:own": True}
    run(body())


def test_temp_state_visible_to_later_events_of_the_same_object(service):
    """A temp: value set by one event is readable from the session object
    before the next event (SequentialAgent's output_key='temp:...')."""
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER, session_id="seq")
        first = Event(invocation_id="inv", author="agent1",
                      actions=EventActions(state_delta={"temp:output": "from a1"}))
        await service.append_event(session, first)
        assert session.state["temp:output"] == "from a1"
        assert "temp:output" not in first.actions.state_delta
        await service.append_event(session, delta_event({"sk": session.state["temp:output"]}))
        got = await service.get_session(app_name=APP, user_id=USER, session_id="seq")
        assert got.state == {"sk": "from a1"}
    run(body())


def test_get_user_state(service):
    """get_user_state: empty at first, the latest user: values after, per user and app."""
    async def body():
        assert await service.get_user_state(app_name=APP, user_id="u1") == {}
        s = await service.create_session(app_name=APP, user_id="u1")
        await service.append_event(s, delta_event({"user:profile": {"name": "Alice"},
                                                   "user:counter": 1, "session_key": 1}))
        await service.append_event(s, delta_event({"user:counter": 2}))
        assert await service.get_user_state(app_name=APP, user_id="u1") == {
            "profile": {"name": "Alice"}, "counter": 2}
        assert await service.get_user_state(app_name=APP, user_id="u2") == {}
        assert await service.get_user_state(app_name="other_app", user_id="u1") == {}
    run(body())


def test_create_with_non_json_state_writes_nothing(service):
    async def body():
        with pytest.raises(ValueError, match="key"):
            await service.create_session(app_name=APP, user_id=USER, session_id="s",
                                         state={"key": object()})
        assert await service.get_session(app_name=APP, user_id=USER, session_id="s") is None
    run(body())


# -- users, ids, events --------------------------------------------------------

def test_same_session_id_for_two_users(service):
    """Session ids are per user: u2's "s1" is not u1's."""
    async def body():
        s1 = await service.create_session(app_name=APP, user_id="u1", session_id="s1")
        await service.append_event(s1, text_event("user", "mine"))
        await service.create_session(app_name=APP, user_id="u2", session_id="s1")
        got = await service.get_session(app_name=APP, user_id="u2", session_id="s1")
        assert got.user_id == "u2" and got.events == []
        assert await service.get_session(app_name=APP, user_id="u3", session_id="s1") is None
        await service.delete_session(app_name=APP, user_id="u2", session_id="s1")
        kept = await service.get_session(app_name=APP, user_id="u1", session_id="s1")
        assert [e.content.parts[0].text for e in kept.events] == ["mine"]
    run(body())


def test_user_ids_with_slashes_do_not_collide(service):
    """User "a/b" with session "c" and user "a" with session "b/c" are two sessions."""
    async def body():
        await service.create_session(app_name=APP, user_id="a/b", session_id="c", state={"x": 1})
        await service.create_session(app_name=APP, user_id="a", session_id="b/c", state={"x": 2})
        await service.create_session(app_name=APP, user_id="a%2Fb", session_id="c", state={"x": 3})
        got = [await service.get_session(app_name=APP, user_id=u, session_id=s)
               for u, s in [("a/b", "c"), ("a", "b/c"), ("a%2Fb", "c")]]
        assert [g.state["x"] for g in got] == [1, 2, 3]
        listed = (await service.list_sessions(app_name=APP)).sessions
        assert {(s.user_id, s.id) for s in listed} == {("a/b", "c"), ("a", "b/c"), ("a%2Fb", "c")}
    run(body())


def test_append_event_bytes(service):
    """Binary parts and metadata round-trip exactly."""
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER)
        content = types.Content(role="user", parts=[
            types.Part.from_bytes(data=b"test_image_data", mime_type="image/png")])
        grounding = types.GroundingMetadata(
            search_entry_point=types.SearchEntryPoint(sdk_blob=b"test_sdk_blob"))
        await service.append_event(session, Event(invocation_id="inv", author="user",
                                                  content=content, grounding_metadata=grounding))
        got = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
        assert len(got.events) == 1
        assert got.events[0].content == content
        assert got.events[0].grounding_metadata == grounding
    run(body())


def test_append_event_complete(service):
    """An event with every kind of field reads back equal, and so does the session."""
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER)
        event = Event(
            invocation_id="invocation", author="user",
            content=types.Content(role="user", parts=[types.Part(text="test_text")]),
            turn_complete=True, partial=False,
            actions=EventActions(artifact_delta={"file": 0}, transfer_to_agent="agent",
                                 escalate=True),
            long_running_tool_ids={"tool1"}, error_code="error_code",
            error_message="error_message", interrupted=True,
            grounding_metadata=types.GroundingMetadata(web_search_queries=["query1"]),
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=1, candidates_token_count=1, total_token_count=2),
            citation_metadata=types.CitationMetadata(),
            custom_metadata={"custom_key": "custom_value"}, timestamp=1700000000.123,
            input_transcription=types.Transcription(text="input transcription", finished=True),
            output_transcription=types.Transcription(text="output transcription", finished=True),
        )
        await service.append_event(session=session, event=event)
        got = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
        assert got == session
        assert got.events[0] == event
    run(body())


def test_last_update_time_follows_events(service):
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER)
        created = session.last_update_time
        stamp = created + 10.123456789
        await service.append_event(session, Event(invocation_id="inv", author="user", timestamp=stamp))
        assert session.last_update_time == stamp
        got = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
        assert got.last_update_time == stamp > created
    run(body())


def test_get_session_with_config(service):
    """num_recent_events and after_timestamp filter the events, alone and together."""
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER)
        for i in range(1, 6):
            await service.append_event(session, Event(author="user", timestamp=i))

        async def stamps(**config):
            got = await service.get_session(app_name=APP, user_id=USER, session_id=session.id,
                                            config=GetSessionConfig(**config) if config else None)
            return [e.timestamp for e in got.events]

        assert await stamps() == [1, 2, 3, 4, 5]
        assert await stamps(num_recent_events=0) == []
        assert await stamps(num_recent_events=3) == [3, 4, 5]
        assert await stamps(after_timestamp=4.0) == [4, 5]
        assert await stamps(after_timestamp=50) == []
        assert await stamps(after_timestamp=4.0, num_recent_events=3) == [4, 5]
        with pytest.raises(ValueError):
            GetSessionConfig(num_recent_events=-1)
    run(body())


def test_events_keep_append_order_on_equal_timestamps(service):
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER)
        for i in range(4):
            await service.append_event(session, text_event("user", f"m{i}", timestamp=7.0))
        got = await service.get_session(app_name=APP, user_id=USER, session_id=session.id,
                                        config=GetSessionConfig(num_recent_events=2))
        assert [e.content.parts[0].text for e in got.events] == ["m2", "m3"]
    run(body())


def test_partial_events_are_not_persisted(service):
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER)
        await service.append_event(session, Event(author="user", partial=True))
        assert session.events == []
        got = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
        assert got.events == []
    run(body())


def test_append_to_missing_or_deleted_session_raises(service):
    async def body():
        ghost = Session(id="ghost", app_name=APP, user_id=USER)
        with pytest.raises(SessionNotFoundError):
            await service.append_event(ghost, text_event("user", "hello?"))
        session = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        await service.delete_session(app_name=APP, user_id=USER, session_id="s")
        with pytest.raises(SessionNotFoundError):
            await service.append_event(session, text_event("user", "hello?"))
        assert session.events == []
    run(body())


# -- stale sessions ------------------------------------------------------------

def test_append_to_stale_session_is_rejected_and_writes_nothing(service):
    async def body():
        now = time.time()
        original = await service.create_session(app_name=APP, user_id=USER)
        await service.append_event(original, delta_event({"sk1": "v1"}, invocation_id="inv1",
                                                         timestamp=now + 1))
        updated = await service.get_session(app_name=APP, user_id=USER, session_id=original.id)
        await service.append_event(updated, delta_event({"sk2": "v2", "user:u": 2, "app:a": 2},
                                                        invocation_id="inv2", timestamp=now + 2))
        with pytest.raises(ValueError, match="modified in storage") as raised:
            await service.append_event(original, delta_event(
                {"sk3": "v3", "user:u": 3, "app:a": 3}, invocation_id="inv3", timestamp=now + 3))
        assert type(raised.value).__name__ == "StaleSessionError"
        final = await service.get_session(app_name=APP, user_id=USER, session_id=original.id)
        assert [e.invocation_id for e in final.events] == ["inv1", "inv2"]
        assert final.state == {"sk1": "v1", "sk2": "v2", "user:u": 2, "app:a": 2}
        assert "sk3" not in original.state and len(original.events) == 1
    run(body())


def test_concurrent_appends_from_stale_copies_one_wins(service):
    """Two copies of one revision append at once: exactly one is stored, the
    other raises StaleSessionError (8 rounds)."""
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER)
        for i in range(8):
            latest = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
            copies = [latest.model_copy(deep=True), latest.model_copy(deep=True)]
            base = latest.last_update_time + 10
            results = await asyncio.gather(*[
                service.append_event(c, delta_event({f"sk{i}-{j}": j}, invocation_id=f"inv{i}-{j}",
                                                    timestamp=base + j))
                for j, c in enumerate(copies)], return_exceptions=True)
            errors = [r for r in results if isinstance(r, Exception)]
            assert len(errors) == 1 and "modified in storage" in str(errors[0])
        final = await service.get_session(app_name=APP, user_id=USER, session_id=session.id)
        assert len(final.events) == 8 and len(final.state) == 8
    run(body())


def test_session_object_without_revision(service):
    """A hand-made Session (no revision stamp) may append while it matches the
    stored events, even with a drifted update time, and is refused once stale."""
    async def body():
        s = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        bare = Session(id="s", app_name=APP, user_id=USER, last_update_time=s.last_update_time)
        first = Event(invocation_id="inv1", author="user", timestamp=s.last_update_time + 10)
        await service.append_event(bare, first)
        drifted = Session(id="s", app_name=APP, user_id=USER, events=[first],
                          last_update_time=first.timestamp - 0.0001)
        await service.append_event(drifted, Event(invocation_id="inv2", author="user",
                                                  timestamp=first.timestamp + 10))
        stale = Session(id="s", app_name=APP, user_id=USER, events=[first],
                        last_update_time=first.timestamp)
        with pytest.raises(ValueError, match="modified in storage"):
            await service.append_event(stale, Event(invocation_id="inv3", author="user"))
        got = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert [e.invocation_id for e in got.events] == ["inv1", "inv2"]
    run(body())


def test_session_re_created_under_the_same_id_makes_old_objects_stale(service):
    async def body():
        old = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        await service.delete_session(app_name=APP, user_id=USER, session_id="s")
        await service.create_session(app_name=APP, user_id=USER, session_id="s")
        with pytest.raises(ValueError, match="modified in storage"):
            await service.append_event(old, text_event("user", "to the old one"))
        got = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert got.events == []
    run(body())


# -- what the store records -----------------------------------------------------

def test_roles_and_text_of_stored_items(service):
    """Each event is one item: user text as user, a function call as
    assistant, its response as tool, the answer as assistant."""
    async def body():
        s = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        call = types.FunctionCall(name="get_weather", args={"city": "Lisbon"})
        resp = types.FunctionResponse(name="get_weather", response={"sky": "sunny"})
        events = [
            text_event("user", "Weather in Lisbon?"),
            Event(invocation_id="inv", author="weather",
                  content=types.Content(role="model", parts=[types.Part(function_call=call)])),
            Event(invocation_id="inv", author="weather",
                  content=types.Content(role="user", parts=[types.Part(function_response=resp)])),
            text_event("weather", "It is sunny.", actions=EventActions(state_delta={"k": 1})),
        ]
        for e in events:
            await service.append_event(s, e)
        return await asyncio.to_thread(service.store.get_by_key, session_key(USER, "s"), APP)
    stored = run(body())
    assert [(i.role, i.text) for i in stored.items] == [
        ("user", "Weather in Lisbon?"),
        ("assistant", 'function_call get_weather({"city": "Lisbon"})'),
        ("tool", "function_response get_weather"),
        ("assistant", "It is sunny."),
    ]
    assert [m.content for m in stored.messages][-1] == "It is sunny."
    assert stored.state == {"k": 1} and stored.tenant_id == APP and stored.user_id == USER


def test_messages_added_by_other_means_read_as_events(service):
    """A message added through the store (say `sessionlog add`) shows up as an
    ADK event, and makes sessions read before it stale."""
    async def body():
        session = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        stored = await asyncio.to_thread(service.store.get_by_key, session_key(USER, "s"), APP)
        message = SessionMessage(SessionRole.ASSISTANT, "Handed over to a human.", datetime.now(UTC))
        await asyncio.to_thread(service.store.add_message, stored.id, message)
        got = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        [event] = got.events
        assert (event.author, event.content.role, event.content.parts[0].text) == (
            "assistant", "model", "Handed over to a human.")
        assert event.timestamp == message.timestamp.timestamp() == got.last_update_time
        with pytest.raises(ValueError, match="modified in storage"):
            await service.append_event(session, text_event("user", "hello"))
        await service.append_event(got, text_event("user", "hello"))
    run(body())


def test_public_surface():
    assert adk.__all__ == ["EventSourcedSessionService"]


def test_event_and_state_delta_are_one_append(tmp_path):
    """The item and its session, user and app state changes are consecutive
    log positions of one append (one transaction)."""
    path = tmp_path / "adk.db"

    async def body():
        async with EventSourcedSessionService(path) as service:
            s = await service.create_session(app_name=APP, user_id=USER, session_id="s")
            await service.append_event(s, delta_event({"k": 1, "user:u": 2, "app:a": 3}))
    run(body())
    log = EventLog(path)
    try:
        events = list(log.read_all())
    finally:
        log.close()
    last = events[-4:]
    assert sorted(e.type for e in last) == sorted(
        ["ItemAdded", "StateChanged", "ScopeStateChanged", "ScopeStateChanged"])
    assert [e.position for e in last] == list(range(last[0].position, last[0].position + 4))


def test_services_share_one_store(tmp_path):
    """Two services on one store see each other's sessions; closing a service
    leaves a shared store open."""
    store = EventSourcedSessionStore(tmp_path / "shared.db")
    try:
        async def body():
            a = EventSourcedSessionService(store=store)
            b = EventSourcedSessionService(store=store)
            s = await a.create_session(app_name=APP, user_id=USER, session_id="s")
            await a.append_event(s, text_event("user", "hello"))
            await a.close()
            got = await b.get_session(app_name=APP, user_id=USER, session_id="s")
            assert [e.content.parts[0].text for e in got.events] == ["hello"]
        run(body())
        assert store.get_by_key(session_key(USER, "s"), tenant_id=APP) is not None
    finally:
        store.close()


# -- async: lazy open, the loop never blocks -------------------------------------

def test_store_opens_lazily(tmp_path):
    path = tmp_path / "lazy.db"
    service = EventSourcedSessionService(path)
    assert not path.exists()
    run(service.create_session(app_name=APP, user_id=USER))
    assert path.exists()
    run(service.close())


def test_event_loop_runs_while_the_database_is_locked(tmp_path):
    """While another connection holds the write lock, the service's first call
    (which opens the store and writes) waits in a worker thread and the event
    loop keeps running other coroutines."""
    path = tmp_path / "locked.db"
    EventSourcedSessionStore(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")

    async def body():
        service = EventSourcedSessionService(path)
        task = asyncio.create_task(service.create_session(app_name=APP, user_id=USER,
                                                          session_id="s"))
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 20 and not task.done()
        blocker.execute("ROLLBACK")
        created = await task
        assert created.id == "s"
        await service.close()
    try:
        run(body())
    finally:
        blocker.close()


# -- a real ADK Runner, offline, and the audit trail -----------------------------

class ScriptedLlm(BaseLlm):
    """A model that calls get_weather once, then answers with the tool's result."""

    model: str = "scripted"

    async def generate_content_async(self, llm_request, stream: bool = False
                                     ) -> AsyncGenerator[LlmResponse, None]:
        results = [p.function_response.response for c in llm_request.contents
                   for p in (c.parts or []) if p.function_response]
        if not results:
            call = types.FunctionCall(name="get_weather", args={"city": "Lisbon"})
            yield LlmResponse(content=types.Content(role="model",
                                                    parts=[types.Part(function_call=call)]))
        else:
            sky = results[-1]["sky"]
            yield LlmResponse(content=types.Content(
                role="model", parts=[types.Part(text=f"It is {sky} in Lisbon.")]))


def get_weather(city: str) -> dict:
    """The weather in a city."""
    return {"city": city, "sky": "sunny"}


async def run_agent(service: EventSourcedSessionService, session_id: str) -> list[Event]:
    agent = LlmAgent(name="weather", model=ScriptedLlm(), tools=[get_weather],
                     instruction="Answer briefly.", output_key="last_answer")
    runner = Runner(agent=agent, app_name=APP, session_service=service)
    await service.create_session(app_name=APP, user_id=USER, session_id=session_id,
                                 state={"user:name": "Ana"})
    message = types.Content(role="user", parts=[types.Part(text="Weather in Lisbon?")])
    return [e async for e in runner.run_async(user_id=USER, session_id=session_id,
                                              new_message=message)]


def test_runner_conversation_round_trips(tmp_path):
    """A Runner turn (user, tool call, tool result, answer) is stored, and a
    fresh service on the same file reads the same events and state."""
    path = tmp_path / "agent.db"

    async def body():
        async with EventSourcedSessionService(path) as service:
            emitted = await run_agent(service, "chat-1")
        async with EventSourcedSessionService(path) as fresh:
            got = await fresh.get_session(app_name=APP, user_id=USER, session_id="chat-1")
        return emitted, got
    emitted, got = run(body())
    assert [e.id for e in got.events][1:] == [e.id for e in emitted]
    assert got.events[0].content.parts[0].text == "Weather in Lisbon?"
    assert got.events[1:] == emitted
    assert got.state == {"last_answer": "It is sunny in Lisbon.", "user:name": "Ana"}


def test_history_and_show_read_an_adk_conversation(tmp_path):
    """`sessionlog history` and `show` print the Runner's conversation with its
    roles and readable text, not JSON."""
    path = tmp_path / "agent.db"

    async def body():
        async with EventSourcedSessionService(path) as service:
            await run_agent(service, "chat-1")
    run(body())
    with EventSourcedSessionStore(path) as store:
        sid = str(store.get_by_key(session_key(USER, "chat-1"), tenant_id=APP).id)
    cli = CliRunner()
    history = cli.invoke(main, ["--db", str(path), "history", sid])
    assert history.exit_code == 0, history.output
    lines = history.output.splitlines()

    def line_with(*words):
        return [ln for ln in lines if all(w in ln for w in words)]

    assert line_with("user", "Weather in Lisbon?")
    assert line_with("assistant", "function_call get_weather")
    assert line_with("tool", "function_response get_weather")
    assert line_with("assistant", "It is sunny in Lisbon.")
    assert '"author"' not in history.output and '"invocation_id"' not in history.output

    show = cli.invoke(main, ["--db", str(path), "show", sid])
    assert show.exit_code == 0, show.output
    assert "user: Weather in Lisbon?" in show.output
    assert "assistant: It is sunny in Lisbon." in show.output
    assert '"author"' not in show.output
    shown = cli.invoke(main, ["--db", str(path), "show", sid, "--json"])
    assert json.loads(shown.output)["messages"][-1]["content"] == "It is sunny in Lisbon."
