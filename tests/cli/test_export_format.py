"""`export` writes everything a session holds (sessionlog/1 records: items of
every role with their data, state, key, user, tenant) and `import` reads it
back: a session each framework adapter wrote comes back equal, on every
backend; `--format seed` still writes the seed's JSON; `--on-conflict
append` adds what a grown session has beyond what is stored."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from click.testing import CliRunner

from projections import (
    EventSourcedSessionStore,
    NewItem,
    SessionMessage,
    SessionRole,
    session_to_json,
)
from sessionlog.cli import main


def run(db, *args, input=None):
    return CliRunner().invoke(main, ["--db", str(db), *args], input=input)


def ok(db, *args, input=None) -> str:
    result = run(db, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def whole(session) -> tuple:
    return (session.id, session.title, session.created_at, session.user_id, session.tenant_id,
            session.key, session.items, session.messages, session.state)


def exported(db) -> list[dict]:
    return [json.loads(line) for line in ok(db, "export").splitlines()]


def check_round_trip(db, open_store, tmp_path) -> list[dict]:
    """`export` of --db imported into a new file gives equal sessions; the
    new file verifies and its history says the events were imported."""
    records = exported(db)
    assert records and all(r["format"] == "sessionlog/1" for r in records)
    path = tmp_path / "export.jsonl"
    path.write_text(ok(db, "export"), encoding="utf-8")
    dest = tmp_path / "copy.db"
    ok(dest, "import", str(path))
    ok(dest, "verify")
    source = open_store()
    target = EventSourcedSessionStore(str(dest))
    try:
        for record in records:
            sid = uuid.UUID(record["id"])
            assert whole(target.get(sid)) == whole(source.get(sid))
            history = json.loads(ok(dest, "history", str(sid), "--json"))
            assert {e["metadata"]["source"] for e in history} == {"import"}
    finally:
        target.close()
    return records


def test_an_openai_agents_session_round_trips(db, open_store, tmp_path):
    from sessionlog.integrations.openai_agents import EventSourcedSession

    store = open_store()
    session = EventSourcedSession("agent-1", store=store)
    asyncio.run(session.add_items([
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "weather in Paris?"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "look"}]},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"q":"Paris"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "18C"},
        {"role": "assistant", "content": "18C."},
    ]))
    records = check_round_trip(db, open_store, tmp_path)
    roles = [i["role"] for i in records[0]["items"]]
    assert len(roles) == 6 and "system" in roles and records[0]["key"] == "agent-1"


def test_a_langchain_history_round_trips(db, open_store, tmp_path):
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    from sessionlog.integrations.langchain import EventSourcedChatMessageHistory

    history = EventSourcedChatMessageHistory("ada-1", store=open_store())
    history.add_messages([
        SystemMessage("be brief"), HumanMessage("add 2 and 3"),
        AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "t1"}]),
        ToolMessage("5", tool_call_id="t1"), AIMessage("5"),
    ])
    records = check_round_trip(db, open_store, tmp_path)
    assert records[0]["key"] == "ada-1" and len(records[0]["items"]) == 5


def test_an_adk_session_with_state_round_trips(db, open_store, tmp_path):
    from google.adk.events.event import Event
    from google.adk.events.event_actions import EventActions
    from google.genai import types

    from sessionlog.integrations.adk import EventSourcedSessionService

    service = EventSourcedSessionService(store=open_store())

    async def write():
        s = await service.create_session(app_name="shop", user_id="ada", state={"cart": [1]})
        await service.append_event(s, Event(
            author="user", invocation_id="i1",
            content=types.Content(role="user", parts=[types.Part(text="buy")])))
        await service.append_event(s, Event(
            author="agent", invocation_id="i1", actions=EventActions(state_delta={"paid": True}),
            content=types.Content(role="model", parts=[types.Part(text="done")])))

    asyncio.run(write())
    records = check_round_trip(db, open_store, tmp_path)
    assert records[0]["state"] == {"cart": [1], "paid": True}
    assert records[0]["tenant_id"] == "shop" and records[0]["user_id"] == "ada"


def test_export_format_seed_writes_the_seed_json(db, open_store):
    store = open_store()
    s = store.create_session("t", user_id="u", tenant_id="acme", key="k", state={"a": 1})
    store.add_message(s.id, SessionMessage(SessionRole.USER, "hi", s.created_at))
    store.add_items(s.id, [NewItem("tool", {"output": "x"})])
    expected = session_to_json(store.get(s.id))
    assert ok(db, "export", "--format", "seed").strip() == expected
    assert "tool" not in expected


def test_import_takes_system_tool_and_other_roles(db, tmp_path):
    sid = str(uuid.UUID(int=5))
    record = {"id": sid, "title": "chat", "created_at": "2026-01-01T00:00:00Z", "messages": [
        {"role": r, "content": f"{r} says", "timestamp": "2026-01-01T00:00:01Z"}
        for r in ("system", "user", "tool", "assistant", "critic")]}
    ok(db, "import", "-", input=json.dumps(record))
    shown = json.loads(ok(db, "show", sid, "--json"))
    assert [i["role"] for i in shown["items"]] == ["system", "user", "tool", "assistant", "critic"]
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"]
    again = run(db, "import", "-", input=json.dumps(record))
    assert again.exit_code == 0 and "skipped 1 already present" in again.output


def test_a_grown_session_appends_with_on_conflict_append(db, open_store, tmp_path):
    src = tmp_path / "src.db"
    with EventSourcedSessionStore(str(src)) as store:
        s = store.create_session("grows", key="k1", state={"step": 1})
        sid = str(s.id)
        store.add_items(s.id, [NewItem("user", {"role": "user", "content": "hello"}, "hello")])
        first = ok(src, "export")
        ok(db, "import", "-", input=first)
        store.add_items(s.id, [NewItem("tool", {"call": 1})], state_delta={"step": 2})
        store.add_message(s.id, SessionMessage(SessionRole.ASSISTANT, "hi there", s.created_at))
        second = ok(src, "export")
    refused = run(db, "import", "-", input=second)
    assert refused.exit_code == 1 and "other content" in refused.stderr
    result = run(db, "import", "-", "--on-conflict", "append", input=second)
    assert result.exit_code == 0, result.output
    assert "appended to 1 stored session(s)" in result.output
    assert json.loads(ok(db, "export")) == json.loads(second)
    ok(db, "verify")
    history = json.loads(ok(db, "history", sid, "--json"))
    assert [e["metadata"]["source"] for e in history] == ["import"] * 6
    assert "skipped 1" in ok(db, "import", "-", "--on-conflict", "append", input=second)


def test_append_refuses_a_record_that_is_not_an_extension(db, tmp_path):
    src = tmp_path / "src.db"
    with EventSourcedSessionStore(str(src)) as store:
        s = store.create_session("x")
        store.add_message(s.id, SessionMessage(SessionRole.USER, "one", s.created_at))
    ok(db, "import", "-", input=ok(src, "export"))
    record = json.loads(ok(src, "export"))
    record["items"][0]["text"] = record["items"][0]["data"]["content"] = "changed"
    record["items"].append(dict(record["items"][0], id="extra"))
    before = ok(db, "export")
    result = run(db, "import", "-", "--on-conflict", "append", input=json.dumps(record))
    assert result.exit_code == 1 and "other content" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert ok(db, "export") == before


@pytest.mark.parametrize("bad, why", [
    ({"format": "sessionlog/9"}, "'sessionlog/9' is not one this release reads"),
    ({"format": "sessionlog/1", "id": str(uuid.UUID(int=1)), "created_at": "2026-01-01T00:00:00Z",
      "items": [{"id": "a", "data": {}, "timestamp": "2026-01-01T00:00:00Z"}]},
     "items[0].role: missing"),
])
def test_a_bad_record_is_one_line_naming_the_field(db, bad, why):
    result = run(db, "import", "-", input=json.dumps(bad))
    assert result.exit_code == 1 and why in result.stderr and "<stdin>:1" in result.stderr


def test_a_key_another_live_session_holds_is_a_conflict(db, open_store, tmp_path):
    src = tmp_path / "src.db"
    with EventSourcedSessionStore(str(src)) as store:
        store.create_session("theirs", key="ada-1")
    with open_store() as store:
        store.create_session("mine", key="ada-1")
    before = ok(db, "export")
    result = run(db, "import", "-", input=ok(src, "export"))
    assert result.exit_code == 1 and "has key 'ada-1', which live session" in result.stderr
    assert ok(db, "export") == before
    kept = run(db, "import", "-", "--on-conflict", "skip", input=ok(src, "export"))
    assert kept.exit_code == 0 and "kept 1 conflicting" in kept.output
