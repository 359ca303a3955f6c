"""EventSourcedChatMessageHistory, the LangChain adapter: the behaviours
LangChain's own chat-history tests check (langchain-community's
SQLChatMessageHistory tests, langchain-core's chat_history and
RunnableWithMessageHistory tests), run on ours, plus what only an event log
gives (one session per key, the audit trail)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading

import pytest
from click.testing import CliRunner

try:
    import langchain_core  # noqa: F401
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("langchain-core is not installed (pip install -e '.[test]')", allow_module_level=True)

from helpers import STORES, make_store
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
    message_to_dict,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.history import RunnableWithMessageHistory

from eventlog import StorageError
from projections import EventSourcedSessionStore
from sessionlog.cli import main as cli
from sessionlog.integrations.langchain import EventSourcedChatMessageHistory, message_role, message_text

# RunnableWithMessageHistory is deprecated in langchain-core 1.x in favour of LangGraph; it still works.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    s = make_store(request.param, tmp_path, request)
    yield s
    if isinstance(s, EventSourcedSessionStore):
        s.close()


@pytest.fixture
def histories(store):
    """Two sessions in one store, as LangChain's SQL tests set up."""
    return (EventSourcedChatMessageHistory("123", store=store),
            EventSourcedChatMessageHistory("456", store=store))


def every_kind() -> list[BaseMessage]:
    """One of each message type, with every field LangChain lets a caller set."""
    return [
        SystemMessage("You are terse.", id="sys-1", additional_kwargs={"cache": {"type": "ephemeral"}}),
        HumanMessage("What's the weather in Paris?", id="h-1", name="ada",
                     additional_kwargs={"lang": "en"}, response_metadata={"via": "web"}),
        AIMessage(
            "", id="ai-1", name="bot",
            tool_calls=[tool_call(name="get_weather", args={"city": "Paris", "days": [1, 2]}, id="call-1")],
            invalid_tool_calls=[invalid_tool_call(name="oops", args="{not json", id="call-2",
                                                  error="bad JSON")],
            usage_metadata={"input_tokens": 12, "output_tokens": 7, "total_tokens": 19,
                            "input_token_details": {"cache_read": 4}},
            response_metadata={"model_name": "fake-1", "finish_reason": "tool_calls", "logprobs": 0.25},
            additional_kwargs={"refusal": None},
        ),
        ToolMessage("18°C and sunny", tool_call_id="call-1", id="t-1", name="get_weather",
                    artifact={"raw": {"temp_c": 18.0, "sky": "clear"}}, status="success"),
        ToolMessage("boom", tool_call_id="call-2", status="error"),
        FunctionMessage("42", name="answer", id="f-1"),
        ChatMessage("Looks right to me.", role="critic", id="c-1"),
        AIMessage([{"type": "text", "text": "It is 18°C "}, {"type": "text", "text": "and sunny."}],
                  id="ai-2"),
        HumanMessage(""),
    ]


def every_chunk() -> list[BaseMessage]:
    return [
        AIMessageChunk("Hel", id="run-1",
                       tool_call_chunks=[tool_call_chunk(name="f", args='{"a": 1', id="c1", index=0)]),
        HumanMessageChunk("hi"),
        SystemMessageChunk("be kind"),
        ToolMessageChunk("ok", tool_call_id="c1"),
        FunctionMessageChunk("1", name="f"),
        ChatMessageChunk("note", role="critic"),
    ]


def same(read: list[BaseMessage], written: list[BaseMessage]) -> None:
    assert [type(m) for m in read] == [type(m) for m in written]
    assert [message_to_dict(m) for m in read] == [message_to_dict(m) for m in written]
    assert read == written


# -- langchain-community's SQLChatMessageHistory tests, on ours ------------------

def test_add_messages(histories):
    history, _ = histories
    history.add_user_message("Hello!")
    history.add_ai_message("Hi there!")
    messages = history.messages
    assert [type(m) for m in messages] == [HumanMessage, AIMessage]
    assert [m.content for m in messages] == ["Hello!", "Hi there!"]


def test_async_add_messages(histories):
    history, _ = histories

    async def go():
        await history.aadd_message(HumanMessage("Hello!"))
        await history.aadd_messages([AIMessage("Hi there!")])
        return await history.aget_messages()

    messages = run(go())
    assert [type(m) for m in messages] == [HumanMessage, AIMessage]
    assert [m.content for m in messages] == ["Hello!", "Hi there!"]


def test_multiple_sessions(histories):
    history, other = histories
    history.add_user_message("Hello!")
    history.add_ai_message("Hi there!")
    history.add_user_message("Whats cracking?")
    other.add_user_message("Hellox")
    assert [m.content for m in other.messages] == ["Hellox"]
    assert [m.content for m in history.messages] == ["Hello!", "Hi there!", "Whats cracking?"]


def test_async_multiple_sessions(histories):
    history, other = histories

    async def go():
        await history.aadd_messages([HumanMessage("Hello!"), AIMessage("Hi there!")])
        await other.aadd_messages([HumanMessage("Hellox")])
        return await history.aget_messages(), await other.aget_messages()

    mine, theirs = run(go())
    assert [m.content for m in mine] == ["Hello!", "Hi there!"]
    assert [m.content for m in theirs] == ["Hellox"]


def test_clear_messages(histories):
    history, other = histories
    history.add_messages([HumanMessage("Hello!"), AIMessage("Hi there!")])
    other.add_user_message("Hellox")
    history.clear()
    assert history.messages == []
    assert [m.content for m in other.messages] == ["Hellox"]
    history.add_user_message("again")
    assert [m.content for m in history.messages] == ["again"]


def test_async_clear_messages(histories):
    history, other = histories

    async def go():
        await history.aadd_messages([HumanMessage("Hello!"), AIMessage("Hi there!")])
        await other.aadd_messages([HumanMessage("Hellox")])
        await history.aclear()
        return await history.aget_messages(), await other.aget_messages()

    mine, theirs = run(go())
    assert mine == []
    assert [m.content for m in theirs] == ["Hellox"]


def test_get_messages_is_messages(histories):
    history, _ = histories
    history.add_user_message("Hello!")
    assert history.get_messages() == history.messages == [HumanMessage("Hello!")]


# -- langchain-core's chat_history tests: every field survives ---------------------

def test_every_message_type_round_trips_exactly(histories):
    history, _ = histories
    written = every_kind()
    history.add_messages(written)
    same(history.messages, written)
    same(run(history.aget_messages()), written)
    ai = history.messages[2]
    assert ai.tool_calls[0]["args"] == {"city": "Paris", "days": [1, 2]}
    assert ai.invalid_tool_calls[0]["error"] == "bad JSON"
    assert ai.usage_metadata["input_token_details"] == {"cache_read": 4}


def test_chunks_round_trip_as_chunks(histories):
    history, _ = histories
    written = every_chunk()
    history.add_messages(written)
    same(history.messages, written)


def test_messages_survive_reopening_the_file(tmp_path):
    path = tmp_path / "chat.db"
    with EventSourcedChatMessageHistory("user-42/chat-7", path) as history:
        history.add_messages(every_kind())
    with EventSourcedChatMessageHistory("user-42/chat-7", str(path)) as again:
        same(again.messages, every_kind())


def test_str_is_the_buffer_string(histories):
    history, _ = histories
    history.add_message(SystemMessage("system"))
    history.add_user_message("human 1")
    history.add_ai_message("ai")
    history.add_message(HumanMessage("human 2"))
    assert str(history) == "System: system\nHuman: human 1\nAI: ai\nHuman: human 2"


def test_items_carry_role_text_and_the_message_dict(store):
    history = EventSourcedChatMessageHistory("roles", store=store)
    written = every_kind()
    history.add_messages(written)
    items = store.get_by_key("roles").items
    assert [i.role for i in items] == ["system", "user", "assistant", "tool", "tool", "function",
                                       "critic", "assistant", "user"]
    assert [i.text for i in items] == [
        "You are terse.", "What's the weather in Paris?", 'get_weather({"city":"Paris","days":[1,2]})',
        "18°C and sunny", "boom", "42", "Looks right to me.", "It is 18°C and sunny.", "",
    ]
    assert [i.data for i in items] == [message_to_dict(m) for m in written]


def test_role_and_text_of_chunks_and_custom_roles():
    assert [message_role(m) for m in every_chunk()] == ["assistant", "user", "system", "tool",
                                                        "function", "critic"]
    assert message_role(ChatMessage("x", role="")) == "chat"
    assert message_text(AIMessage("", tool_calls=[tool_call(name="a", args={}, id="1"),
                                                  tool_call(name="b", args={"k": "é"}, id="2")])) \
        == 'a({})\nb({"k":"é"})'
    assert message_text(AIMessage("said", tool_calls=[tool_call(name="a", args={}, id="1")])) == "said"


def test_the_session_messages_are_the_user_and_assistant_text(store):
    history = EventSourcedChatMessageHistory("seed-view", store=store)
    history.add_messages([SystemMessage("rules"), HumanMessage("hi"), AIMessage("hello"),
                          ToolMessage("out", tool_call_id="1")])
    session = store.get_by_key("seed-view")
    assert [(m.role.value, m.content) for m in session.messages] == [("user", "hi"), ("assistant", "hello")]


# -- one transaction, nothing written on bad input ----------------------------------

def test_a_message_that_is_not_json_is_refused_and_nothing_is_written(histories, store):
    history, _ = histories
    with pytest.raises(ValueError, match=r"messages\[1\] \(ToolMessage\).*artifact"):
        history.add_messages([HumanMessage("kept?"),
                              ToolMessage("x", tool_call_id="1", artifact=b"\x00raw")])
    assert history.messages == []
    assert store.get_by_key("123") is None  # not even the session was created


def test_a_non_message_is_a_type_error_and_nothing_is_written(histories, store):
    history, _ = histories
    with pytest.raises(TypeError, match=r"messages\[1\]: expected a LangChain message"):
        history.add_messages([HumanMessage("kept?"), "just a string"])  # type: ignore[list-item]
    assert history.messages == []


def test_a_refused_message_leaves_earlier_messages_alone(histories):
    history, _ = histories
    history.add_user_message("first")
    with pytest.raises(ValueError):
        history.add_messages([AIMessage("nan", response_metadata={"score": float("nan")})])
    assert [m.content for m in history.messages] == ["first"]


def test_add_messages_is_one_event_per_message(tmp_path):
    store = EventSourcedSessionStore(tmp_path / "s.db")
    history = EventSourcedChatMessageHistory("one-tx", store=store)
    history.add_messages([HumanMessage("a"), AIMessage("b"), HumanMessage("c")])
    events = store.history(store.get_by_key("one-tx").id)
    assert [e.type for e in events] == ["SessionCreated", "ItemAdded", "ItemAdded", "ItemAdded"]
    store.close()


def test_tuples_read_back_as_lists_like_the_sql_history(histories):
    history, _ = histories
    history.add_message(AIMessage("t", additional_kwargs={"pair": (1, 2)}))
    assert history.messages[0].additional_kwargs == {"pair": [1, 2]}


def test_empty_add_and_clear_of_a_new_session_write_nothing(histories, store):
    history, _ = histories
    history.add_messages([])
    history.clear()
    run(history.aclear())
    assert store.get_by_key("123") is None


def test_a_bad_session_id_is_refused():
    for bad in ("", None, 42):
        with pytest.raises(ValueError, match="session_id"):
            EventSourcedChatMessageHistory(bad)  # type: ignore[arg-type]


# -- keys, sharing, deletion -----------------------------------------------------------

def test_histories_with_one_session_id_share_one_session(tmp_path):
    path = tmp_path / "shared.db"
    a = EventSourcedChatMessageHistory("user-42/chat-7", path)
    b = EventSourcedChatMessageHistory("user-42/chat-7", path)
    a.add_user_message("from a")
    b.add_ai_message("from b")
    assert [m.content for m in a.messages] == ["from a", "from b"]
    a.close()
    b.close()
    with EventSourcedSessionStore(path) as store:
        sessions = store.list()
        assert len(sessions) == 1 and sessions[0].key == "user-42/chat-7"


def test_threads_racing_on_one_session_id_lose_nothing(tmp_path):
    path = tmp_path / "race.db"
    EventSourcedSessionStore(path).close()  # the schema exists before the race
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            with EventSourcedChatMessageHistory("hot-key", path) as history:
                start.wait()
                for i in range(10):
                    history.add_user_message(f"{n}:{i}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with EventSourcedChatMessageHistory("hot-key", path) as history:
        contents = [m.content for m in history.messages]
    assert sorted(contents) == sorted(f"{n}:{i}" for n in range(4) for i in range(10))
    for n in range(4):
        assert [c for c in contents if c.startswith(f"{n}:")] == [f"{n}:{i}" for i in range(10)]


def test_many_histories_share_one_store_and_leave_it_open(tmp_path):
    store = EventSourcedSessionStore(tmp_path / "s.db")
    histories = [EventSourcedChatMessageHistory(f"chat-{i}", store=store) for i in range(5)]
    for i, history in enumerate(histories):
        history.add_user_message(f"hello {i}")
        history.close()
    assert len(store.list()) == 5  # still open
    assert [m.content for m in histories[3].messages] == ["hello 3"]
    store.close()


def test_a_tenant_view_keeps_the_sessions_in_that_tenant(tmp_path):
    store = EventSourcedSessionStore(tmp_path / "s.db")
    acme = EventSourcedChatMessageHistory("chat", store=store.for_tenant("acme"))
    globex = EventSourcedChatMessageHistory("chat", store=store.for_tenant("globex"))
    acme.add_user_message("acme's")
    globex.add_user_message("globex's")
    assert [m.content for m in acme.messages] == ["acme's"]
    assert store.get_by_key("chat", tenant_id="acme").tenant_id == "acme"
    store.close()


def test_a_session_deleted_elsewhere_starts_afresh_under_its_key(store):
    history = EventSourcedChatMessageHistory("gone", store=store)
    history.add_user_message("before")
    old = store.get_by_key("gone").id
    assert store.delete(old)
    assert history.messages == []
    history.add_user_message("after")
    assert [m.content for m in history.messages] == ["after"]
    assert store.get_by_key("gone").id != old


def test_items_written_by_others_read_back_by_role(store):
    """A key'd session also holding plain messages (the seed API, the CLI's
    `add`) reads back as Human/AI/System/Chat messages with their text."""
    from datetime import UTC, datetime

    from projections import NewItem, SessionMessage, SessionRole

    history = EventSourcedChatMessageHistory("mixed", store=store)
    history.add_user_message("from langchain")
    sid = store.get_by_key("mixed").id
    store.add_message(sid, SessionMessage(SessionRole.ASSISTANT, "from the seed API", datetime.now(UTC)))
    store.add_items(sid, [NewItem(role="developer", data={"note": 1}, text="be brief"),
                          NewItem(role="system", data={"x": 1})])
    assert history.messages == [HumanMessage("from langchain"), AIMessage("from the seed API"),
                                ChatMessage("be brief", role="developer"),
                                SystemMessage('{"x":1}')]


# -- opening lazily, async off the event loop --------------------------------------

def test_the_store_opens_on_first_use_not_in_the_constructor(tmp_path):
    path = tmp_path / "lazy.db"

    async def go():
        history = EventSourcedChatMessageHistory("lazy", path)  # inside the running loop
        assert not path.exists()
        assert await history.aget_messages() == []
        assert path.exists()
        history.close()

    run(go())


def test_async_writes_leave_the_event_loop_free_while_sqlite_waits(tmp_path):
    """Another connection holds the write lock; the history's write waits for it
    in a worker thread while the loop runs the coroutine that releases it. A
    write run on the loop would block it until the store's timeout, then fail."""
    path = tmp_path / "locked.db"
    store = EventSourcedSessionStore(path, timeout=3)
    history = EventSourcedChatMessageHistory("busy", store=store)
    history.add_user_message("first")  # the session exists; the next writes only append
    blocker = sqlite3.connect(path, isolation_level=None)

    async def go(action):
        blocker.execute("BEGIN IMMEDIATE")
        task = asyncio.ensure_future(action())
        await asyncio.sleep(0)  # the task starts; a blocking one would hold the loop here
        blocker.execute("ROLLBACK")
        await task

    run(go(lambda: history.aadd_messages([AIMessage("second")])))
    assert [m.content for m in history.messages] == ["first", "second"]
    run(go(history.aclear))
    assert history.messages == []
    blocker.close()
    store.close()


def test_a_write_that_times_out_says_so_and_writes_nothing(tmp_path):
    path = tmp_path / "stuck.db"
    store = EventSourcedSessionStore(path, timeout=0.2)
    history = EventSourcedChatMessageHistory("stuck", store=store)
    history.add_user_message("first")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(StorageError, match="locked"):
        run(history.aadd_messages([AIMessage("second")]))
    blocker.execute("ROLLBACK")
    assert [m.content for m in history.messages] == ["first"]
    blocker.close()
    store.close()


# -- RunnableWithMessageHistory, fully offline -------------------------------------

def echo(messages: list[BaseMessage]) -> str:
    return "you said: " + "\n".join(str(m.content) for m in messages if isinstance(m, HumanMessage))


def test_runnable_with_message_history_input_messages(tmp_path):
    path = tmp_path / "chain.db"
    chain = RunnableWithMessageHistory(RunnableLambda(echo),
                                       lambda sid: EventSourcedChatMessageHistory(sid, path))
    config = {"configurable": {"session_id": "1"}}
    assert chain.invoke([HumanMessage("hello")], config) == "you said: hello"
    assert chain.invoke([HumanMessage("good bye")], config) == "you said: hello\ngood bye"
    with EventSourcedChatMessageHistory("1", path) as history:
        assert history.messages == [HumanMessage("hello"), AIMessage("you said: hello"),
                                    HumanMessage("good bye"), AIMessage("you said: hello\ngood bye")]


def chat_chain(store, model, seen: list):
    prompt = ChatPromptTemplate.from_messages([
        ("system", "You are terse."), MessagesPlaceholder("history"), ("human", "{question}"),
    ])

    def capture(value):
        seen.append(value.to_messages())
        return value

    return RunnableWithMessageHistory(
        prompt | RunnableLambda(capture) | model,
        lambda session_id: EventSourcedChatMessageHistory(session_id, store=store),
        input_messages_key="question", history_messages_key="history",
    )


def test_runnable_with_message_history_and_a_fake_chat_model(store):
    seen: list = []
    model = GenericFakeChatModel(messages=iter([AIMessage("Hello Ada!", id="r-1"), "You are Ada."]))
    chain = chat_chain(store, model, seen)
    config = {"configurable": {"session_id": "user-1/chat-1"}}
    first = chain.invoke({"question": "I am Ada."}, config)
    second = run(chain.ainvoke({"question": "Who am I?"}, config))
    assert first == AIMessage("Hello Ada!", id="r-1")
    assert second.content == "You are Ada."
    # The model saw the earlier turn on the second call.
    assert [m.content for m in seen[1]] == ["You are terse.", "I am Ada.", "Hello Ada!", "Who am I?"]
    history = EventSourcedChatMessageHistory("user-1/chat-1", store=store)
    assert history.messages == [HumanMessage("I am Ada."), first, HumanMessage("Who am I?"), second]


def test_runnable_with_message_history_streaming_keeps_the_whole_reply(store):
    seen: list = []
    model = FakeListChatModel(responses=["one two three"])
    chain = chat_chain(store, model, seen)
    config = {"configurable": {"session_id": "stream"}}

    async def go():
        return [chunk async for chunk in chain.astream({"question": "count"}, config)]

    chunks = run(go())
    assert len(chunks) > 1
    history = EventSourcedChatMessageHistory("stream", store=store)
    assert [type(m) for m in history.messages] == [HumanMessage, AIMessageChunk]
    assert history.messages[1].content == "one two three"


def test_runnable_with_message_history_keeps_sessions_apart(store):
    chain = RunnableWithMessageHistory(
        RunnableLambda(echo), lambda sid: EventSourcedChatMessageHistory(sid, store=store))
    chain.invoke([HumanMessage("hello")], {"configurable": {"session_id": "a"}})
    assert chain.invoke([HumanMessage("meow")], {"configurable": {"session_id": "b"}}) == "you said: meow"



# -- the audit trail -----------------------------------------------------------------

def test_history_and_show_print_the_conversation_with_roles_and_text(tmp_path):
    path = str(tmp_path / "audit.db")
    with EventSourcedChatMessageHistory("user-42/chat-7", path) as history:
        history.add_messages(every_kind()[:4])
        history.add_ai_message("It is 18°C and sunny.")
        history.clear()
        history.add_user_message("Thanks!")
    with EventSourcedSessionStore(path) as store:
        sid = str(store.get_by_key("user-42/chat-7").id)

    def ok(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--db", path, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    trail = ok("history", sid)
    expected = [("system", "You are terse."), ("user", "What's the weather in Paris?"),
                ("assistant", 'get_weather({"city":"Paris","days":[1,2]})'), ("tool", "18°C and sunny"),
                ("assistant", "It is 18°C and sunny."), ("user", "Thanks!")]
    lines = trail.splitlines()
    for role, text in expected:
        assert any(f"{role}: {text}" in line for line in lines), (role, text, trail)
    assert "SessionCleared" in trail
    assert '"type"' not in trail and "additional_kwargs" not in trail  # no JSON blobs
    shown = ok("show", sid)
    assert "user: Thanks!" in shown
    assert "What's the weather" not in shown  # cleared
    events = json.loads(ok("history", sid, "--json"))
    assert [e["type"] for e in events].count("ItemAdded") == 6
