"""The erasure contract on every erasable backend (issue 19, item 5): an
erasable SQLite file and an erasable PostgreSQL schema (its keys, marker and
key map in tables beside the log; its master key from `master_key=` or
$SESSIONLOG_MASTER_KEY, never a file) behave the same: sealed log and views,
hashed search terms, one session or a user erased, a second erase a no-op,
plain and wrong-key opens refused in one line."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import pg_master_key, store_on

from eventlog import SealedFileError
from projections import (
    EventSourcedSessionStore,
    MasterKeyError,
    NewItem,
    SessionMessage,
    SessionRole,
)
from projections.erasure.masterkey import StaticKey
from projections.erasure.sealer import ERASED

# The card's digits are one 16-digit word: a 4-digit one ("4111") turns up in random hex (ids,
# hashes) about once in 65,536 places, so a check for it in clear failed now and then.
CARD, NAME, PHRASE = "4111222233334444", "Zebulon Quagmire", "the owl flies at midnight"
#: Words that must never be in the database in clear (the search index included).
WORDS = ("zebulon", "quagmire", "midnight", "4111222233334444")


def say(store, sid, text):
    store.add_message(sid, SessionMessage(SessionRole.USER, text, datetime.now(UTC)))


def confide(store, user="u1", tenant="t1", title=NAME):
    s = store.create_session(f"Chat with {title}", user_id=user, tenant_id=tenant)
    say(store, s.id, f"my card is {CARD}")
    say(store, s.id, f"{NAME} says: {PHRASE}")
    store.add_items(s.id, [NewItem("tool", {"holder": NAME}, text=PHRASE)],
                    state_delta={"who": NAME}, user_state_delta={"card": CARD})
    return s


def stored_text(where) -> str:
    """Everything the database holds, as text: a SQLite file's bytes (db,
    -wal, -shm), or every row of every table of the PostgreSQL schema."""
    if not where.postgres:
        return b"".join(Path(str(where) + ext).read_bytes()
                        for ext in ("", "-wal", "-shm")
                        if Path(str(where) + ext).exists()).decode("latin-1").lower()
    import psycopg

    with psycopg.connect(where) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        return "\n".join(str(conn.execute(f'SELECT t::text FROM "{t}" t').fetchall())
                         for t in tables).lower()


def test_no_word_is_stored_in_clear_and_search_works(erasable_target):
    with store_on(erasable_target) as store:
        s = confide(store)
        assert [h.session_id for h in store.search("quagmire")] == [str(s.id)]
        assert store.search("midn") and store.search('"owl flies"', syntax="fts5")
        assert store.get(s.id).title == f"Chat with {NAME}"
        assert store.get_state("t1", "u1") == {"card": CARD}
        if not erasable_target.postgres:
            store.log.vacuum()  # the WAL folded in: what is in the file is what is read
        text = stored_text(erasable_target)
    assert "sealed:" in text
    assert [w for w in WORDS if w in text] == []


def test_one_session_then_the_user(erasable_target):
    """`erase(id)` of one of a user's sessions, then `erase_user`, on each backend."""
    with store_on(erasable_target) as store:
        gone = confide(store)
        kept = confide(store, title="Ophelia")
        other = confide(store, user="u2")
        before = store.get(kept.id)
        done = store.erase(gone.id, reason="one chat")
        assert (done.sessions, done.already) == (1, False)
        assert store.get(gone.id) is None and store.get(kept.id) == before
        assert store.get_state("t1", "u1") == {"card": CARD}
        history = store.history(gone.id)
        assert history[0].data["title"] == ERASED and history[-1].type == "SessionDeleted"
        assert {e.data["content"] for e in history if e.type == "MessageAdded"} == {ERASED}
        again = store.erase(gone.id)
        assert again.already and again.detail == (
            f"already erased at position {done.position}: nothing to do")
        user = store.erase_user("u1", "t1", reason="forget me")
        assert (user.sessions, user.already) == (1, False)
        assert store.get(kept.id) is None and store.get_state("t1", "u1") == {}
        assert store.erase_user("u1", "t1").already
        assert [h.session_id for h in store.search("quagmire")] == [str(other.id)]
        assert store.get(other.id).messages[0].content == f"my card is {CARD}"
        assert store.stats()["erasable"]["subjects_erased"] == 2
        report = store.verify()
        assert report.ok, report.summary()


def test_the_choice_is_recorded_beside_the_log(erasable_target):
    """A plain open is refused in one line; `erasable=None` opens it as it is."""
    with store_on(erasable_target) as store:
        s = confide(store)
    with pytest.raises(SealedFileError, match="erasable=True") as e:
        EventSourcedSessionStore(erasable_target)
    assert "\n" not in str(e.value)
    key = {"master_key": pg_master_key()} if erasable_target.postgres else {}
    with EventSourcedSessionStore(erasable_target, erasable=None, **key) as store:
        assert store.get(s.id).messages[0].content == f"my card is {CARD}"


def test_a_wrong_master_key_is_refused_in_one_line(erasable_target):
    with store_on(erasable_target) as store:
        confide(store)
        last = store.log.last_position()
    with pytest.raises(MasterKeyError, match="wrong master key") as e:
        EventSourcedSessionStore(erasable_target, erasable=True,
                                 master_key=StaticKey(os.urandom(32)))
    assert "\n" not in str(e.value)
    with store_on(erasable_target) as store:
        assert store.log.last_position() == last


def test_a_plain_log_is_not_opened_as_erasable(erasable_target):
    with EventSourcedSessionStore(erasable_target) as store:
        store.create_session("plain")
    with pytest.raises(SealedFileError, match="copy NEW --erasable"):
        store_on(erasable_target)


def test_the_postgres_purge_rewrites_the_key_table(pg_url):
    """After an erase on PostgreSQL, the destroyed key's bytes are in no file
    of the key table (VACUUM (FULL) rewrote it); before, they were."""
    import psycopg

    with EventSourcedSessionStore(pg_url, erasable=True, master_key=pg_master_key()) as store:
        s = confide(store)
        confide(store, user="u2")
        with psycopg.connect(pg_url, autocommit=True) as conn:
            wrapped = [bytes(w) for subject, w in conn.execute(
                "SELECT subject, wrapped FROM erasure_keys")
                if subject in ('["user", "t1", "u1"]', f'["session", "{s.id}"]')]
        assert len(wrapped) == 2  # the user's key and the session's

        def key_files() -> bytes:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")  # the table's pages written to its files
                (base, rel) = conn.execute(
                    "SELECT current_setting('data_directory'), "
                    "pg_relation_filepath('erasure_keys')").fetchone()
            path = os.path.join(base, rel)
            if not os.path.exists(path):
                if os.environ.get("CI") == "true":
                    pytest.fail(f"the server's files are not readable here ({path})")
                pytest.skip("the test server's files are not on this machine")
            return b"".join(Path(p).read_bytes() for p in sorted(
                Path(path).parent.glob(Path(path).name + "*")))

        assert all(w in key_files() for w in wrapped)
        store.erase_user("u1", "t1")
        data = key_files()
        assert [w for w in wrapped if w in data] == []


def test_raw_sqlite_bytes_hold_no_key_of_an_erased_session(tmp_path):
    """The same on SQLite: secure_delete zeroes the key row of one erased session."""
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        s = confide(store)
        confide(store, title="kept")
        with sqlite3.connect(db) as conn:
            (wrapped,) = conn.execute("SELECT wrapped FROM erasure_keys WHERE subject = ?",
                                      (f'["session", "{s.id}"]',)).fetchone()
        store.log.vacuum()
        assert wrapped in Path(db).read_bytes()
        store.erase(s.id)
    data = b"".join(Path(str(db) + ext).read_bytes() for ext in ("", "-wal", "-shm")
                    if Path(str(db) + ext).exists())
    assert wrapped not in data


def test_no_password_in_erasure_errors(pg_url, monkeypatch):
    """Errors of erasure on a PostgreSQL URL with a password name it without one."""
    url = pg_url.replace("postgresql://postgres@", "postgresql://postgres:s3cr3t-pw@")
    with EventSourcedSessionStore(url) as store:
        store.create_session("plain", user_id="u1", tenant_id="t1")
        with pytest.raises(Exception) as e:
            store.erase_user("u1", "t1")
    assert "copy NEW --erasable" in str(e.value) and "s3cr3t-pw" not in str(e.value)
    with pytest.raises(SealedFileError) as e:
        EventSourcedSessionStore(url, erasable=True, master_key=pg_master_key())
    assert "plain log" in str(e.value) and "s3cr3t-pw" not in str(e.value)
    monkeypatch.delenv("SESSIONLOG_MASTER_KEY", raising=False)
    with pytest.raises(MasterKeyError) as e:
        EventSourcedSessionStore(url, erasable=True)
    assert "s3cr3t-pw" not in str(e.value)
