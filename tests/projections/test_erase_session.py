"""Erasing one session of a user (issue 19, item 4): each session has a data
key of its own, wrapped by its user's key. `erase(id)` destroys that one key;
the user's other sessions and state stay readable; erasing the user later
still destroys everything at once. A file of before per-session keys keeps
working: its old sessions go with their user only, its new ones get keys of
their own."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import leaks, run_read_only, store_on

from projections import (
    ErasureError,
    EventSourcedSessionStore,
    MasterKeyError,
    SessionMessage,
    SessionRole,
)
from projections.erasure.sealer import ERASED
from projections.erasure.search_terms import TermHasher

#: Raw bytes of a SQLite file, and a fixture file of an earlier release (the
#: other tests run on every erasable backend: `erasable_target`, issue 19 item 5).
SQLITE_ONLY = pytest.mark.sqlite_only("raw bytes of a SQLite file, and a fixture file of an "
                                      "earlier release")

FIXTURES = Path(__file__).parent.parent / "fixtures"
#: What the erased session says (and must go), what the kept one says.
GONE = ("gribbleflux", "snorkelwump", "quintessarine")
KEPT = ("marmalade", "ophelia", "brackwater")


def say(store, sid, text):
    store.add_message(sid, SessionMessage(SessionRole.USER, text, datetime.now(UTC)))


def two_sessions(store, user="u1", tenant="t1"):
    """Two sessions of one user (one to erase, one to keep), and the user's state."""
    gone = store.create_session(f"about {GONE[0]}", user_id=user, tenant_id=tenant)
    kept = store.create_session(f"about {KEPT[0]}", user_id=user, tenant_id=tenant)
    for i in range(3):
        say(store, gone.id, f"{' '.join(GONE)} {i}")
        say(store, kept.id, f"{' '.join(KEPT)} {i}")
    store.add_items(gone.id, [], state_delta={"secret": GONE[1]},
                    user_state_delta={"plan": "gold"})
    return gone, kept


def needles(store, words) -> list[str]:
    """The words and their hashes as the search index keeps them (the last
    12 characters: FTS5 may store a term's start shared with the one before)."""
    hasher = TermHasher(store.log.sealer.search_key(store.log.connection))
    return [*words, *(hasher.word(w)[4:] for w in words),
            *(hasher.group(w)[-1][4:] for w in words)]


def test_one_session_of_a_user_is_erased_and_the_rest_stays(erasable_target):
    """The erased session reads as erased everywhere (get, list, search,
    history, replay); the user's other session and state are untouched."""
    with store_on(erasable_target) as store:
        gone, kept = two_sessions(store)
        other = store.create_session("another user", user_id="u2", tenant_id="t1")
        say(store, other.id, "gribbleflux too")
        before = store.get(kept.id)
        positions = [(e.position, e.hash) for e in store.history(gone.id)]
        done = store.erase(gone.id, reason="asked in chat", requested_by="dpo")
        assert not done.already and done.sessions == 1
        assert store.get(gone.id) is None
        assert store.get(kept.id) == before
        assert store.get_state("t1", "u1") == {"plan": "gold"}
        assert [s.id for s in store.list_summaries(user_id="u1", tenant_id="t1")] == [kept.id]
        assert {h.session_id for h in store.search(GONE[0])} == {str(other.id)}
        assert store.search(KEPT[0])
        history = store.history(gone.id)
        assert [(e.position, e.hash) for e in history[:len(positions)]] == positions
        assert history[0].data["title"] == ERASED
        assert {e.data["content"] for e in history if e.type == "MessageAdded"} == {ERASED}
        assert history[-1].type == "SessionDeleted"
        assert store.replay(gone.id, positions[-1][0]).title == ERASED
        erased = [e for e in store.log.read_all() if e.type == "SubjectErased"]
        assert [(e.data["scope"], e.data["sessions"], e.data["reason"]) for e in erased] == [
            ("session", 1, "asked in chat")]
        assert store.verify().ok, store.verify().summary()


def test_a_second_erase_of_the_session_is_a_no_op(erasable_target):
    with store_on(erasable_target) as store:
        gone, _ = two_sessions(store)
        first = store.erase(gone.id)
        last = store.log.last_position()
        again = store.erase(gone.id)
        assert again.already and again.found
        assert again.detail == f"already erased at position {first.position}: nothing to do"
        assert store.log.last_position() == last


def test_erasing_the_user_afterwards_destroys_everything(erasable_target):
    """After one session was erased, erasing the user erases the rest, and no
    key of the user (theirs, or a session's under it) is left in the file;
    erasing either session again says when it went."""
    with store_on(erasable_target) as store:
        gone, kept = two_sessions(store)
        keep = store.create_session("u2's", user_id="u2", tenant_id="t1")
        store.erase(gone.id)
        done = store.erase_user("u1", "t1")
        assert (done.sessions, done.already) == (1, False)
        assert store.get(kept.id) is None and store.get_state("t1", "u1") == {}
        assert {e.data["content"] for e in store.history(kept.id)
                if e.type == "MessageAdded"} == {ERASED}
        assert store.search(KEPT[0]) == [] and store.search(GONE[0]) == []
        again = store.erase(kept.id)
        assert again.already and f"at position {done.position}" in again.detail
        assert store.erase_user("u1", "t1").position == done.position
        assert store.get(keep.id) is not None
        assert store.verify().ok
        subjects = [r[0] for r in store.log.connection.execute(
            "SELECT subject FROM erasure_keys")]
    assert sorted(subjects) == sorted(['["user", "t1", "u2"]', f'["session", "{keep.id}"]'])


def test_a_sessions_key_is_wrapped_by_its_users_key(erasable_target):
    """A user's session key is not wrapped by the master key: the user's key
    is needed to open it (so destroying the user's key destroys it too)."""
    with store_on(erasable_target) as store:
        gone, _ = two_sessions(store)
        lone = store.create_session("no user")
        conn = store.log.connection
        rows = dict(conn.execute("SELECT subject, parent FROM erasure_keys").fetchall())
        user_key = conn.execute("SELECT key_id FROM erasure_keys WHERE subject = ?",
                                ('["user", "t1", "u1"]',)).fetchone()[0]
        assert rows[f'["session", "{gone.id}"]'] == user_key
        assert rows[f'["session", "{lone.id}"]'] is None
        wrapped = conn.execute("SELECT wrapped FROM erasure_keys WHERE subject = ?",
                               (f'["session", "{gone.id}"]',)).fetchone()[0]
        with pytest.raises(MasterKeyError):  # not wrapped by the master key
            store.log.sealer.master.unwrap(wrapped)


@SQLITE_ONLY
@pytest.mark.parametrize("searched", [False, True], ids=["search-lazy", "search-caught-up"])
def test_the_erased_sessions_words_are_nowhere_in_the_files(tmp_path, searched):
    """No word of the erased session, nor its hash in the search index, is
    left in the db, -wal or -shm; the kept session's still are."""
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        gone, _ = two_sessions(store)
        if searched:
            assert store.search(GONE[0]) and store.search(KEPT[0])
        erased_words, kept_words = needles(store, GONE), needles(store, KEPT)
        if searched:
            assert leaks(db, erased_words[3:]), "the index holds the hashes before"
        store.erase(gone.id)
        assert leaks(db, erased_words) == []
        assert leaks(db, kept_words[3:]), "and the kept session's after"
    assert leaks(db, erased_words) == []


def old_file(tmp_path: Path, name: str = "old.db") -> Path:
    """A copy of an erasable file of an earlier release (per-user keys)."""
    db = tmp_path / name
    shutil.copy(FIXTURES / "erasable_clear_terms.db", db)
    shutil.copy(FIXTURES / "erasable_clear_terms.db.key", f"{db}.key")
    return db


@SQLITE_ONLY
def test_a_file_of_before_per_session_keys_keeps_working(tmp_path):
    """Its sessions read as before; erasing one of them alone is refused in
    one line (it shares its user's key); a new session of the same user gets
    a key of its own and can be erased alone; erasing the user takes all."""
    db = old_file(tmp_path)
    with EventSourcedSessionStore(db, erasable=True) as store:
        old = store.list_summaries(user_id="u1", tenant_id="t1")
        assert len(old) == 1
        before = store.get(old[0].id)
        last = store.log.last_position()
        with pytest.raises(ErasureError, match="erase --user u1 --tenant t1") as e:
            store.erase(old[0].id)
        assert "\n" not in str(e.value) and "nothing was written" in str(e.value)
        assert store.log.last_position() == last
        new = store.create_session("new one", user_id="u1", tenant_id="t1")
        say(store, new.id, "fresh words here")
        newer = store.create_session("newer one", user_id="u1", tenant_id="t1")
        say(store, newer.id, "fresher words")
        assert store.erase(new.id).sessions == 1
        assert store.get(old[0].id) == before and store.get(newer.id) is not None
        done = store.erase_user("u1", "t1")
        assert done.sessions == 2
        assert store.get(old[0].id) is None and store.get(newer.id) is None
        assert store.erase_user("u1", "t1").already
        assert store.verify().ok


READ = """
import json, sys
from projections import EventSourcedSessionStore
with EventSourcedSessionStore(sys.argv[1], erasable=True) as store:
    print(json.dumps({"ok": store.verify().ok,
                      "sessions": {str(s.id): [m.content for m in store.get(s.id).messages]
                                   for s in store.list()}}))
"""


@SQLITE_ONLY
def test_a_read_only_file_of_before_per_session_keys_reads(tmp_path):
    """Opened read-only (no `parent` column can be added), it reads and verifies."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db = old_file(folder, "ro.db")
    with EventSourcedSessionStore(db, erasable=True) as store:
        expected = {str(s.id): [m.content for m in store.get(s.id).messages]
                    for s in store.list()}
    with sqlite3.connect(db) as conn:  # back as the earlier release wrote it
        conn.execute("ALTER TABLE erasure_keys DROP COLUMN parent")
    assert len(expected) == 2 and all(expected.values())
    assert run_read_only(folder, READ, db) == {"ok": True, "sessions": expected}
