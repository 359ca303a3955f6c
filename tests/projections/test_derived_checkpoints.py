"""Inline checkpoints are derived from the log: a store's write does not
touch `projection_checkpoints`; appends made without a store mark themselves
pending and the views still take them up; a projection one writer lacks
misses no event."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from eventlog import MessageAdded, SessionCreated, SessionRole
from eventlog.backends import schema as logschema
from projections import NewItem, SessionMessage


def msg(text: str) -> SessionMessage:
    return SessionMessage(SessionRole.USER, text, datetime.now(UTC))


def created(sid: uuid.UUID, title: str = "plain") -> SessionCreated:
    return SessionCreated(sid, title, datetime.now(UTC))


def pending(open_log) -> int | None:
    with open_log() as log, log.snapshot() as conn:
        if log.backend.name == "postgres":  # the same table; pending_from reads sqlite_master
            row = conn.execute(f"SELECT from_position FROM {logschema.PENDING}").fetchone()
            return None if row is None else row[0]
        return logschema.pending_from(conn)


class InlineCounter:
    """Counts events by type, applied in each write's own transaction."""

    name, tables, inline = "inline_counter", ("inline_counts",), True

    def create(self, conn, names):
        conn.execute(f'CREATE TABLE "{names["inline_counts"]}" (type TEXT PRIMARY KEY, n INTEGER)')

    def apply(self, conn, events, names):
        table = names["inline_counts"]  # SQL both backends read
        conn.executemany(f'INSERT INTO "{table}" VALUES (?, 1) '
                         f'ON CONFLICT (type) DO UPDATE SET n = "{table}".n + 1',
                         [(e.type,) for e in events])


def counts(store) -> dict[str, int]:
    with store.log.snapshot() as conn:
        return dict(conn.execute("SELECT type, n FROM inline_counts"))


def logged_counts(store) -> dict[str, int]:
    with store.log.snapshot() as conn:
        return dict(conn.execute("SELECT type, count(*) FROM events GROUP BY type"))


@pytest.mark.sqlite_only("counts the writes with a SQLite TEMP TRIGGER on the store's connection")
def test_store_writes_do_not_write_the_checkpoint_table(tmp_path):
    """No INSERT, UPDATE or DELETE reaches projection_checkpoints from a
    store's writes once it is in step (a temp trigger on its write
    connection counts them)."""
    from projections import EventSourcedSessionStore
    with EventSourcedSessionStore(tmp_path / "s.db") as store:
        first = store.create("warm")
        conn = store.log.connection
        conn.execute("CREATE TEMP TABLE touched (what TEXT)")
        for op in ("INSERT", "UPDATE", "DELETE"):
            conn.execute(f"CREATE TEMP TRIGGER touched_{op} AFTER {op} ON main.projection_checkpoints "
                         f"BEGIN INSERT INTO touched VALUES ('{op}'); END")
        s = store.create("x")
        store.add_message(s.id, msg("one"))
        store.add_messages(s.id, [msg("two"), msg("three")])
        store.add_items(s.id, [NewItem("tool", {"k": 1})], state_delta={"a": 1})
        store.pop_items(s.id)
        store.delete(first.id)
        assert conn.execute("SELECT what FROM touched").fetchall() == []
        marks = store.runner.checkpoints()
        assert marks["sessions"] == marks["tenants"] == store.log.last_position()
        assert [m.content for m in store.get(s.id).messages] == ["one", "two", "three"]
        assert store.verify().ok


def test_plain_appends_are_marked_pending_and_the_next_store_write_takes_them_up(
        target, open_store, open_log):
    with open_store() as store:
        store.create("in step")
        sid, other = uuid.uuid4(), uuid.uuid4()
        with open_log() as log:  # another connection, no projections
            (one,) = log.append(str(sid), [created(sid)])
            log.append_many([(str(other), [created(other, "many")], 0)])
        assert pending(open_log) == one.position
        store.add_message(sid, msg("after"))  # the view knows the session
        assert pending(open_log) is None
        assert store.get(sid).messages[0].content == "after"
        assert store.get(other).title == "many"
        assert store.verify().ok


def test_a_store_opened_after_plain_appends_sees_them(target, open_store, open_log):
    with open_store() as store:
        store.create("first")
    sid = uuid.uuid4()
    with open_log() as log:
        log.append(str(sid), [created(sid), MessageAdded(sid, "user", "hi", datetime.now(UTC))])
    with open_store() as store:
        assert [m.content for m in store.get(sid).messages] == ["hi"]
        assert store.stats()["checkpoints"]["sessions"]["behind"] == 0
        assert store.verify().ok


def test_rebuild_over_pending_appends_applies_nothing_twice(open_store):
    with open_store(projections=[InlineCounter()]) as store:
        s = store.create("r")
        sid = uuid.uuid4()
        store.log.append(str(sid), [created(sid)])  # pending
        store.rebuild(["inline_counter"])
        store.add_message(s.id, msg("x"))
        assert counts(store) == logged_counts(store)
        assert store.verify().ok


def test_an_inline_projection_misses_nothing_a_store_without_it_writes(target, open_store):
    """Stores (and a plain log) without the projection write in turn with
    one that has it: it still counts every event once."""
    with open_store(projections=[InlineCounter()]) as a, open_store() as b:
        s = a.create("shared")
        for i in range(3):
            b.add_message(s.id, msg(f"b{i}"))
            a.add_message(s.id, msg(f"a{i}"))
            a.add_message(s.id, msg(f"a{i}'"))
        sid = uuid.uuid4()
        a.log.append(str(sid), [created(sid)])
        b.create("b alone")
        a.add_message(sid, msg("a on the plain one"))
        assert counts(a) == logged_counts(a)
        assert len(a.get(s.id).messages) == 9
        assert a.verify().ok and b.verify().ok


def test_a_write_from_another_process_without_the_projection_is_taken_up(target, open_store):
    with open_store(projections=[InlineCounter()]) as a:
        s = a.create("shared")
        a.add_message(s.id, msg("a"))
        code = (
            "import sys; from datetime import UTC, datetime\n"
            "from projections import EventSourcedSessionStore, SessionMessage\n"
            "with EventSourcedSessionStore(sys.argv[1], erasable=sys.argv[3] == 'y') as b:\n"
            "    for i in range(3):\n"
            "        b.add_message(sys.argv[2], SessionMessage('user', str(i), datetime.now(UTC)))\n"
        )
        subprocess.run([sys.executable, "-c", code, target, str(s.id), "yn"[not target.erasable]],
                       check=True,
                       timeout=60)
        a.add_message(s.id, msg("a again"))
        assert counts(a) == logged_counts(a) == {"SessionCreated": 1, "MessageAdded": 5}
        assert a.verify().ok
