"""Erasure with the audit trail kept (issue #14): an erasable store seals
personal fields per data subject; erasing destroys the key, removes the
subject from every view and leaves no plain copy in the file."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import pg_master_key, store_on
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlog import SealedFileError
from projections import (
    ErasureError,
    EventSourcedSessionStore,
    MasterKeyError,
    NewItem,
    SessionMessage,
    SessionNotFoundError,
    SessionRole,
)
from projections.erasure.masterkey import EnvKey, KeyFile, StaticKey, new_secret
from projections.erasure.sealer import ERASED
from projections.transfer import export_sessions

#: Tests of a SQLite file's bytes, key file or in-memory store (the others run
#: on every erasable backend: `erasable_target`, issue 19 item 5).
SQLITE_ONLY = pytest.mark.sqlite_only("raw bytes, the key file or an in-memory store of SQLite")

CARD, NAME, PHRASE = "4111 1111 1111 1111", "Zebulon Quagmire", "the owl flies at midnight"
SECRETS = (CARD, NAME, PHRASE)
#: Words of the secrets as the search index stores them (one term each).
TERMS = ("zebulon", "quagmire", "midnight")


def say(store, sid, text):
    store.add_message(sid, SessionMessage(SessionRole.USER, text, datetime.now(UTC)))


def confide(store, user="u1", tenant="t1"):
    """A session full of secrets: title, messages, an item, session and user state."""
    s = store.create_session(f"Chat with {NAME}", user_id=user, tenant_id=tenant)
    say(store, s.id, f"my card is {CARD}")
    say(store, s.id, f"{NAME} says: {PHRASE}")
    store.add_items(s.id, [NewItem("tool", {"holder": NAME, "card": CARD}, text=PHRASE)],
                    state_delta={"who": NAME}, user_state_delta={"card": CARD})
    return s


def file_bytes(db: Path) -> dict[str, bytes]:
    """The raw bytes of the database, its -wal and -shm, its key file, and
    the rows of its key table."""
    found = {}
    for ext in ("", "-wal", "-shm", ".key"):
        p = Path(str(db) + ext)
        if p.exists():
            found[p.name] = p.read_bytes()
    with sqlite3.connect(db) as conn:
        found["erasure_keys"] = repr(conn.execute("SELECT * FROM erasure_keys").fetchall()).encode()
    return found


def hits(db: Path) -> list[tuple[str, str]]:
    return [(name, secret) for name, data in file_bytes(db).items()
            for secret in (*SECRETS, *TERMS) if secret.lower().encode() in data.lower()]


@SQLITE_ONLY
@pytest.mark.parametrize("searched", [False, True], ids=["search-lazy", "search-caught-up"])
def test_erased_secrets_are_nowhere_in_the_files(tmp_path, searched):
    """Before erasure the file holds no secret in clear, nor any word of the
    search index caught up (its terms are keyed hashes since issue 19); after
    it, none of db, -wal, -shm, key file or key table holds either."""
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        confide(store)
        keep = store.create_session("other", user_id="u2", tenant_id="t1")
        say(store, keep.id, "nothing secret")
        if searched:
            assert store.search("owl")
        assert hits(db) == []
        store.erase_user("u1", "t1", reason="GDPR art. 17 request #12", requested_by="dpo")
        assert hits(db) == []
        assert store.search("owl") == [] and store.search("Quagmire") == []
    assert hits(db) == []


def test_log_holds_only_ciphertext(erasable_target):
    """The events table never holds the personal fields in clear."""
    with store_on(erasable_target) as store:
        confide(store)
        rows = "".join(r[0] for r in store.log.connection.execute("SELECT data FROM events"))
    assert not any(secret in rows for secret in SECRETS)
    assert "sealed:" in rows


def test_erasing_a_user_leaves_others_readable(erasable_target):
    """Another user, and the same user id in another tenant, read and verify
    as before; the erased user's history keeps every event, text `[erased]`."""
    with store_on(erasable_target) as store:
        gone = confide(store, "u1", "tA")
        other = confide(store, "u2", "tA")
        twin = confide(store, "u1", "tB")
        before = {s.id: store.get(s.id) for s in (other, twin)}
        positions = [(e.position, e.hash) for e in store.history(gone.id)]
        result = store.erase_user("u1", "tA", reason="asked by mail")
        assert result.sessions == 1 and not result.already
        assert {s.id: store.get(s.id) for s in (other, twin)} == before
        assert store.get_state("tB", "u1") == {"card": CARD}
        assert store.get_state("tA", "u1") == {}
        assert store.get(gone.id) is None
        history = store.history(gone.id)
        assert [(e.position, e.hash) for e in history[:-1]] == positions
        assert history[0].data["title"] == ERASED
        assert [e.data["content"] for e in history if e.type == "MessageAdded"] == [ERASED] * 2
        assert history[-1].type == "SessionDeleted"
        assert store.replay(gone.id, positions[-1][0]).title == ERASED
        erased = [e for e in store.log.read_all() if e.type == "SubjectErased"]
        assert len(erased) == 1 and erased[0].data["reason"] == "asked by mail"
        assert not any(s in str(erased[0].data) for s in ("u1", "tA", *SECRETS))
        assert store.verify().ok, store.verify().summary()


def test_a_second_erase_is_a_no_op(erasable_target):
    with store_on(erasable_target) as store:
        confide(store)
        lone = store.create_session("no user")
        say(store, lone.id, PHRASE)
        store.erase_user("u1", "t1")
        store.erase(lone.id)
        last = store.log.last_position()
        again = store.erase_user("u1", "t1")
        assert again.already and "nothing to erase" in again.detail
        twice = store.erase(lone.id)
        assert twice.already and "already erased" in twice.detail
        assert store.log.last_position() == last


def test_erasing_an_unknown_session_is_not_found(erasable_target):
    with store_on(erasable_target) as store:
        s = confide(store)
        last = store.log.last_position()
        with pytest.raises(SessionNotFoundError):
            store.erase("00000000-0000-4000-8000-000000000000")
        assert store.log.last_position() == last and store.get(s.id) is not None


def test_erased_sessions_leave_export_and_search(erasable_target):
    with store_on(erasable_target) as store:
        lone = store.create_session(NAME)
        say(store, lone.id, PHRASE)
        kept = store.create_session("kept")
        say(store, kept.id, "the owl is fine")
        store.erase(lone.id)
        exported = "".join(export_sessions(store))
        assert NAME not in exported and str(kept.id) in exported
        assert [h.session_id for h in store.search("owl")] == [str(kept.id)]
        assert store.search("erased") == []


@pytest.mark.backends("sqlite-memory", "sqlite-file", "postgres")
def test_a_plain_file_refuses_erase_and_says_how_to_move(open_store):
    with open_store() as store:
        s = store.create_session("plain", user_id="u1", tenant_id="t1")
        last = store.log.last_position()
        with pytest.raises(ErasureError, match=r"copy NEW --erasable"):
            store.erase_user("u1", "t1")
        with pytest.raises(ErasureError, match=r"copy NEW --erasable"):
            store.erase(s.id)
        assert store.log.last_position() == last


@SQLITE_ONLY
def test_the_erasable_choice_is_recorded_in_the_file(tmp_path):
    plain, erasable = tmp_path / "plain.db", tmp_path / "e.db"
    with EventSourcedSessionStore(plain) as store:
        store.create_session("x")
    with EventSourcedSessionStore(erasable, erasable=True) as store:
        store.create_session("x")
    with pytest.raises(SealedFileError, match="erasable=True"):
        EventSourcedSessionStore(erasable)
    with pytest.raises(SealedFileError, match="copy NEW --erasable"):
        EventSourcedSessionStore(plain, erasable=True)


def digest(db: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in db.parent.iterdir() if p.name.startswith(db.name)}


@SQLITE_ONLY
def test_a_missing_or_wrong_master_key_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        confide(store)
    os.rename(str(db) + ".key", tmp_path / "elsewhere.key")
    before = digest(db)
    with pytest.raises(MasterKeyError, match="missing master key") as e:
        EventSourcedSessionStore(db, erasable=True)
    assert "\n" not in str(e.value)
    assert digest(db) == before
    with pytest.raises(MasterKeyError, match="wrong master key"):
        EventSourcedSessionStore(db, erasable=True, master_key=StaticKey(os.urandom(32)))
    monkeypatch.setenv("SESSIONLOG_MASTER_KEY", new_secret())
    with pytest.raises(MasterKeyError, match="wrong master key: environment variable"):
        EventSourcedSessionStore(db, erasable=True)
    monkeypatch.setenv("SESSIONLOG_MASTER_KEY", "not base64!")
    with pytest.raises(MasterKeyError, match="does not hold a master key"):
        EventSourcedSessionStore(db, erasable=True)
    assert digest(db) == before
    with EventSourcedSessionStore(db, erasable=True,
                                  master_key=KeyFile(tmp_path / "elsewhere.key")) as store:
        assert store.list()[0].title == f"Chat with {NAME}"


@SQLITE_ONLY
def test_the_key_file_is_private_and_named_in_stats(tmp_path):
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        stats = store.stats()
    assert stat.S_IMODE(os.stat(str(db) + ".key").st_mode) == 0o600
    assert stats["erasable"]["master_key"] == f"key file {db}.key"


@SQLITE_ONLY
def test_an_env_master_key_reads_without_a_key_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SESSIONLOG_MASTER_KEY", new_secret())
    db = tmp_path / "e.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        s = confide(store)
    assert not Path(str(db) + ".key").exists()
    with EventSourcedSessionStore(db, erasable=True, master_key=EnvKey()) as store:
        assert store.get(s.id).messages[0].content == f"my card is {CARD}"


def test_postgresql_without_a_master_key_is_one_line_and_writes_nothing(pg_url, monkeypatch):
    """No key file beside a database server: $SESSIONLOG_MASTER_KEY or
    master_key= (issue 19, item 5); without either, one line, no table made."""
    import psycopg

    monkeypatch.delenv("SESSIONLOG_MASTER_KEY", raising=False)
    with pytest.raises(MasterKeyError, match="missing master key") as e:
        EventSourcedSessionStore(pg_url, erasable=True)
    assert "\n" not in str(e.value) and "SESSIONLOG_MASTER_KEY" in str(e.value)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = "
                            "current_schema()").fetchone()[0] == 0


# -- erasable and plain stores read the same ------------------------------------

USERS = [("u1", "t1"), ("u2", "t1"), ("u1", "t2"), None]
ops = st.lists(st.one_of(
    st.tuples(st.just("create"), st.integers(0, 3), st.text(max_size=8)),
    st.tuples(st.just("say"), st.integers(0, 20), st.text(max_size=12)),
    st.tuples(st.just("item"), st.integers(0, 20), st.text(max_size=12)),
    st.tuples(st.just("delete"), st.integers(0, 20), st.just("")),
    st.tuples(st.just("erase_user"), st.integers(0, 2), st.just("")),
    st.tuples(st.just("erase"), st.integers(0, 20), st.just("")),
), max_size=25)


def shape(session):
    if session is None:
        return None
    return (session.title, session.user_id, session.tenant_id, session.version, session.state,
            [(i.role, i.data, i.text) for i in session.items])


@SQLITE_ONLY
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_erasable_and_plain_stores_read_the_same(script):
    """Random writes and erasures on both; every session not erased reads
    the same from both (erasure on the plain store: its sessions deleted)."""
    same_reads(script, EventSourcedSessionStore(), EventSourcedSessionStore(erasable=True))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(script=ops)
def test_erasable_postgres_and_plain_stores_read_the_same(pg_cluster, script):
    """The same on PostgreSQL (issue 19, item 5): a plain and an erasable
    schema, new for each example."""
    same_reads(script, EventSourcedSessionStore(pg_cluster.new_schema()),
               EventSourcedSessionStore(pg_cluster.new_schema(), erasable=True,
                                        master_key=pg_master_key()))


def same_reads(script, plain, sealed) -> None:
    """Run `script` on a plain and an erasable store, then compare; closes both."""
    sessions: list[tuple] = []  # (plain id, sealed id, owner)
    erased: set[int] = set()
    try:
        for op, n, text in script:
            if op == "create":
                owner = USERS[n]
                kw = {} if owner is None else {"user_id": owner[0], "tenant_id": owner[1]}
                sessions.append((plain.create_session(text, **kw).id,
                                 sealed.create_session(text, **kw).id, owner))
                continue
            if op == "erase_user":
                who = USERS[n]
                sealed.erase_user(*who)
                for i, (p, _, owner) in enumerate(sessions):
                    if owner == who:
                        plain.delete(p)
                        erased.add(i)
                continue
            if not sessions:
                continue
            i = n % len(sessions)
            p, s, owner = sessions[i]
            if op == "erase":
                if i in erased:
                    assert sealed.erase(s).already
                else:  # one session, of a user or not (issue 19, item 4)
                    sealed.erase(s)
                    plain.delete(p)
                    erased.add(i)
                continue
            if plain.get(p) is None:
                continue
            if op == "say":
                say(plain, p, text)
                say(sealed, s, text)
            elif op == "item":
                for store, sid in ((plain, p), (sealed, s)):
                    store.add_items(sid, [NewItem("tool", {"t": text}, text=text or None)],
                                    state_delta={"k": text})
            else:
                plain.delete(p)
                sealed.delete(s)
        for i, (p, s, _) in enumerate(sessions):
            if i not in erased:
                assert shape(plain.get(p)) == shape(sealed.get(s))
                assert shape(sealed.replay(s)) == shape(sealed.get(s))
            else:
                assert sealed.get(s) is None
        for owner in USERS[:3]:
            if not any(o == owner and i in erased for i, (_, _, o) in enumerate(sessions)):
                assert plain.get_state(owner[1], owner[0]) == sealed.get_state(owner[1], owner[0])
        assert sealed.verify().ok
    finally:
        plain.close()
        sealed.close()


def test_imported_sessions_are_sealed_too(erasable_target):
    """import goes through the store's bulk path: its events are sealed as well."""
    import io
    import json

    from projections.transfer import import_sessions, read_sessions
    record = {"id": "00000000-0000-4000-8000-0000000000aa", "title": NAME,
              "created_at": "2026-01-01T00:00:00Z", "user_id": "u1", "tenant_id": "t1",
              "messages": [{"role": "user", "content": PHRASE, "timestamp": "2026-01-01T00:00:00Z"}]}
    with store_on(erasable_target) as store:
        import_sessions(store, read_sessions(io.StringIO(json.dumps(record)), "x"))
        rows = "".join(r[0] for r in store.log.connection.execute("SELECT data FROM events"))
        assert NAME not in rows and PHRASE not in rows
        assert store.list()[0].messages[0].content == PHRASE
        store.erase_user("u1", "t1")
        assert store.history(record["id"])[1].data["content"] == ERASED
