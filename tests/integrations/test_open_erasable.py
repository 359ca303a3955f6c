"""The framework adapters open an erasable file as the CLI does (the file
says what it is; the master key comes from the key file beside it or
$SESSIONLOG_MASTER_KEY), and a SQLAlchemy URL pasted from ADK's
`DatabaseSessionService` is refused in one line naming what to pass
(issue 20, item 7)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from click.testing import CliRunner

from projections import EventSourcedSessionStore
from sessionlog.cli import main
from sessionlog.integrations.adk import EventSourcedSessionService
from sessionlog.integrations.langchain import EventSourcedChatMessageHistory
from sessionlog.integrations.openai_agents import EventSourcedSession


@pytest.fixture
def erasable_file(tmp_path):
    """An erasable file made through the CLI, as a user makes one."""
    path = str(tmp_path / "chats.db")
    made = CliRunner().invoke(main, ["--db", path, "--erasable", "create", "--title", "t"])
    assert made.exit_code == 0, made.output
    return path


def cli_texts(path: str) -> list[str]:
    """The message texts of every session in `path`, read through the CLI."""
    listed = CliRunner().invoke(main, ["--db", path, "list", "--json"])
    assert listed.exit_code == 0, listed.output
    texts = []
    for summary in json.loads(listed.stdout):
        shown = CliRunner().invoke(main, ["--db", path, "show", summary["id"], "--json"])
        assert shown.exit_code == 0, shown.output
        texts += [m["content"] for m in json.loads(shown.stdout)["messages"]]
    return texts


def test_the_openai_agents_session_opens_an_erasable_file(erasable_file):
    session = EventSourcedSession("x", erasable_file)
    try:
        asyncio.run(session.add_items([{"role": "user", "content": "hello from agents"}]))
        assert asyncio.run(session.get_items())[0]["content"] == "hello from agents"
    finally:
        session.close()
    assert "hello from agents" in cli_texts(erasable_file)


def test_the_langchain_history_opens_an_erasable_file(erasable_file):
    from langchain_core.messages import HumanMessage

    with EventSourcedChatMessageHistory("ada-1", erasable_file) as history:
        history.add_messages([HumanMessage("hello from langchain")])
        assert [m.content for m in history.messages] == ["hello from langchain"]
    assert "hello from langchain" in cli_texts(erasable_file)


def test_the_adk_service_opens_an_erasable_file(erasable_file):
    async def run():
        service = EventSourcedSessionService(erasable_file)
        try:
            made = await service.create_session(app_name="shop", user_id="u1", state={"a": 1})
            got = await service.get_session(app_name="shop", user_id="u1", session_id=made.id)
            return got.state
        finally:
            await service.close()
    assert asyncio.run(run()) == {"a": 1}


def test_the_master_key_comes_from_the_environment_as_for_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("SESSIONLOG_MASTER_KEY", base64.b64encode(bytes(range(32))).decode())
    path = str(tmp_path / "env.db")
    made = CliRunner().invoke(main, ["--db", path, "--erasable", "create", "--title", "t"])
    assert made.exit_code == 0, made.output
    assert not (tmp_path / "env.db.key").exists()
    session = EventSourcedSession("x", path)
    try:
        asyncio.run(session.add_items([{"role": "user", "content": "keyed by env"}]))
    finally:
        session.close()
    assert "keyed by env" in cli_texts(path)


def test_the_store_opens_as_the_file_says_with_erasable_none(erasable_file, tmp_path):
    with EventSourcedSessionStore(erasable_file, erasable=None) as store:
        assert store.log.sealer is not None
    plain = str(tmp_path / "plain.db")
    with EventSourcedSessionStore(plain, erasable=None) as store:
        assert store.log.sealer is None


@pytest.mark.parametrize(("url", "hint"), [
    ("sqlite+aiosqlite:///adk.db", "db_path='adk.db'"),
    ("sqlite:///data/adk.db", "db_path='data/adk.db'"),
    ("sqlite:////var/adk.db", "db_path='/var/adk.db'"),
    ("postgresql+psycopg://me@dbhost/chats", "db_path='postgresql://me@dbhost/chats'"),
    ("postgresql+asyncpg://me:secret@dbhost/chats", "db_path='postgresql://me:***@dbhost/chats'"),
    ("mysql+pymysql://me@dbhost/chats", "a SQLite file path or a postgresql:// URL"),
])
def test_a_sqlalchemy_url_gets_a_one_line_hint_in_every_adapter(url, hint, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for make in (lambda: EventSourcedSession("x", url),
                 lambda: EventSourcedChatMessageHistory("x", url),
                 lambda: EventSourcedSessionService(url)):
        with pytest.raises(ValueError, match="is a SQLAlchemy URL") as caught:
            make()
        assert hint in str(caught.value)
        assert "\n" not in str(caught.value) and "secret" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
