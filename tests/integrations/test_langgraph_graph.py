"""Real graphs on `EventSourcedCheckpointSaver` (issue 21): a
`StateGraph(MessagesState)` and a `create_agent` agent with a fake chat model
(and a tool call) over several turns, reopened in a new process and
continued; history, time travel and a fork from an old checkpoint behave as
on LangGraph's SqliteSaver; the conversation is the session's items, each
message once. On a SQLite file, PostgreSQL and an erasable file."""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph_app import agent, graph, run

from projections import EventSourcedSessionStore
from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver

APP = Path(__file__).parent / "langgraph_app.py"


def shape(messages) -> list[list[str]]:
    return [[m.type, m.content] for m in messages]


def child(kind: str, db: str, thread: str, texts: list[str]) -> list[list[str]]:
    """Turns run by another process; the messages it then reads."""
    done = subprocess.run([sys.executable, str(APP), kind, str(db), thread, *texts],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def peer(tmp_path) -> SqliteSaver:
    return SqliteSaver(sqlite3.connect(str(tmp_path / "peer.db"), check_same_thread=False))


def items_of(db: str, thread: str) -> list[tuple[str, str | None]]:
    """(role, text) of the conversation items of a thread's session."""
    with EventSourcedSessionStore(db, erasable=None) as store:
        session = store.get_by_key(thread)
        assert session is not None
        return [(i.role, i.text) for i in session.items if not i.role.startswith("langgraph.")]


def history(app, config) -> list[tuple]:
    return [(s.metadata["source"], s.metadata["step"], shape(s.values.get("messages", [])), s.next)
            for s in app.get_state_history(config)]


def test_a_messages_state_graph_continues_in_a_new_process(made_target, tmp_path):
    with EventSourcedCheckpointSaver(made_target) as saver:
        got = run("graph", saver, "t1", ["hello", "how are you"])
    assert shape(got) == [["human", "hello"], ["ai", "reply to hello"],
                          ["human", "how are you"], ["ai", "reply to how are you"]]
    assert child("graph", made_target, "t1", ["bye"]) == [
        *shape(got), ["human", "bye"], ["ai", "reply to bye"]]
    # Each message is one item of the session, with its role and text, in order.
    assert items_of(made_target, "t1") == [
        ("user", "hello"), ("assistant", "reply to hello"), ("user", "how are you"),
        ("assistant", "reply to how are you"), ("user", "bye"), ("assistant", "reply to bye")]
    # The history is the one SqliteSaver keeps for the same turns in one process.
    texts = ["hello", "how are you", "bye"]
    config = {"configurable": {"thread_id": "t1"}}
    with EventSourcedCheckpointSaver(made_target) as saver:
        ours = history(graph(saver, []), config)
    theirs = peer(tmp_path)
    run("graph", theirs, "t1", texts)
    assert ours == history(graph(theirs, []), config)
    assert len(ours) == 9


def fork_story(saver) -> dict:
    """Three turns, then time travel: invoke from the checkpoint after the
    first turn, and update the state of that past checkpoint."""
    app = graph(saver, ["a", "b", "c", "x"])
    config = {"configurable": {"thread_id": "t"}}
    for text in ["a", "b", "c"]:
        app.invoke({"messages": [HumanMessage(text)]}, config)
    old = next(s for s in app.get_state_history(config)
               if len(s.values.get("messages", [])) == 2 and not s.next)
    forked = app.invoke({"messages": [HumanMessage("x")]}, old.config)
    updated = app.update_state(old.config, {"messages": [AIMessage("edited", id="e1")]})
    return {
        "forked": shape(forked["messages"]),
        "latest": shape(app.get_state(config).values["messages"]),
        "old": shape(app.get_state(old.config).values["messages"]),
        "updated": shape(app.get_state(updated).values["messages"]),
        "updated_source": app.get_state(updated).metadata["source"],
        "history": history(app, config),
    }


def test_time_travel_and_a_fork_behave_as_on_sqlite_saver(made_target, tmp_path):
    with EventSourcedCheckpointSaver(made_target) as saver:
        ours = fork_story(saver)
    assert ours == fork_story(peer(tmp_path))
    assert ours["forked"] == [["human", "a"], ["ai", "reply to a"], ["human", "x"],
                              ["ai", "reply to x"]]
    assert ours["old"] == [["human", "a"], ["ai", "reply to a"]]
    assert ours["updated"] == [["human", "a"], ["ai", "reply to a"], ["ai", "edited"]]
    # The fork's messages are new items; the ones it shares are not stored again.
    assert [text for _, text in items_of(made_target, "t")] == [
        "a", "reply to a", "b", "reply to b", "c", "reply to c", "x", "reply to x", "edited"]


def test_an_agent_calls_a_tool_and_continues_in_a_new_process(made_target):
    with EventSourcedCheckpointSaver(made_target) as saver:
        got = run("agent", saver, "ada", ["where is my refund?"])
    assert [m.type for m in got] == ["human", "ai", "tool", "ai"]
    assert got[1].tool_calls[0]["name"] == "lookup"
    after = child("agent", made_target, "ada", ["thanks"])
    assert after == [*shape(got), ["human", "thanks"], ["ai", "reply to thanks"]]
    assert items_of(made_target, "ada") == [
        ("user", "where is my refund?"), ("assistant", 'lookup({"order":"1142"})'),
        ("tool", "order 1142: refund issued"), ("assistant", "reply to where is my refund?"),
        ("user", "thanks"), ("assistant", "reply to thanks")]
    with EventSourcedCheckpointSaver(made_target) as saver:  # the tool call reads back whole
        state = agent(saver, []).get_state({"configurable": {"thread_id": "ada"}})
        assert state.values["messages"][1] == got[1]


def test_copy_thread_is_a_fork_recorded_in_the_target(made_target):
    with EventSourcedCheckpointSaver(made_target) as saver:
        run("graph", saver, "src", ["one", "two"])
        saver.copy_thread("src", "dst")
        src = {"configurable": {"thread_id": "src"}}
        dst = {"configurable": {"thread_id": "dst"}}
        assert [t.checkpoint for t in saver.list(dst)] == [t.checkpoint for t in saver.list(src)]
        run("graph", saver, "dst", ["three"])
        assert len(graph(saver, []).get_state(src).values["messages"]) == 4
        assert len(graph(saver, []).get_state(dst).values["messages"]) == 6
        store = saver.store
        source, target = store.get_by_key("src"), store.get_by_key("dst")
        fork = target.items[0]
        assert fork.role == "langgraph.fork"
        assert fork.data["thread"] == "src" and fork.data["session"] == str(source.id)
        assert fork.data["version"] == source.version - 0 and fork.data["items"] == len(source.items)


def test_prune_forgets_in_the_views_and_the_log_keeps_it(made_target):
    with EventSourcedCheckpointSaver(made_target) as saver:
        run("graph", saver, "p", ["one", "two"])
        config = {"configurable": {"thread_id": "p"}}
        before = list(saver.list(config))
        sid = saver.store.get_by_key("p").id
        events = len(saver.store.history(sid))
        saver.prune(["p"], strategy="keep_latest")
        after = list(saver.list(config))
        assert [t.checkpoint["id"] for t in after] == [before[0].checkpoint["id"]]
        assert shape(after[0].checkpoint["channel_values"]["messages"]) == [
            ["human", "one"], ["ai", "reply to one"], ["human", "two"], ["ai", "reply to two"]]
        log = saver.store.history(sid)
        assert len(log) == events + 1 and log[-1].data["role"] == "langgraph.forget"
        # A new saver (another process) reads the same.
    with EventSourcedCheckpointSaver(made_target) as saver:
        assert [t.checkpoint["id"] for t in saver.list(config)] == [before[0].checkpoint["id"]]
        saver.delete_thread("p")
        assert saver.get_tuple(config) is None
        assert len(saver.store.history(sid)) == events + 2  # the deletion is an event too


@pytest.mark.backends("sqlite-erasable")
def test_erase_forgets_a_deleted_thread_for_good(made_target):
    """`delete_thread` (and `prune`) only hide: the log keeps the words until `erase`."""
    with EventSourcedCheckpointSaver(made_target) as saver:
        run("graph", saver, "gone", ["my card is 4242"])
        sid = saver.store.get_by_key("gone").id
        saver.delete_thread("gone")
        assert saver.get_tuple({"configurable": {"thread_id": "gone"}}) is None
        assert "my card is 4242" in [e.data.get("text") for e in saver.store.history(sid)]
        saver.store.erase(sid, reason="asked")
        texts = [e.data.get("text") for e in saver.store.history(sid)]
        assert "my card is 4242" not in texts and "[erased]" in texts
        assert not [e for e in saver.store.history(sid) if e.data.get("data")]


def test_delta_channel_history_is_the_walk_langgraph_defines(made_target):
    """The saver's `get_delta_channel_history` (read from its fold) gives what
    `BaseCheckpointSaver`'s walk over `get_tuple` gives, sync and async."""
    from langgraph.checkpoint.base import BaseCheckpointSaver

    with EventSourcedCheckpointSaver(made_target) as saver:
        run("agent", saver, "d", ["where is my refund?", "thanks"])
        walked = 0
        for tup in saver.list({"configurable": {"thread_id": "d"}}):
            for channels in (["messages"], ["messages", "branch:to:model", "nothing"], []):
                base = BaseCheckpointSaver.get_delta_channel_history(
                    saver, config=tup.config, channels=channels)
                assert saver.get_delta_channel_history(config=tup.config, channels=channels) == base
                assert asyncio.run(saver.aget_delta_channel_history(
                    config=tup.config, channels=channels)) == base
                walked += sum(len(h["writes"]) for h in base.values())
        assert walked > 0


class Recording(EventSourcedCheckpointSaver):
    """The saver, keeping a deep copy of every checkpoint and write as LangGraph gave it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.given: dict[str, dict] = {}
        self.written: dict[tuple[str, str, int], object] = {}

    # LangGraph saves in the background and meanwhile gives the graph's input
    # messages their ids, in place: the saver gets the copy kept here.
    def put(self, config, checkpoint, metadata, new_versions):
        given = self.given[checkpoint["id"]] = copy.deepcopy(dict(checkpoint))
        return super().put(config, copy.deepcopy(given), metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):
        writes = copy.deepcopy(list(writes))
        for i, (channel, value) in enumerate(writes):
            self.written.setdefault((config["configurable"]["checkpoint_id"], task_id, i),
                                    (channel, copy.deepcopy(value)))
        super().put_writes(config, writes, task_id, task_path)


def test_every_checkpoint_and_write_reads_back_as_given(made_target):
    """Values, the graph's input and tool messages included, read back equal to
    what LangGraph put, from the saver that wrote them and from a new one."""
    with Recording(made_target) as saver:
        run("agent", saver, "x", ["where is my refund?", "thanks"])
        app = agent(saver, ["again"])
        config = {"configurable": {"thread_id": "x"}}
        old = list(app.get_state_history(config))[-3]
        app.invoke({"messages": [HumanMessage("again")]}, old.config)  # a fork
        given, written = saver.given, saver.written
        live = {t.checkpoint["id"]: t for t in saver.list(config)}
    with EventSourcedCheckpointSaver(made_target) as fresh:
        read = {t.checkpoint["id"]: t for t in fresh.list(config)}
    assert set(read) == set(live) == set(given)
    for cid, checkpoint in given.items():
        for tuples in (live, read):
            got = dict(tuples[cid].checkpoint)
            assert got["channel_values"] == checkpoint["channel_values"], cid
            assert {k: v for k, v in got.items() if k != "channel_values"} == {
                k: v for k, v in checkpoint.items() if k != "channel_values"}
    checked = 0
    for cid, t in read.items():
        for task, channel, value in t.pending_writes:
            mine = [w for (c, tk, _), w in written.items() if c == cid and tk == task]
            assert (channel, value) in mine, (cid, task, channel)
            checked += 1
    assert checked > 0
