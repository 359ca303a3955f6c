"""`EventSourcedCheckpointSaver` from several processes at once (issue 21):
three processes on three threads of one database, and two writers on one
thread. LangGraph's own savers (SqliteSaver, PostgresSaver) take no lock
for a thread: each writer's checkpoints are all stored and each reads back
exactly, the latest being the newest checkpoint id; so here, with no
checkpoint, write or message lost or doubled. On a SQLite file, PostgreSQL
and an erasable file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from projections import EventSourcedSessionStore
from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver

APP = Path(__file__).parent / "langgraph_app.py"


def start(db: str, thread: str, texts: list[str], go: Path) -> subprocess.Popen:
    """A process that runs the turns once `go` exists (so that all write at once)."""
    return subprocess.Popen([sys.executable, str(APP), "graph", str(db), thread, *texts],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "LANGGRAPH_APP_GO": str(go)})


def together(*processes: subprocess.Popen, go: Path) -> list[str]:
    go.touch()
    return [finish(p) for p in processes]


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


def messages(tup) -> list[tuple[str, str]]:
    return [(m.type, m.content) for m in tup.checkpoint["channel_values"].get("messages", [])]


def test_three_processes_on_three_threads(made_target, tmp_path):
    texts = {f"thread-{i}": [f"t{i}-{n}" for n in range(8)] for i in range(3)}
    go = tmp_path / "go"
    together(*[start(made_target, thread, t, go) for thread, t in texts.items()], go=go)
    with EventSourcedCheckpointSaver(made_target) as saver:
        for thread, t in texts.items():
            latest = saver.get_tuple({"configurable": {"thread_id": thread}})
            assert latest is not None
            assert messages(latest) == [pair for x in t
                                        for pair in (("human", x), ("ai", f"reply to {x}"))]
            assert len(list(saver.list({"configurable": {"thread_id": thread}}))) == 3 * len(t)
    with EventSourcedSessionStore(made_target, erasable=None) as store:
        assert store.verify().ok


def test_two_writers_on_one_thread(made_target, tmp_path):
    a, b = [f"a{n}" for n in range(30)], [f"b{n}" for n in range(30)]
    go = tmp_path / "go"
    outs = together(start(made_target, "shared", a, go), start(made_target, "shared", b, go),
                    go=go)
    assert all(out.strip() for out in outs)
    config = {"configurable": {"thread_id": "shared"}}
    with EventSourcedCheckpointSaver(made_target) as saver:
        tuples = list(saver.list(config))
        # Every checkpoint of both writers is stored (three a turn)...
        assert len(tuples) == 3 * (len(a) + len(b))
        by_id = {t.checkpoint["id"]: t for t in tuples}
        # ...and reads back whole: a checkpoint's messages extend its parent's.
        for t in tuples:
            if t.parent_config is not None:
                parent = by_id[t.parent_config["configurable"]["checkpoint_id"]]
                assert messages(t)[:len(messages(parent))] == messages(parent)
        said = {content for t in tuples for _, content in messages(t)}
        assert {*a, *b, *(f"reply to {x}" for x in a + b)} <= said
        # The latest is the newest checkpoint id, as on LangGraph's savers.
        latest = saver.get_tuple(config)
        assert latest is not None and latest.checkpoint["id"] == max(by_id)
        # Each message is one item, however the writers interleaved.
        session = saver.store.get_by_key("shared")
        texts = [i.text for i in session.items if not i.role.startswith("langgraph.")]
        assert sorted(texts) == sorted([*a, *b, *(f"reply to {x}" for x in a + b)])
    with EventSourcedSessionStore(made_target, erasable=None) as store:
        assert store.verify().ok
