"""Each message is stored once (issue 21) with LangGraph's default durability,
where a task's writes are saved in background threads and can come before
the checkpoint they belong to: the model's reply is one item, which the
writes and the checkpoints name, never a copy kept whole in the writes; the
items follow the conversation. Sync and async, a graph and an agent with a
tool call; on a SQLite file, PostgreSQL and an erasable file."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from langchain_core.messages import HumanMessage
from langgraph_app import agent, graph, run

from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver

# The channels whose update makes a node run: a checkpoint that has one gets a task's writes.
TRIGGERS = ("__start__", "__pregel_tasks", "branch:to:")


class LatePuts(EventSourcedCheckpointSaver):
    """A saver whose checkpoints land late (as on a busy database): each
    checkpoint that gets a task's writes is stored only once those writes
    have come (in another thread), so they always come first. It counts the
    writes that came before their checkpoint."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stored: set[str] = set()
        self.came: dict[str, threading.Event] = {}
        self.early = 0
        self.mutex = threading.Lock()

    def event(self, cid: str) -> threading.Event:
        with self.mutex:
            return self.came.setdefault(cid, threading.Event())

    def put(self, config, checkpoint, metadata, new_versions):
        if any(c.startswith(TRIGGERS) for c in checkpoint.get("updated_channels") or ()):
            assert self.event(checkpoint["id"]).wait(60), "the task's writes never came"
        done = super().put(config, checkpoint, metadata, new_versions)
        with self.mutex:
            self.stored.add(checkpoint["id"])
        return done

    def count(self, config) -> None:
        cid = config["configurable"]["checkpoint_id"]
        with self.mutex:
            self.early += cid not in self.stored
        self.event(cid).set()

    def put_writes(self, config, writes, task_id, task_path=""):
        self.count(config)
        super().put_writes(config, writes, task_id, task_path)

    async def aput_writes(self, config, writes, task_id, task_path=""):
        self.count(config)
        await super().aput_writes(config, writes, task_id, task_path)


def texts_of(saver, thread: str) -> tuple[list[tuple[str, str | None]], list[str], list[str]]:
    """The thread's conversation items (role, text), its writes items' data
    as JSON, and every event of its session as JSON."""
    session = saver.store.get_by_key(thread)
    assert session is not None
    items = [(i.role, i.text) for i in session.items if not i.role.startswith("langgraph.")]
    writes = [json.dumps(i.data) for i in session.items if i.role == "langgraph.writes"]
    events = [json.dumps(e.data) for e in saver.store.history(session.id)]
    return items, writes, events


def assert_once(saver, thread: str, conversation: list[tuple[str, str]]) -> None:
    items, writes, events = texts_of(saver, thread)
    assert items == conversation  # one item per message, in the conversation's order
    assert writes and not [w for w in writes if '"$lc"' in w]  # no message kept whole
    for _, text in conversation:
        if text:
            quoted = json.dumps(text)  # "reply to x" does not hold "x" quoted
            assert len([e for e in events if quoted in e]) == 1, text


TURNS = ["first question", "second question", "third question"]
CONVERSATION = [(role, text) for t in TURNS for role, text in
                (("user", t), ("assistant", f"reply to {t}"))]


def test_a_graph_stores_each_message_once_when_writes_come_first(made_target):
    with LatePuts(made_target) as saver:
        got = run("graph", saver, "t", TURNS)
        assert [m.content for m in got] == [text for _, text in CONVERSATION]
        assert saver.early  # the race this test is about did happen
        assert_once(saver, "t", CONVERSATION)
    with EventSourcedCheckpointSaver(made_target) as fresh:  # another process reads the same
        state = graph(fresh, []).get_state({"configurable": {"thread_id": "t"}})
        assert [m.content for m in state.values["messages"]] == [t for _, t in CONVERSATION]
        assert_once(fresh, "t", CONVERSATION)


def test_an_async_graph_stores_each_message_once_when_writes_come_first(made_target):
    async def turns(saver) -> list:
        app = graph(saver, TURNS)
        config = {"configurable": {"thread_id": "a"}}
        out: dict = {}
        for t in TURNS:
            out = await app.ainvoke({"messages": [HumanMessage(t)]}, config)
        return out["messages"]

    with LatePuts(made_target) as saver:
        got = asyncio.run(turns(saver))
        assert [m.content for m in got] == [text for _, text in CONVERSATION]
        assert saver.early
        assert_once(saver, "a", CONVERSATION)


def test_an_agent_with_a_tool_call_stores_each_message_once(made_target):
    with LatePuts(made_target) as saver:
        run("agent", saver, "ada", ["where is my refund?", "thanks"])
        assert saver.early
        assert_once(saver, "ada", [
            ("user", "where is my refund?"), ("assistant", 'lookup({"order":"1142"})'),
            ("tool", "order 1142: refund issued"), ("assistant", "reply to where is my refund?"),
            ("user", "thanks"), ("assistant", "reply to thanks")])
        state = agent(saver, []).get_state({"configurable": {"thread_id": "ada"}})
        assert state.values["messages"][1].tool_calls[0]["args"] == {"order": "1142"}


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_other_durabilities_store_each_message_once(made_target, durability):
    """"sync" stores each checkpoint before its writes; "exit" the last
    checkpoint, then its writes."""
    with EventSourcedCheckpointSaver(made_target) as saver:
        app = graph(saver, TURNS)
        config = {"configurable": {"thread_id": durability}}
        for t in TURNS:
            app.invoke({"messages": [HumanMessage(t)]}, config, durability=durability)
        items, writes, events = texts_of(saver, durability)
        assert items == CONVERSATION
        assert not [w for w in writes if '"$lc"' in w]
        for _, text in CONVERSATION:
            assert len([e for e in events if json.dumps(text) in e]) == 1, text
