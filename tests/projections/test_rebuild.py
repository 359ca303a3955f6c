"""Projections are disposable: rebuild and catch-up give back exactly the
views the inline writes maintained."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eventlog import MessageAdded, SessionCreated, SessionRole
from projections import ProjectionError, SessionMessage

ROOT = Path(__file__).parent.parent.parent


def msg(text):
    return SessionMessage(SessionRole.USER, text, datetime.now(UTC))


def fill(store, sessions=6, messages=4):
    ids = []
    for i in range(sessions):
        s = store.create_with_user(f"s{i}", f"u{i}", "acme" if i % 2 else "globex")
        store.add_messages(s.id, [msg(f"hello {i} {j}") for j in range(messages)])
        ids.append(s.id)
    store.delete(ids[0])
    return ids


def dump(store):
    """Every row of every projection table, in a fixed order."""
    conn = store.log.connection
    sqlite = store.runner.dialect.name == "sqlite"
    out = {}
    for p in store.runner.projections.values():
        for t in p.tables:
            cols = "rowid, *" if t == "message_search" and sqlite else "*"
            out[t] = [tuple(r) for r in conn.execute(
                f'SELECT {cols} FROM "{t}" ORDER BY 1, 2').fetchall()]
    return out


def tables(store) -> set[str]:
    with store._snapshot() as db:
        return store.runner.dialect.tables(db)


@pytest.fixture
def store(open_store):
    """A filled store on each backend (on each `target` for a test that asks for one)."""
    with open_store() as s:
        fill(s)
        s.catch_up()
        yield s


def test_rebuild_after_wiping_every_derived_table_gives_the_same_views(store):
    before = dump(store)
    assert before["sessions"] and before["items"] and before["message_search"]
    for rows_table in before:
        if rows_table == "message_search" and store.log.sealer is not None \
                and store.log.backend.name == "sqlite":
            # erasable: a contentless FTS5 table refuses DELETE, empties by 'delete-all'
            store.log.connection.execute(f"INSERT INTO {rows_table}({rows_table}) VALUES ('delete-all')")
        else:
            store.log.connection.execute(f'DELETE FROM "{rows_table}"')
    assert store.list() == []
    folded = store.rebuild(batch_size=7)
    assert folded == store.log.last_position()
    assert dump(store) == before
    assert store.verify().ok


def test_dropped_projection_tables_come_back_when_the_store_opens(target, store, open_store):
    before = dump(store)
    for t in before:
        store.log.connection.execute(f'DROP TABLE "{t}"')
    store.log.connection.execute("DROP TABLE projection_checkpoints")
    store.close()
    with open_store() as again:
        again.catch_up()
        assert dump(again) == before


def test_writes_during_a_rebuild_are_in_the_swapped_views(store):
    session = store.create("busy")
    written = []

    def write_between_batches(n):
        store.add_message(session.id, msg(f"during {len(written)}"))
        written.append(n)

    store.rebuild(batch_size=5, progress=write_between_batches)
    assert len(written) > 2
    assert [m.content for m in store.get(session.id).messages] == [
        f"during {i}" for i in range(len(written))]
    assert store.verify().ok


def test_an_interrupted_rebuild_leaves_the_views_and_no_leftovers(store):
    before = dump(store)

    def crash(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.rebuild(batch_size=3, progress=crash)
    assert dump(store) == before
    assert [t for t in tables(store) if "rebuild" in t] == []


def test_a_crashed_rebuilds_tables_are_dropped_by_the_next(store):
    store.log.connection.execute("CREATE TABLE sessions__rebuild_dead (x TEXT)")
    store.rebuild(["sessions"])
    assert "sessions__rebuild_dead" not in tables(store)


def test_rebuild_of_an_unknown_projection_is_refused(store):
    with pytest.raises(ProjectionError, match="unknown projection 'nope'"):
        store.rebuild(["nope"])


def test_catch_up_applies_events_appended_directly(target, open_store, open_log):
    with open_store() as store:
        store.create("via store")
    sid = uuid.uuid4()
    now = datetime.now(UTC)
    with open_log() as log:
        log.append(str(sid), [SessionCreated(sid, "direct", now),
                              MessageAdded(sid, SessionRole.USER, "needle in the log", now)])
    with open_store() as store:
        assert store.runner.checkpoints()["search"] == 3  # caught up on open
        assert [h.session_id for h in store.search("needle")] == [str(sid)]
        assert store.catch_up() == {"sessions": 0, "tenants": 0, "search": 0}


class Counter:
    name, tables, inline = "counter", ("event_counts",), False

    def create(self, db, names):
        db.execute(f"CREATE TABLE {db.q(names['event_counts'])} (type TEXT PRIMARY KEY, n INTEGER)")

    def apply(self, db, events, names):
        t = db.q(names["event_counts"])
        db.executemany(f"INSERT INTO {t} VALUES (?, 1) "
                       f"ON CONFLICT (type) DO UPDATE SET n = {t}.n + 1", [(e.type,) for e in events])


def test_a_users_projection_is_caught_up_rebuilt_and_verified(target, open_store):
    with open_store() as store:
        fill(store, sessions=3, messages=2)
    with open_store(projections=[Counter()]) as store:
        counts = dict(store.log.connection.execute("SELECT * FROM event_counts"))
        assert counts == {"SessionCreated": 3, "MessageAdded": 6, "SessionDeleted": 1}
        store.rebuild(["counter"])
        assert dict(store.log.connection.execute("SELECT * FROM event_counts")) == counts
        assert store.verify().ok
        store.log.connection.execute("UPDATE event_counts SET n = 99")
        report = store.verify()
        assert not report.ok and "projection counter" in report.summary()


@pytest.mark.backends("sqlite-file", "postgres")  # the example opens plain stores only
def test_the_example_rebuild_script_runs(target, open_store):
    path = target
    with open_store() as store:
        fill(store, sessions=2, messages=3)
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "rebuild_projections.py"),
                          str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert f"{day}  user       6" in out.stdout


class InlineCounter(Counter):
    name, tables, inline = "inline_counter", ("inline_counts",), True

    def create(self, db, names):
        super().create(db, {"event_counts": names["inline_counts"]})

    def apply(self, db, events, names):
        super().apply(db, events, {"event_counts": names["inline_counts"]})


def test_a_new_inline_projection_is_filled_before_the_first_write_even_without_catch_up(
        target, open_store):
    with open_store() as store:
        s = store.create("before")
    with open_store(projections=[InlineCounter()], catch_up=False) as store:
        store.add_message(s.id, msg("after"))
        counts = dict(store.log.connection.execute("SELECT * FROM inline_counts"))
        assert counts == {"SessionCreated": 1, "MessageAdded": 1}
        assert store.verify().ok
