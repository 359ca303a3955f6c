"""`sessionlog show --key`, `history --key` and `search` on a LangGraph
thread (issue 21): the conversation reads as what was said, in order, each
bookkeeping item (checkpoint, writes) one short line, never JSON. On a
SQLite file, PostgreSQL and an erasable file."""

from __future__ import annotations

import json

import pytest
from cli.clirun import ok
from langgraph_app import run

from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver

SAID = ["user: where is my refund?", 'assistant: lookup({"order":"1142"})',
        "tool: order 1142: refund issued", "assistant: reply to where is my refund?",
        "user: thanks", "assistant: reply to thanks"]


@pytest.fixture
def thread(made_target):
    """An agent's thread 'ada' of two turns (the first calls a tool)."""
    with EventSourcedCheckpointSaver(made_target) as saver:
        run("agent", saver, "ada", ["where is my refund?", "thanks"])
    return made_target


def said(lines: list[str]) -> list[str]:
    return [line.split("] ", 1)[1] for line in lines
            if line.startswith("[") and "] langgraph." not in line]


def test_show_key_prints_the_conversation_in_order(thread):
    out = ok(thread, "show", "--key", "ada")
    lines = out.splitlines()
    assert said(lines) == SAID
    bookkeeping = [line for line in lines if "] langgraph." in line]
    assert any("langgraph.checkpoint: step 1 (loop) checkpoint " in line for line in bookkeeping)
    assert any("langgraph.writes: writes to messages by task " in line for line in bookkeeping)
    assert not any("{" in line for line in bookkeeping), bookkeeping
    shown = json.loads(ok(thread, "show", "--key", "ada", "--json"))
    assert [m["content"] for m in shown["messages"]] == [
        "where is my refund?", 'lookup({"order":"1142"})', "reply to where is my refund?",
        "thanks", "reply to thanks"]


def test_history_key_lists_each_message_and_checkpoint(thread):
    out = ok(thread, "history", "--key", "ada")
    whats = [line.split("  langgraph  ", 1)[1] for line in out.splitlines()[1:]]
    assert whats[0] == "no title, key 'ada'"
    assert [w for w in whats[1:] if not w.startswith("langgraph.")] == SAID
    with EventSourcedCheckpointSaver(thread) as saver:
        checkpoints = list(saver.list({"configurable": {"thread_id": "ada"}}))
    assert sum(w.startswith("langgraph.checkpoint: ") for w in whats) == len(checkpoints) > 0


def test_search_finds_what_was_said(thread):
    found = json.loads(ok(thread, "search", "refund", "--json"))
    assert sorted(hit["role"] for hit in found) == ["assistant", "tool", "user"]
    assert json.loads(ok(thread, "search", "checkpoint", "--json")) == []  # bookkeeping is no text
