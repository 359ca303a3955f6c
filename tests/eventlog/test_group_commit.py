"""Group commit (synchronous="full", several threads on one store): queued
writes share one transaction; each call returns after its own commit, and a
failing one fails alone."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from projections import EventSourcedSessionStore, SessionMessage, SessionNotFoundError, SessionRole


def msg(text: str) -> SessionMessage:
    return SessionMessage(SessionRole.USER, text, datetime.now(UTC))


def wait_until(predicate) -> None:
    """Wait (on a condition, not a duration) for the other threads."""
    event = threading.Event()
    for _ in range(100_000):
        if predicate():
            return
        event.wait(0.001)
    raise AssertionError("the threads never queued")


@pytest.mark.sqlite_only("group commit is SQLite's (PostgreSQL's backend has group_commit = False); "
                        "commits counted with sqlite3's trace callback")
def test_queued_writes_commit_together_and_a_bad_one_fails_alone(tmp_path):
    with EventSourcedSessionStore(tmp_path / "g.db", synchronous="full") as store:
        assert store.log.group_commit
        sessions = [store.create(str(i)).id for i in range(6)]
        missing = uuid.uuid4()
        targets = [*sessions[:3], missing, *sessions[3:]]
        outcome: dict[int, object] = {}
        commits = []
        store.log.backend.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)

        def write(i, sid):
            try:
                store.add_message(sid, msg(f"m{i}"))
                outcome[i] = "ok"
            except Exception as e:
                outcome[i] = e

        with store.log.transaction():  # hold the writer: the calls queue behind it
            threads = [threading.Thread(target=write, args=(i, sid)) for i, sid in enumerate(targets)]
            for t in threads:
                t.start()
            wait_until(lambda: store.log._group.waiting == len(targets))
        for t in threads:
            t.join()
        store.log.backend.conn.set_trace_callback(None)
        assert isinstance(outcome.pop(3), SessionNotFoundError)
        assert set(outcome.values()) == {"ok"}
        assert len(commits) == 2  # the holder's, then one for all the queued calls
        for i, sid in enumerate(targets):
            if sid != missing:
                assert [m.content for m in store.get(sid).messages] == [f"m{i}"]
        assert store.verify().ok


def test_many_threads_at_full_all_land(open_store):
    with open_store(synchronous="full") as store:
        sessions = [store.create(str(i)).id for i in range(8)]

        def work(sid):
            for j in range(25):
                store.add_message(sid, msg(str(j)))
        threads = [threading.Thread(target=work, args=(sid,)) for sid in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for sid in sessions:
            assert [m.content for m in store.get(sid).messages] == [str(j) for j in range(25)]
        assert store.verify().ok


def test_a_write_inside_an_open_transaction_joins_it(open_store):
    with open_store(synchronous="full") as store:
        s = store.create("t")
        with pytest.raises(RuntimeError), store.log.transaction():
            store.add_message(s.id, msg("inside"))
            raise RuntimeError("abort")
        assert store.get(s.id).messages == []
