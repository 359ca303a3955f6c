"""Opening `EventSourcedCheckpointSaver` (issue 21): by path or URL, as a
sync context manager or through `from_conn_string`; `store=` shares an open
store and leaves it open; a SQLAlchemy URL is refused in one line naming what
to pass, with nothing created."""

from __future__ import annotations

import os

import pytest
from langchain_core.messages import HumanMessage
from langgraph_app import run

from eventlog import StorageError
from projections import EventSourcedSessionStore
from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver


def test_from_conn_string_is_a_sync_context_manager_that_closes(made_target):
    with EventSourcedCheckpointSaver.from_conn_string(str(made_target)) as saver:
        run("graph", saver, "t", ["hello"])
        store = saver.store
    if not made_target.postgres:  # a closed PostgreSQL store reconnects on its own
        with pytest.raises(StorageError):  # closed: the saver opened it, so it closed it
            store.create_session("after close")
    with EventSourcedCheckpointSaver(made_target) as again:
        latest = again.get_tuple({"configurable": {"thread_id": "t"}})
        assert [m.content for m in latest.checkpoint["channel_values"]["messages"]] == [
            "hello", "reply to hello"]


def test_a_shared_store_stays_open_and_sees_the_thread(made_target):
    with EventSourcedSessionStore(made_target, erasable=None) as store:
        with EventSourcedCheckpointSaver(store=store) as saver:
            run("graph", saver, "shared", ["hi"])
        session = store.get_by_key("shared")  # still open
        assert [i.text for i in session.items if i.role == "user"] == ["hi"]


def test_a_tenant_keeps_its_threads_apart(made_target):
    with EventSourcedCheckpointSaver(made_target, tenant_id="acme", user_id="ada") as acme, \
            EventSourcedCheckpointSaver(made_target, tenant_id="globex") as globex:
        run("graph", acme, "t", ["for acme"])
        assert globex.get_tuple({"configurable": {"thread_id": "t"}}) is None
        run("graph", globex, "t", ["for globex"])
        session = acme.store.get_by_key("t", "acme")
        assert (session.tenant_id, session.user_id) == ("acme", "ada")
        got = acme.get_tuple({"configurable": {"thread_id": "t"}})
        assert got.checkpoint["channel_values"]["messages"][0] == HumanMessage(
            "for acme", id=got.checkpoint["channel_values"]["messages"][0].id)


def test_a_sqlalchemy_url_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as refused:
        EventSourcedCheckpointSaver("sqlite:///threads.db")
    assert str(refused.value).count("\n") == 0 and "db_path='threads.db'" in str(refused.value)
    assert os.listdir(tmp_path) == []


def test_a_new_file_gets_8_kb_pages_and_an_existing_one_keeps_its_own(tmp_path):
    """SQLite only: the page size is a SQLite file's (1 KB messages fit a page, not an
    overflow page each)."""
    import sqlite3

    def page_size(path) -> int:
        with sqlite3.connect(path) as conn:
            return conn.execute("PRAGMA page_size").fetchone()[0]

    new = tmp_path / "new.db"
    with EventSourcedCheckpointSaver(new) as saver:
        run("graph", saver, "t", ["hello"])
    assert page_size(new) == 8192
    with EventSourcedCheckpointSaver(new) as again:  # and reads back
        assert again.get_tuple({"configurable": {"thread_id": "t"}}) is not None
    old = tmp_path / "old.db"
    EventSourcedSessionStore(old).close()  # made by the store: SQLite's default pages
    with EventSourcedCheckpointSaver(old) as saver:
        run("graph", saver, "t", ["hello"])
    assert page_size(old) == 4096
