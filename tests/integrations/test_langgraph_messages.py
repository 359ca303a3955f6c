"""How `EventSourcedCheckpointSaver` stores the message channel (issue 21):
each message once, as an item; a value that extends its parent's names the
new tail only; one that does not (a removal, a reordering, an edited
message) still reads back exactly; the graph's input, stored before
LangGraph gives its messages ids, is not stored twice. Direct calls, on
every backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_metadata

from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver


@pytest.fixture
def db(made_backend):
    return made_backend


def put(saver, thread, parent, values, versions):
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    if parent is not None:
        config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
    checkpoint = generate_checkpoint(channel_values=values, channel_versions=versions)
    return saver.put(config, checkpoint, generate_metadata(), versions), checkpoint


def conversation(saver, thread) -> list[tuple[str, str | None]]:
    session = saver.store.get_by_key(thread)
    return [(i.role, i.text) for i in session.items if not i.role.startswith("langgraph.")]


def test_each_message_is_one_item_and_values_read_back_exactly(db):
    with EventSourcedCheckpointSaver(db) as saver:
        h1, a1 = HumanMessage("hi", id="h1"), AIMessage("hello", id="a1")
        h2, a2 = HumanMessage("bye", id="h2"), AIMessage("see you", id="a2")
        edited = AIMessage("hello again", id="a1")  # same id, new content: a new item
        values = [[h1], [h1, a1], [h1, a1, h2, a2], [a2, h1], [h1, edited], []]
        parent, stored = None, []
        for n, messages in enumerate(values, 1):
            parent, checkpoint = put(saver, "t", parent, {"messages": messages}, {"messages": n})
            stored.append((parent, checkpoint))
        for config, checkpoint in stored:  # every value, extension or not, reads back
            got = saver.get_tuple(config).checkpoint["channel_values"]
            assert got == checkpoint["channel_values"]
        assert conversation(saver, "t") == [("user", "hi"), ("assistant", "hello"),
                                            ("user", "bye"), ("assistant", "see you"),
                                            ("assistant", "hello again")]
    with EventSourcedCheckpointSaver(db) as fresh:  # and from the log alone
        if db.kind != "sqlite-memory":
            for config, checkpoint in stored:
                got = fresh.get_tuple(config).checkpoint["channel_values"]
                assert got == checkpoint["channel_values"]


def test_the_graph_input_is_stored_once_whenever_its_writes_land(db):
    """LangGraph stores its input before giving the input's messages ids, and
    may write the input task's writes after that: one item all the same."""
    with EventSourcedCheckpointSaver(db) as saver:
        given = HumanMessage("where is my refund?")
        start, _ = put(saver, "t", None, {"__start__": {"messages": [given]}}, {"__start__": 1})
        with_id = given.model_copy(update={"id": "given-later"})
        step0, _ = put(saver, "t", start, {"messages": [with_id]}, {"messages": 2})
        saver.put_writes(start, [("messages", [given])], "late-task")  # still without its id
        saver.put_writes(start, [("messages", [with_id])], "later-task")
        assert conversation(saver, "t") == [("user", "where is my refund?")]
        tup = saver.get_tuple(start)
        assert tup.checkpoint["channel_values"]["__start__"]["messages"][0].id is None
        assert {task: value[0].id for task, _, value in tup.pending_writes} == {
            "late-task": None, "later-task": "given-later"}
        assert saver.get_tuple(step0).checkpoint["channel_values"]["messages"] == [with_id]


def test_a_message_json_cannot_give_back_is_kept_whole(db):
    """A datetime in `additional_kwargs` (JSON has none): the message is stored
    in the checkpoint by LangGraph's serde, read back equal, not an item."""
    with EventSourcedCheckpointSaver(db) as saver:
        odd = AIMessage("x", id="odd", additional_kwargs={"at": datetime(2026, 1, 2, tzinfo=UTC)})
        config, _ = put(saver, "t", None, {"messages": [odd]}, {"messages": 1})
        got = saver.get_tuple(config).checkpoint["channel_values"]["messages"]
        assert got == [odd] and got[0].additional_kwargs["at"] == datetime(2026, 1, 2, tzinfo=UTC)
        assert conversation(saver, "t") == []


def test_an_item_of_another_shape_is_passed_over(db):
    """Another writer's item with a "langgraph." role but not the saver's shape
    does not stop the thread from being read."""
    with EventSourcedCheckpointSaver(db) as saver:
        config, checkpoint = put(saver, "t", None, {"messages": [HumanMessage("hi", id="h")]},
                                 {"messages": 1})
        sid = saver.store.get_by_key("t").id
        saver.store.add_items(sid, [{"role": "langgraph.checkpoint", "data": {"odd": True}}])
    with EventSourcedCheckpointSaver(db) as fresh:
        if db.kind != "sqlite-memory":
            assert fresh.get_tuple(config).checkpoint["channel_values"] == checkpoint[
                "channel_values"]
