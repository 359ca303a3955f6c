"""Finding a session by the key a framework gave it: `show --key`,
`history --key`, a KEY column and `--user` in `list`, a hint at --key when an
ID is a key, and ADK sessions by ADK's own session id (issue 20, item 1)."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from sessionlog.cli import main
from sessionlog.cli.database import open_db


def run(db, *args, input=None):
    return CliRunner().invoke(main, ["--db", db, *args], input=input)


def ok(db, *args, input=None) -> str:
    result = run(db, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def keyed(db, key, tenant=None, user=None) -> str:
    """A session with this key, made through the library (the CLI has no --key on create)."""
    with open_db(db, create=True) as store:
        session = store.create_session("t", user_id=user, tenant_id=tenant, key=key)
        store.add_items(session.id, [{"role": "user", "data": {"q": 1}, "text": "hello"}])
    return str(session.id)


def test_show_and_history_find_a_session_by_key(db):
    sid = keyed(db, "ada-1", tenant="acme", user="ada")
    assert f"Session {sid}" in ok(db, "show", "--key", "ada-1")
    assert f"Session {sid}" in ok(db, "show", "--key", "ada-1", "--tenant", "acme")
    assert json.loads(ok(db, "show", "--key", "ada-1", "--json"))["id"] == sid
    trail = json.loads(ok(db, "history", "--key", "ada-1", "--json"))
    assert [e["type"] for e in trail] == ["SessionCreated", "ItemAdded"]
    assert "ItemAdded" in ok(db, "history", "--key", "ada-1", "--tenant", "acme")


def test_a_key_of_no_session_or_another_tenant_is_one_line(db):
    keyed(db, "ada-1", tenant="acme")
    for args in (["--key", "nobody"], ["--key", "ada-1", "--tenant", "globex"]):
        for command in ("show", "history"):
            result = run(db, command, *args)
            assert result.exit_code == 1
            assert result.stderr.startswith("Error: no live session has key") and \
                result.stderr.count("\n") == 1


def test_a_key_two_tenants_hold_asks_for_the_tenant(db):
    a, b = keyed(db, "same", tenant="acme"), keyed(db, "same", tenant="globex")
    result = run(db, "show", "--key", "same")
    assert result.exit_code == 1 and "pass --tenant" in result.stderr
    assert a in result.stderr and b in result.stderr
    assert f"Session {b}" in ok(db, "show", "--key", "same", "--tenant", "globex")


def test_an_id_that_is_a_key_gets_a_hint_at_key(db):
    keyed(db, "ada-1", tenant="acme")
    for command in ("show", "history"):
        result = run(db, command, "ada-1")
        assert result.exit_code == 1
        assert "not a session id (UUID)" in result.stderr
        assert f"sessionlog {command} --key ada-1" in result.stderr
    plain = run(db, "show", "nobody")
    assert plain.exit_code == 1 and "--key" not in plain.stderr


def test_id_and_key_together_or_neither_are_refused(db):
    sid = keyed(db, "ada-1")
    for args in ([sid, "--key", "ada-1"], []):
        result = run(db, "show", *args)
        assert result.exit_code == 2 and "pass a session ID or --key KEY" in result.stderr


def test_list_shows_keys_and_filters_by_user(db):
    mine = keyed(db, "ada-1", tenant="acme", user="ada")
    keyed(db, "bob-1", tenant="acme", user="bob")
    table = ok(db, "list").splitlines()
    assert table[0].split()[:2] == ["ID", "KEY"]
    assert any(line.startswith(mine) and " ada-1 " in line for line in table)
    listed = json.loads(ok(db, "list", "--user", "ada", "--json"))
    assert [(s["id"], s["key"]) for s in listed] == [(mine, "ada-1")]
    assert json.loads(ok(db, "list", "--user", "ada", "--tenant", "globex", "--json")) == []


def test_adk_sessions_are_found_by_the_id_adk_gave_them(db):
    """A session made by the real ADK adapter: `show --key ADKID` finds it,
    `show ADKID` hints at --key."""
    from sessionlog.integrations.adk import EventSourcedSessionService

    with open_db(db, create=True) as store:
        async def body():
            service = EventSourcedSessionService(store=store)
            await service.create_session(app_name="shop", user_id="ada/x", session_id="chat-7")
            await service.close()
        asyncio.run(body())
    shown = ok(db, "show", "--key", "chat-7")
    assert "(user ada/x, tenant shop)" in shown
    assert "(user ada/x, tenant shop)" in ok(db, "show", "--key", "chat-7", "--tenant", "shop")
    assert "SessionCreated" in ok(db, "history", "--key", "chat-7")
    hinted = run(db, "show", "chat-7")
    assert hinted.exit_code == 1 and "sessionlog show --key chat-7" in hinted.stderr


def test_add_takes_any_role_and_show_and_history_print_it(db):
    sid = ok(db, "create").strip()
    ok(db, "add", sid, "--role", "system", "Answer in French.")
    ok(db, "add", sid, "--role", "tool", "-", input='{"ok": true}\n')
    ok(db, "add", sid, "--role", "user", "Bonjour")
    shown = ok(db, "show", sid)
    assert "system: Answer in French." in shown and 'tool: {"ok": true}' in shown
    assert "user: Bonjour" in shown
    data = json.loads(ok(db, "show", sid, "--json"))
    assert [i["role"] for i in data["items"]] == ["system", "tool", "user"]
    assert [m["content"] for m in data["messages"]] == ["Bonjour"]
    assert "system: Answer in French." in ok(db, "history", sid)
    bad = run(db, "add", sid, "--role", " ", "x")
    assert bad.exit_code == 2 and "--role" in bad.stderr
