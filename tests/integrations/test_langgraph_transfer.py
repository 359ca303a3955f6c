"""A LangGraph thread moves like any session (issue 21): `copy` to another
database and `export` then `import` give a thread the saver reads the same
(every checkpoint, its values and writes), `verify` passes on each, and
`replay` of the session as of a past position is the conversation then. On
a SQLite file, PostgreSQL and an erasable file as the source."""

from __future__ import annotations

import json

from cli.clirun import ok
from langgraph_app import run

from projections import EventSourcedSessionStore
from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver

CONFIG = {"configurable": {"thread_id": "ada"}}


def checkpoints(db) -> list[tuple]:
    with EventSourcedCheckpointSaver(db) as saver:
        return [(t.checkpoint, t.metadata, t.parent_config, t.pending_writes)
                for t in saver.list(CONFIG)]


def test_copy_and_export_import_keep_the_thread(made_target, tmp_path):
    with EventSourcedCheckpointSaver(made_target) as saver:
        run("agent", saver, "ada", ["where is my refund?", "thanks"])
    before = checkpoints(made_target)
    assert before
    copied = str(tmp_path / "copy.db")
    ok(made_target, "copy", copied)
    exported = tmp_path / "threads.jsonl"
    ok(made_target, "export", "-o", str(exported))
    imported = str(tmp_path / "imported.db")
    ok(imported, "import", str(exported))
    for db in (copied, imported):
        assert checkpoints(db) == before, db
        assert json.loads(ok(db, "verify", "--json"))["ok"] is True
    assert json.loads(ok(made_target, "verify", "--json"))["ok"] is True


def test_replay_shows_the_conversation_as_it_stood(made_target):
    with EventSourcedCheckpointSaver(made_target) as saver:
        run("graph", saver, "ada", ["one"])
        sid = saver.store.get_by_key("ada").id
        middle = saver.store.history(sid)[-1].position
        run("graph", saver, "ada", ["two"])
    with EventSourcedSessionStore(made_target, erasable=None) as store:
        then = store.replay(sid, as_of=middle)
        now = store.get(sid)
    said = [i.text for i in then.items if not i.role.startswith("langgraph.")]
    assert said == ["one", "reply to one"]
    assert [i.text for i in now.items if not i.role.startswith("langgraph.")] == [
        "one", "reply to one", "two", "reply to two"]
