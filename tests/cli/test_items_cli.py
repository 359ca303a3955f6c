"""A conversation written through the v2 item API reads well in `show`,
`history` and `search`: roles and text, not JSON blobs; pops and clears
are in the history."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from projections import NewItem
from sessionlog.cli import main


def ok(db, *args):
    result = CliRunner().invoke(main, ["--db", db, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def recorded(db, open_store):
    """A conversation written through the item API (the CLI has no command
    for items) on the test's --db."""
    with open_store() as store:
        s = store.get_or_create("user-42/chat-7", title="refund", user_id="u42", tenant_id="acme")
        store.add_items(s.id, [
            NewItem("system", {"role": "system", "content": "be brief"}, "be brief"),
            NewItem("user", {"role": "user", "content": "where is R-88?"}, "where is R-88?"),
            NewItem("tool", {"type": "function_call_output", "output": "shipped"}, "lookup: shipped"),
            NewItem("assistant", {"type": "reasoning", "summary": []}),
            NewItem("assistant", {"role": "assistant", "content": "It shipped."}, "It shipped."),
        ], state_delta={"lang": "en"})
        store.pop_items(s.id)
        store.add_items(s.id, [NewItem("assistant", {"content": "Shipped today."}, "Shipped today.")])
    return db, str(s.id)


def test_show_lists_items_by_role_and_text(recorded):
    db, sid = recorded
    shown = ok(db, "show", sid)
    assert "Key:     user-42/chat-7" in shown
    assert "] system: be brief" in shown and "] tool: lookup: shipped" in shown
    assert '] assistant: {"summary":[],"type":"reasoning"}' in shown  # no text: its JSON
    assert "Shipped today." in shown and "It shipped." not in shown
    data = json.loads(ok(db, "show", sid, "--json"))
    assert [m["content"] for m in data["messages"]] == ["where is R-88?", "Shipped today."]
    assert [i["role"] for i in data["items"]] == ["system", "user", "tool", "assistant",
                                                  "assistant"]
    assert data["key"] == "user-42/chat-7" and data["state"] == {"lang": "en"}


def test_history_shows_items_pops_and_state(recorded):
    db, sid = recorded
    history = ok(db, "history", sid)
    for line in ("ItemAdded", "tool: lookup: shipped", "removed the last 1 item(s)",
                 'state: lang="en"', "key 'user-42/chat-7'"):
        assert line in history, line


def test_search_finds_item_text_and_forgets_popped_items(recorded, open_store):
    db, sid = recorded
    hits = json.loads(ok(db, "search", "shipped", "--json"))
    assert sorted(h["role"] for h in hits) == ["assistant", "tool"]
    assert json.loads(ok(db, "search", "It shipped", "--json")) == []
    with open_store() as store:
        store.clear(sid)
        assert store.search("shipped") == []
