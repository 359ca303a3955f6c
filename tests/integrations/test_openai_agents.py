"""EventSourcedSession, the OpenAI Agents SDK adapter: the behaviours the SDK's
own session tests (tests/memory/) check on SQLiteSession, run on ours, plus
what only an event log gives (one session per key, the audit trail)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import json
import os
import subprocess
import sys
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

try:
    import agents  # noqa: F401
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("openai-agents is not installed (pip install -e '.[test]')", allow_module_level=True)

from agents import Agent, RunConfig, Runner, SessionSettings, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.memory import OpenAIResponsesCompactionSession
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from eventlog import StorageError
from projections import EventSourcedSessionStore, InMemorySessionStore
from sessionlog.cli import main as cli
from sessionlog.integrations import openai_agents
from sessionlog.integrations.openai_agents import EventSourcedSession, item_role, item_text

set_tracing_disabled(True)  # offline: no trace export, whatever OPENAI_API_KEY says


def run(coro):
    return asyncio.run(coro)


def reply(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_1", type="message", role="assistant", status="completed",
        content=[ResponseOutputText(text=text, type="output_text", annotations=[], logprobs=[])],
    )


def tool_call(name: str, arguments: str, call_id: str = "call_1") -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(id="fc_1", call_id=call_id, type="function_call",
                                    name=name, arguments=arguments)


class ScriptModel(Model):
    """A model that answers each call with the next scripted output and
    records the input it was given (the SDK ships no offline model before 0.21)."""

    def __init__(self, *turns: list) -> None:
        self.turns = list(turns)
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions, input, *args, **kwargs) -> ModelResponse:
        self.inputs.append(copy.deepcopy(input))
        return ModelResponse(output=self.turns.pop(0), usage=Usage(), response_id="resp_1")

    async def stream_response(self, system_instructions, input, *args, **kwargs):
        response = await self.get_response(system_instructions, input)
        yield ResponseCompletedEvent(
            type="response.completed", sequence_number=0,
            response=Response(id="resp_1", created_at=0, model="script", object="response",
                              output=response.output, tool_choice="auto", tools=[],
                              parallel_tool_calls=False),
        )


async def run_agent(method: str, agent, input_data, **kwargs):
    if method == "run":
        return await Runner.run(agent, input_data, **kwargs)
    if method == "run_sync":  # in a thread: run_sync makes its own loop
        return await asyncio.to_thread(Runner.run_sync, agent, input_data, **kwargs)
    result = Runner.run_streamed(agent, input_data, **kwargs)
    async for _ in result.stream_events():
        pass
    return result


RUNNERS = ["run", "run_sync", "run_streamed"]


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "agents.db")


@pytest.fixture(params=["memory", "sqlite"])
def new_session(request, db):
    """Opens EventSourcedSessions that share one store: an InMemorySessionStore
    passed as `store=`, or one SQLite file each opens itself."""
    shared = InMemorySessionStore() if request.param == "memory" else None
    opened: list[EventSourcedSession] = []

    def open_session(session_id: str, **kwargs) -> EventSourcedSession:
        opened.append(EventSourcedSession(session_id, db, store=shared, **kwargs))
        return opened[-1]

    # the store as another writer or reader sees it
    open_session.store = lambda: contextlib.nullcontext(shared) if shared else EventSourcedSessionStore(db)
    yield open_session
    for session in opened:
        session.close()


def messages(*texts: str) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]


def test_public_names():
    assert openai_agents.__all__ == ["EventSourcedSession", "item_role", "item_text"]


# -- the Session protocol, as SQLiteSession's tests check it ----------------------

def test_add_get_and_clear(new_session):
    async def main():
        session = new_session("direct")
        await session.add_items([{"role": "user", "content": "Hello"},
                                 {"role": "assistant", "content": "Hi there!"}])
        assert await session.get_items() == [{"role": "user", "content": "Hello"},
                                             {"role": "assistant", "content": "Hi there!"}]
        await session.clear_session()
        assert await session.get_items() == []
        session.close()
    run(main())


def test_pop_item_returns_the_latest_until_empty(new_session):
    async def main():
        session = new_session("pop")
        assert await session.pop_item() is None
        items = messages("Hello", "Hi there!", "How are you?")
        await session.add_items(items)
        assert await session.pop_item() == items[2]
        assert await session.get_items() == items[:2]
        assert await session.pop_item() == items[1]
        assert await session.pop_item() == items[0]
        assert await session.pop_item() is None
        assert await session.get_items() == []
        session.close()
    run(main())


def test_pop_item_affects_only_its_session(new_session):
    async def main():
        one, two = new_session("session_1"), new_session("session_2")
        await one.add_items([{"role": "user", "content": "Session 1 message"}])
        await two.add_items([{"role": "user", "content": "Session 2 message 1"},
                             {"role": "user", "content": "Session 2 message 2"}])
        assert (await two.pop_item())["content"] == "Session 2 message 2"
        assert [i["content"] for i in await one.get_items()] == ["Session 1 message"]
        assert [i["content"] for i in await two.get_items()] == ["Session 2 message 1"]
        one.close()
        two.close()
    run(main())


def test_get_items_limit_returns_the_latest_in_order(new_session):
    async def main():
        session = new_session("limit")
        items = messages(*[f"Message {i}" for i in range(6)])
        await session.add_items(items)
        assert await session.get_items() == items
        assert await session.get_items(limit=2) == items[-2:]
        assert await session.get_items(limit=4) == items[-4:]
        assert await session.get_items(limit=10) == items
        assert await session.get_items(limit=0) == []
        assert await session.get_items(limit=-1) == items  # SQLite's LIMIT -1: all
        session.close()
    run(main())


def test_session_settings_default_constructor_and_dict():
    assert EventSourcedSession("s").session_settings == SessionSettings()
    assert EventSourcedSession("s", session_settings=SessionSettings(limit=5)).session_settings.limit == 5
    settings = EventSourcedSession("s", session_settings={"limit": 0}).session_settings
    assert isinstance(settings, SessionSettings) and settings.limit == 0
    with pytest.raises(TypeError, match="limitt"):
        EventSourcedSession("s", session_settings={"limitt": 1})


def test_get_items_uses_the_settings_limit_unless_given_one(new_session):
    async def main():
        session = new_session("settings", session_settings=SessionSettings(limit=3))
        items = [{"role": "user", "content": f"Message {i}"} for i in range(10)]
        await session.add_items(items)
        assert await session.get_items() == items[-3:]
        assert await session.get_items(limit=2) == items[-2:]
        session.close()
    run(main())


def test_unicode_and_sql_text_round_trip(new_session):
    async def main():
        session = new_session("text")
        items = messages("こんにちは", "😊👍", "Привет", "O'Reilly", "Robert'); DROP TABLE students;--",
                         '"SELECT * FROM users WHERE name = "admin";"')
        await session.add_items(items)
        assert await session.get_items() == items
        session.close()
    run(main())


def test_items_are_stored_exactly(new_session):
    """Every kind of Responses item comes back equal, with the same canonical JSON."""
    items = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Answer in French."},
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "Weather?"},
                     {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Look it up."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "Il fait beau.", "annotations": [], "logprobs": []}]},
        {"type": "x_custom", "nested": {"list": [1, 2.5, None, True], "empty": {}}, "unicode": "é\u2028"},
    ]

    async def main():
        session = new_session("exact")
        await session.add_items(copy.deepcopy(items))
        got = await session.get_items()
        session.close()
        return got

    got = run(main())
    assert got == items
    canonical = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # noqa: E731
    assert [canonical(i) for i in got] == [canonical(i) for i in items]


def test_items_come_back_as_sqlite_session_returns_them(new_session):
    """Through JSON, as SQLiteSession stores them: a tuple comes back a list, an int key a string."""
    item = {"role": "user", "content": "x", "extra": (1, 2), "by_number": {1: "one"}}

    async def main():
        session = new_session("json")
        await session.add_items([item])
        return await session.get_items()

    assert run(main()) == [json.loads(json.dumps(item))]


def test_changing_an_item_after_add_or_get_changes_nothing_stored(new_session):
    async def main():
        session = new_session("copies")
        item = {"role": "user", "content": [{"type": "input_text", "text": "as sent"}]}
        await session.add_items([item])
        item["content"][0]["text"] = "changed by the caller"
        (got,) = await session.get_items()
        # Plain dicts and lists of its own, as SQLiteSession's json.loads gives:
        # the SDK changes the items it reads (the store's are read-only).
        assert type(got) is dict and type(got["content"]) is list and type(got["content"][0]) is dict
        got["content"][0]["text"] = "changed by the reader"
        got["content"].append({"type": "input_text", "text": "appended by the reader"})
        assert await session.get_items() == [{"role": "user", "content": [{"type": "input_text", "text": "as sent"}]}]
    run(main())


def test_an_item_that_is_not_json_raises_type_error_and_writes_nothing(new_session):
    async def main():
        session = new_session("bad")
        with pytest.raises(TypeError):
            await session.add_items([{"role": "user", "content": "fine"},
                                     {"role": "user", "content": object()}])
        assert await session.get_items() == []
        await session.add_items([{"role": "user", "content": "after failure"}])
        assert await session.get_items() == [{"role": "user", "content": "after failure"}]
        session.close()
    run(main())


def test_threads_with_their_own_loops_lose_no_item(new_session):
    session = new_session("concurrent")
    items = [{"role": "user", "content": f"Message {i}"} for i in range(10)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda item: asyncio.run(session.add_items([item])), items))
    got = run(session.get_items())
    assert sorted(i["content"] for i in got) == sorted(i["content"] for i in items)
    session.close()


def test_a_closed_session_raises_runtime_error():
    session = EventSourcedSession("closed")
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        run(session.get_items())
    with pytest.raises(RuntimeError, match="closed"):
        run(session.add_items([{"role": "user", "content": "x"}]))


# -- what sessionlog adds: keys, shared stores, the loop, cancellation ------------

def test_two_instances_with_one_id_share_one_session(new_session):
    """Like two SQLiteSessions on one file: one conversation, one session in the log."""
    async def main():
        a, b = new_session("user-42/chat-7"), new_session("user-42/chat-7")
        await a.add_items([{"role": "user", "content": "from a"}])
        await b.add_items([{"role": "assistant", "content": "from b"}])
        assert [i["content"] for i in await a.get_items()] == ["from a", "from b"]
    run(main())
    with new_session.store() as store:
        assert len(store.list()) == 1
        assert store.get_by_key("user-42/chat-7").title == "user-42/chat-7"


WRITER = """
import asyncio, sys, threading
from sessionlog.integrations.openai_agents import EventSourcedSession

async def write(db, name):
    session = EventSourcedSession("user-42/chat-7", db)
    for i in range(10):
        await session.add_items([{"role": "user", "content": f"{name}-{i}"}])
    session.close()

threads = [threading.Thread(target=asyncio.run, args=(write(sys.argv[1], f"{sys.argv[2]}{t}"),))
           for t in "ab"]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


@pytest.mark.slow
def test_writers_racing_on_one_id_write_one_session_and_lose_nothing(db):
    """The failure that started issue #11 (writers on one key split the
    conversation), through the adapter: 2 processes x 2 threads, each its own
    EventSourcedSession on one file."""
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, db, f"p{n}"]) for n in range(2)]
    assert [p.wait(timeout=300) for p in processes] == [0, 0]
    writers = [f"p{n}{t}" for n in range(2) for t in "ab"]
    with EventSourcedSessionStore(db) as store:
        assert len(store.list()) == 1
        contents = [item.data["content"] for item in store.get_by_key("user-42/chat-7").items]
    assert sorted(contents) == sorted(f"{w}-{i}" for w in writers for i in range(10))
    for w in writers:
        assert [c for c in contents if c.startswith(f"{w}-")] == [f"{w}-{i}" for i in range(10)]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_many_sessions_share_one_store_which_close_leaves_open(kind, tmp_path):
    store = InMemorySessionStore() if kind == "memory" else EventSourcedSessionStore(tmp_path / "s.db")

    async def main():
        one, two = EventSourcedSession("one", store=store), EventSourcedSession("two", store=store)
        await one.add_items([{"role": "user", "content": "1"}])
        await two.add_items([{"role": "user", "content": "2"}])
        one.close()
        assert await two.get_items() == [{"role": "user", "content": "2"}]
        two.close()
    run(main())
    assert [i.data for i in store.get_by_key("one").items] == [{"role": "user", "content": "1"}]


def test_the_store_opens_lazily(tmp_path):
    """Constructing opens nothing (it may happen inside the loop); the first call does."""
    path = tmp_path / "missing-dir" / "agents.db"
    session = EventSourcedSession("lazy", path)
    assert not path.parent.exists()
    with pytest.raises(StorageError):
        run(session.get_items())


def test_store_calls_run_outside_the_event_loop_thread():
    calls: list[tuple[str, int]] = []

    class WatchedStore(InMemorySessionStore):
        def __getattribute__(self, name):
            if name in ("get_or_create", "get_by_key", "get", "add_items", "pop_items", "clear"):
                calls.append((name, threading.get_ident()))
            return super().__getattribute__(name)

    async def main():
        session = EventSourcedSession("watched", store=WatchedStore())
        await session.add_items([{"role": "user", "content": "hi"}])
        await session.get_items()
        await session.pop_item()
        await session.clear_session()
        return threading.get_ident()

    loop_thread = run(main())
    assert {name for name, _ in calls} >= {"get_or_create", "add_items", "get", "pop_items"}
    assert all(ident != loop_thread for _, ident in calls)


def test_a_cancelled_add_still_completes_then_raises_cancelled():
    """The SDK's rule for mutations: the caller learns the outcome, never a half-known write."""
    entered, release = threading.Event(), threading.Event()

    class SlowStore(InMemorySessionStore):
        def add_items(self, *args, **kwargs):
            version = super().add_items(*args, **kwargs)
            entered.set()
            release.wait(10)
            return version

    store = SlowStore()

    async def main():
        session = EventSourcedSession("slow", store=store)
        task = asyncio.create_task(session.add_items([{"role": "user", "content": "once"}]))
        assert await asyncio.to_thread(entered.wait, 10)
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.sleep(0)
        assert not task.done()  # still waiting for the write's outcome
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await session.get_items() == [{"role": "user", "content": "once"}]

    run(main())


def test_a_session_deleted_elsewhere_starts_afresh_under_the_same_key(new_session):
    async def main():
        session = new_session("reborn")
        await session.add_items([{"role": "user", "content": "old"}])
        with new_session.store() as other:
            assert other.delete(other.get_by_key("reborn").id)
        assert await session.get_items() == []
        await session.add_items([{"role": "user", "content": "new"}])
        assert await session.get_items() == [{"role": "user", "content": "new"}]
    run(main())


def test_a_session_recreated_elsewhere_is_the_one_read_and_written(new_session):
    """An instance that looked its session up before a delete follows the key to the new one."""
    async def main():
        session = new_session("moved")
        await session.add_items([{"role": "user", "content": "old"}])
        with new_session.store() as other:
            assert other.delete(other.get_by_key("moved").id)
        await new_session("moved").add_items([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
        assert await session.pop_item() == {"role": "user", "content": "b"}
        assert await session.get_items() == [{"role": "user", "content": "a"}]
        await session.clear_session()
        assert await new_session("moved").get_items() == []
    run(main())


@pytest.mark.parametrize("item, role, text", [
    ({"role": "user", "content": "Hello"}, "user", "Hello"),
    ({"role": "system", "content": "Be brief."}, "system", "Be brief."),
    ({"type": "message", "role": "assistant",
      "content": [{"type": "output_text", "text": "A"}, {"type": "refusal", "refusal": "B"}]},
     "assistant", "A\nB"),
    ({"role": "user", "content": [{"type": "input_text", "text": "see"},
                                  {"type": "input_image", "image_url": "u"},
                                  {"type": "input_file", "filename": "a.pdf"}]},
     "user", "see\n[image]\n[file a.pdf]"),
    ({"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": '{"city":"Paris"}'},
     "function_call", 'get_weather({"city":"Paris"})'),
    ({"type": "function_call_output", "call_id": "c", "output": "sunny"}, "function_call_output", "sunny"),
    ({"type": "function_call_output", "call_id": "c", "output": [{"type": "input_text", "text": "t"}]},
     "function_call_output", "t"),
    ({"type": "reasoning", "id": "r", "summary": [{"type": "summary_text", "text": "Think."}]},
     "reasoning", "Think."),
    ({"type": "reasoning", "id": "r", "summary": []}, "reasoning", None),
    ({"type": "mcp_call", "id": "m", "server_label": "docs", "name": "find", "arguments": "{}"},
     "mcp_call", "docs.find({})"),
    ({"type": "web_search_call", "id": "w", "status": "completed",
      "action": {"type": "search", "query": "q"}}, "web_search_call", 'web_search({"type":"search","query":"q"})'),
    ({"type": "item_reference", "id": "x"}, "item_reference", None),
    ({}, "item", None),
])
def test_each_item_gets_a_role_and_readable_text(item, role, text):
    assert (item_role(item), item_text(item)) == (role, text)


# -- with the Runner -----------------------------------------------------------

@pytest.mark.parametrize("method", RUNNERS)
def test_a_runner_remembers_the_conversation(method, new_session):
    async def main():
        session = new_session("memory")
        model = ScriptModel([reply("San Francisco")], [reply("California")])
        agent = Agent(name="test", model=model)
        first = await run_agent(method, agent, "What city is the Golden Gate Bridge in?", session=session)
        assert first.final_output == "San Francisco"
        second = await run_agent(method, agent, "What state is it in?", session=session)
        assert second.final_output == "California"
        assert [i.get("content") if i.get("role") == "user" else i["content"][0]["text"]
                for i in model.inputs[-1]] == [
            "What city is the Golden Gate Bridge in?", "San Francisco", "What state is it in?"]
        session.close()
    run(main())


@pytest.mark.parametrize("method", RUNNERS)
def test_different_session_ids_keep_separate_histories(method, new_session):
    async def main():
        model = ScriptModel([reply("cats")], [reply("dogs")], [reply("you said cats")])
        agent = Agent(name="test", model=model)
        one, two = new_session("session_1"), new_session("session_2")
        await run_agent(method, agent, "I like cats", session=one)
        await run_agent(method, agent, "I like dogs", session=two)
        await run_agent(method, agent, "What did I say I like?", session=one)
        assert "dogs" not in json.dumps(model.inputs[-1])
        assert "cats" in json.dumps(model.inputs[-1])
        one.close()
        two.close()
    run(main())


@pytest.mark.parametrize("method", RUNNERS)
def test_a_list_input_is_appended_to_the_history(method, new_session):
    async def main():
        session = new_session("list-input")
        history = messages("Earlier message", "Saved reply")
        await session.add_items(history)
        model = ScriptModel([reply("ok")])
        new = [{"role": "user", "content": "Test message"}]
        await run_agent(method, Agent(name="test", model=model), new, session=session)
        assert model.inputs[-1] == history + new
        session.close()
    run(main())


def test_a_session_input_callback_shapes_the_model_input(new_session):
    async def main():
        session = new_session("callback")
        history = messages("Hello there.", "Hi, I'm here to assist you.")
        await session.add_items(history)
        model = ScriptModel([reply("I'm a model")])
        new = [{"role": "user", "content": "What is your name?"}]
        only_user = lambda old, fresh: [i for i in old if i["role"] == "user"] + fresh  # noqa: E731
        await Runner.run(Agent(name="test", model=model), new, session=session,
                         run_config=RunConfig(session_input_callback=only_user))
        assert model.inputs[-1] == [history[0], new[0]]
        session.close()
    run(main())


def test_run_config_session_settings_override_the_sessions(new_session):
    async def main():
        session = new_session("override", session_settings=SessionSettings(limit=100))
        await session.add_items([{"role": "user", "content": f"Turn {i}"} for i in range(10)])
        model = ScriptModel([reply("Got it")])
        await Runner.run(Agent(name="test", model=model), "New question", session=session,
                         run_config=RunConfig(session_settings=SessionSettings(limit=2)))
        assert [i["content"] for i in model.inputs[-1]] == ["Turn 8", "Turn 9", "New question"]
        session.close()
    run(main())


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_an_agent_run_is_the_audit_trail_history_and_show_print(db):
    """A run with a tool call is recorded item by item, and the CLI prints it
    with the right roles and readable text (no JSON blobs)."""
    async def main():
        session = EventSourcedSession("user-42/chat-7", db)
        model = ScriptModel([tool_call("get_weather", '{"city":"Paris"}')], [reply("It is sunny in Paris.")])
        agent = Agent(name="weather", model=model, tools=[get_weather])
        result = await Runner.run(agent, "Weather in Paris?", session=session)
        assert result.final_output == "It is sunny in Paris."
        await session.add_items([{"role": "user", "content": "typo"}])
        assert await session.pop_item() == {"role": "user", "content": "typo"}
        session.close()
    run(main())

    with EventSourcedSessionStore(db) as store:
        sid = str(store.get_by_key("user-42/chat-7").id)
    history = CliRunner().invoke(cli, ["--db", db, "history", sid])
    assert history.exit_code == 0, history.output
    for line in ["user: Weather in Paris?", 'function_call: get_weather({"city":"Paris"})',
                 "function_call_output: sunny in Paris", "assistant: It is sunny in Paris.",
                 "user: typo", "ItemsRemoved"]:
        assert line in history.output
    assert '"type"' not in history.output

    show = CliRunner().invoke(cli, ["--db", db, "show", sid])
    assert show.exit_code == 0, show.output
    shown = [line for line in show.output.splitlines() if line.startswith("[")]
    assert [line.split("] ", 1)[1] for line in shown] == [
        "user: Weather in Paris?", 'function_call: get_weather({"city":"Paris"})',
        "function_call_output: sunny in Paris", "assistant: It is sunny in Paris."]


# -- the SDK's compaction hooks -------------------------------------------------

class Compactor:
    """Stands in for the OpenAI client's `responses.compact` (a network call)."""

    def __init__(self, output: list[dict], during=None) -> None:
        self.calls: list[dict] = []
        self.output, self.during = output, during
        self.responses = SimpleNamespace(compact=self.compact)

    async def compact(self, **kwargs):
        self.calls.append(kwargs)
        if self.during is not None:
            await self.during()
        return SimpleNamespace(output=self.output, usage=None)


SUMMARY = {"type": "compaction", "id": "cmp", "encrypted_content": "summary"}


def compacting(backend, client, **kwargs):
    return OpenAIResponsesCompactionSession("c", backend, client=client, compaction_mode="input",
                                            should_trigger_compaction=lambda _: True, **kwargs)


ORIGINAL = [{"role": "user", "content": str(i)} for i in range(4)]


async def compact_automatically(backend, client):
    """One Runner turn whose model saw only the last stored item, then the
    SDK's automatic compaction of that exchange."""
    await backend.add_items(ORIGINAL)
    response = reply("done")
    await Runner.run(Agent(name="w", model=ScriptModel([response])), "continue",
                     session=compacting(backend, client),
                     run_config=RunConfig(session_settings=SessionSettings(limit=1)))
    return response.model_dump(exclude_unset=True)


def test_automatic_compaction_replaces_the_exchange_it_saw(new_session):
    async def main():
        backend, client = new_session("compact"), Compactor([SUMMARY])
        await compact_automatically(backend, client)
        assert len(client.calls) == 1
        assert await backend.get_items() == ORIGINAL[:-1] + [SUMMARY]
    run(main())


def test_automatic_compaction_is_skipped_when_the_session_changed_meanwhile(new_session):
    newer = {"role": "user", "content": "concurrent append"}

    async def main():
        backend = new_session("stale")
        response = await compact_automatically(
            backend, Compactor([SUMMARY], lambda: backend.add_items([newer])))
        assert await backend.get_items() == ORIGINAL + [
            {"role": "user", "content": "continue"}, response, newer]
    run(main())


def test_manual_compaction_replaces_the_whole_history(new_session):
    async def main():
        backend = new_session("manual")
        await backend.add_items(messages("a", "b", "c"))
        await compacting(backend, Compactor([SUMMARY])).run_compaction({"force": True})
        assert await backend.get_items() == [SUMMARY]
    run(main())


def test_compactions_are_one_removal_and_the_additions_in_the_log(db):
    """No clear-then-add: the audit trail shows exactly what compaction replaced."""
    async def main():
        auto, manual = EventSourcedSession("auto", db), EventSourcedSession("manual", db)
        await compact_automatically(auto, Compactor([SUMMARY]))
        await manual.add_items(messages("a", "b", "c"))
        await compacting(manual, Compactor([SUMMARY])).run_compaction({"force": True})
        auto.close()
        manual.close()
    run(main())
    with EventSourcedSessionStore(db) as store:
        auto, manual = (store.history(store.get_by_key(key).id) for key in ("auto", "manual"))
    assert [(e.type, e.data.get("count")) for e in auto[-2:]] == [("ItemsRemoved", 3), ("ItemAdded", None)]
    assert [e.type for e in manual] == ["SessionCreated"] + ["ItemAdded"] * 3 + ["ItemsRemoved", "ItemAdded"]
