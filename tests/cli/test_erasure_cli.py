"""The CLI of erasure: `--erasable`, `erase ID`, `erase --user U --tenant T
--reason`, `copy NEW --erasable`; one-line errors, nothing written on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from clirun import run

from projections import EventSourcedSessionStore
from sessionlog.cli import main

# Erasable logs are SQLite files in this release; what PostgreSQL says to
# erasure is tested at the end of this file.
SQLITE_ONLY = pytest.mark.sqlite_only("erasable logs are SQLite files (key file beside the file)")


def ids_of(db, user):
    out = run(db, "list", "--json")
    assert out.exit_code == 0, out.output
    return [s["id"] for s in json.loads(out.output) if s.get("user_id") == user]


def digest(db: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name)}


@SQLITE_ONLY
def test_forgetting_a_person_end_to_end(tmp_path):
    """demo on a new erasable file, erase alice: history keeps every event
    with `[erased]`, search and list lose her, verify passes, a second
    erase says so and writes nothing."""
    db = tmp_path / "chats.db"
    assert run(db, "--erasable", "demo").exit_code == 0
    assert os.stat(f"{db}.key").st_mode & 0o777 == 0o600
    (alice,) = ids_of(db, "alice")
    assert "refund" in run(db, "search", "refund").output.lower()
    out = run(db, "erase", "--user", "alice", "--tenant", "acme", "--reason", "GDPR request 114",
              "--by", "dpo")
    assert out.exit_code == 0, out.output
    assert "erased 1 session(s)" in out.output
    history = run(db, "history", alice).output
    assert history.count("[erased]") == 5 and "Refund" not in history
    assert "erased (key" in history
    assert "[erased]" in run(db, "show", alice, "--as-of", "3").output
    assert run(db, "search", "refund").output.strip() == "no matches"
    assert ids_of(db, "alice") == []
    assert run(db, "verify").exit_code == 0
    tail = run(db, "tail", "-n", "1").output
    assert "SubjectErased" in tail and "asked by dpo" in tail and "GDPR request 114" in tail
    before = digest(db)
    again = run(db, "erase", "--user", "alice", "--tenant", "acme")
    assert again.exit_code == 0 and "nothing to erase" in again.output
    assert digest(db) == before
    assert "subjects erased   1" in run(db, "stats").output
    stats = json.loads(run(db, "stats", "--json").output)
    assert stats["erasable"]["master_key"] == f"key file {db}.key"


@SQLITE_ONLY
def test_erase_of_one_session_of_a_user(tmp_path):
    """`erase ID` of one of alice's sessions (issue 19, item 4): that one reads
    `[erased]`, her other session stays; a second erase says when and writes
    nothing (exit 0, as for a user); erasing alice then takes the rest."""
    db = tmp_path / "chats.db"
    assert run(db, "--erasable", "demo").exit_code == 0
    (refund,) = ids_of(db, "alice")
    made = run(db, "create", "--title", "Parcel to Porto", "--user", "alice", "--tenant", "acme",
               "--json")
    assert made.exit_code == 0, made.output
    parcel = json.loads(made.output)["id"]
    assert run(db, "add", parcel, "--role", "user", "Where is my parcel?").exit_code == 0
    out = run(db, "erase", refund, "--reason", "asked in chat")
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"session {refund}: erased 1 session(s); SubjectErased at position ")
    position = out.output.split("SubjectErased at position ")[1].split(";")[0]
    history = run(db, "history", refund).output
    assert history.count("[erased]") == 5 and "Refund" not in history
    assert ids_of(db, "alice") == [parcel]
    assert "Where is my parcel?" in run(db, "show", parcel).output
    assert run(db, "search", "refund").output.strip() == "no matches"
    assert "parcel" in run(db, "search", "parcel").output.lower()
    assert run(db, "verify").exit_code == 0
    before = digest(db)
    again = run(db, "erase", refund)
    assert again.exit_code == 0, again.output
    assert again.output.strip() == (f"session {refund}: already erased at position {position}: "
                                    "nothing to do")
    assert digest(db) == before
    user = run(db, "erase", "--user", "alice", "--tenant", "acme")
    assert user.exit_code == 0 and "erased 1 session(s)" in user.output
    assert ids_of(db, "alice") == []
    assert "Where is my parcel?" not in run(db, "history", parcel).output


@SQLITE_ONLY
def test_erase_of_a_session_without_a_user(tmp_path):
    db = tmp_path / "chats.db"
    assert run(db, "--erasable", "create", "--title", "Zebulon's notes").exit_code == 0
    (sid,) = [s["id"] for s in json.loads(run(db, "list", "--json").output)]
    out = run(db, "erase", sid, "--json")
    assert out.exit_code == 0 and json.loads(out.output)["sessions"] == 1
    assert "already erased" in run(db, "erase", sid).output


@SQLITE_ONLY
def test_a_plain_file_refuses_erase_in_one_line(tmp_path):
    db = tmp_path / "plain.db"
    assert run(db, "demo").exit_code == 0
    assert run(db, "search", "refund").exit_code == 0  # every view caught up
    before = digest(db)
    out = run(db, "erase", "--user", "alice", "--tenant", "acme")
    assert out.exit_code == 1
    assert out.output.count("\n") == 1 and "copy NEW --erasable" in out.output
    assert digest(db) == before


@SQLITE_ONLY
def test_bad_erase_arguments_are_one_line(tmp_path):
    db = tmp_path / "chats.db"
    assert run(db, "--erasable", "demo").exit_code == 0
    assert run(db, "search", "refund").exit_code == 0  # every view caught up
    before = digest(db)
    for args in ([], ["--user", "alice"], ["--tenant", "acme"],
                 ["00000000-0000-4000-8000-000000000000", "--user", "a", "--tenant", "b"]):
        out = run(db, "erase", *args)
        assert out.exit_code == 1 and out.output.count("\n") == 1, (args, out.output)
    out = run(db, "erase", "00000000-0000-4000-8000-000000000000")
    assert out.exit_code == 1 and out.output.count("\n") == 1, out.output
    assert digest(db) == before


@SQLITE_ONLY
def test_a_users_session_of_an_earlier_release_is_erased_with_its_user(tmp_path):
    """A file of before per-session keys: its user's session shares the
    user's key, so `erase ID` says to erase the user, in one line, and
    writes nothing; `erase --user` takes it."""
    db = tmp_path / "old.db"
    fixtures = Path(__file__).parent.parent / "fixtures"
    db.write_bytes((fixtures / "erasable_clear_terms.db").read_bytes())
    Path(f"{db}.key").write_bytes((fixtures / "erasable_clear_terms.db.key").read_bytes())
    (old,) = ids_of(db, "u1")  # the first open with write access migrates
    before = digest(db)
    out = run(db, "erase", old)
    assert out.exit_code == 1 and out.output.count("\n") == 1, out.output
    assert "erase --user u1 --tenant t1" in out.output
    assert digest(db) == before
    out = run(db, "erase", "--user", "u1", "--tenant", "t1")
    assert out.exit_code == 0 and "erased 1 session(s)" in out.output
    assert ids_of(db, "u1") == []


@SQLITE_ONLY
def test_a_missing_master_key_is_one_line_and_writes_nothing(tmp_path):
    db = tmp_path / "chats.db"
    assert run(db, "--erasable", "demo").exit_code == 0
    os.remove(f"{db}.key")
    before = digest(db)
    out = run(db, "list")
    assert out.exit_code == 1 and out.output.count("\n") == 1 and "missing master key" in out.output
    assert digest(db) == before


@SQLITE_ONLY
def test_a_failed_erasable_create_leaves_no_key_file(tmp_path):
    db = tmp_path / "chats.db"
    out = run(db, "--erasable", "create", "--title", "x", "--user", "u")  # --user needs --tenant
    assert out.exit_code != 0
    assert not db.exists() and not Path(f"{db}.key").exists()


@SQLITE_ONLY
def test_copy_erasable_reencrypts_and_records_the_old_last_hash(tmp_path):
    plain, new = tmp_path / "plain.db", tmp_path / "private.db"
    assert run(plain, "demo").exit_code == 0
    last_hash = json.loads(run(plain, "verify", "--json").output)["last_hash"]
    out = run(plain, "copy", str(new), "--erasable", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["source_last_hash"] == last_hash
    with EventSourcedSessionStore(plain) as a, EventSourcedSessionStore(new, erasable=True) as b:
        assert [(s.id, s.title, s.messages) for s in a.list()] == \
               [(s.id, s.title, s.messages) for s in b.list()]
        first = next(b.log.read_all())
        assert first.metadata["copied_from"] == {"events": 12, "last_hash": last_hash}
        rows = "".join(r[0] for r in b.log.connection.execute("SELECT data FROM events"))
        assert "Lisbon" not in rows
        assert b.verify().ok
    assert run(new, "erase", "--user", "alice", "--tenant", "acme").exit_code == 0
    copied = tmp_path / "rows.db"  # an erasable file copies row for row, keys re-wrapped
    out = run(new, "copy", str(copied))
    assert out.exit_code == 0, out.output
    assert Path(f"{copied}.key").read_bytes() != Path(f"{new}.key").read_bytes()
    assert ids_of(copied, "alice") == [] and len(ids_of(copied, "bob")) == 1


@SQLITE_ONLY
def test_copy_erasable_says_where_the_master_key_is(tmp_path):
    plain, new = tmp_path / "plain.db", tmp_path / "private.db"
    assert run(plain, "demo").exit_code == 0
    out = run(plain, "copy", str(new), "--erasable").output
    assert f"(erasable, master key file {new}.key)" in out, out


def test_erase_help_has_an_example():
    out = CliRunner().invoke(main, ["erase", "--help"])
    assert "Example:" in out.output and "--reason" in out.output
    assert "--erasable" in CliRunner().invoke(main, ["copy", "--help"]).output
    assert "--erasable" in CliRunner().invoke(main, ["--help"]).output


@SQLITE_ONLY
def test_erase_in_a_subprocess(tmp_path):
    db = tmp_path / "chats.db"
    assert run(db, "--erasable", "demo").exit_code == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "sessionlog", "--db", str(db), "erase", "--user",
                           "bob", "--tenant", "globex", "--reason", "asked"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "erased 1 session(s)" in done.stdout


def test_an_erasable_postgres_log_end_to_end(pg_url, monkeypatch):
    """Issue 19, item 5: without $SESSIONLOG_MASTER_KEY, `--erasable create`
    on PostgreSQL is one line and makes no table; with it, demo, erase of a
    user and of one session, history `[erased]`, verify, and the log
    recognised as erasable without --erasable; nothing in clear in its tables."""
    import psycopg

    from projections.erasure.masterkey import new_secret

    monkeypatch.delenv("SESSIONLOG_MASTER_KEY", raising=False)
    out = run(pg_url, "--erasable", "create", "--title", "x")
    assert out.exit_code == 1 and out.output.count("\n") == 1, out.output
    assert "missing master key" in out.output and "SESSIONLOG_MASTER_KEY" in out.output
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = "
                            "current_schema()").fetchone()[0] == 0
    monkeypatch.setenv("SESSIONLOG_MASTER_KEY", new_secret())
    assert run(pg_url, "--erasable", "demo").exit_code == 0
    (alice,) = ids_of(pg_url, "alice")
    (bob,) = ids_of(pg_url, "bob")
    assert "refund" in run(pg_url, "search", "refund").output.lower()
    out = run(pg_url, "erase", bob, "--reason", "one chat")
    assert out.exit_code == 0 and "erased 1 session(s)" in out.output, out.output
    out = run(pg_url, "erase", "--user", "alice", "--tenant", "acme")
    assert out.exit_code == 0 and "erased 1 session(s)" in out.output, out.output
    assert "left in the log's tables" in out.output
    assert run(pg_url, "history", alice).output.count("[erased]") == 5
    assert run(pg_url, "search", "refund").output.strip() == "no matches"
    assert run(pg_url, "verify").exit_code == 0
    assert run(pg_url, "create", "--title", "later").exit_code == 0  # opened erasable
    with psycopg.connect(pg_url) as conn:
        text = "".join(str(conn.execute(f'SELECT t::text FROM "{t}" t').fetchall())
                       for (t,) in conn.execute("SELECT tablename FROM pg_tables "
                                                "WHERE schemaname = current_schema()"))
    assert "refund" not in text.lower() and "lisbon" not in text.lower()
    monkeypatch.delenv("SESSIONLOG_MASTER_KEY")
    out = run(pg_url, "list")
    assert out.exit_code == 1 and out.output.count("\n") == 1, out.output
    assert "missing master key" in out.output


def test_copy_erasable_from_postgres_into_a_new_file(pg_url, tmp_path):
    """A PostgreSQL log re-encrypts into an erasable SQLite file, where
    `erase` then works; an erasable PostgreSQL DEST is refused in one line."""
    assert run(pg_url, "demo").exit_code == 0
    new = tmp_path / "private.db"
    out = run(pg_url, "copy", str(new), "--erasable", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["source_last_hash"] == json.loads(
        run(pg_url, "verify", "--json").output)["last_hash"]
    assert run(new, "erase", "--user", "alice", "--tenant", "acme").exit_code == 0



def test_copy_erasable_from_a_plain_file_into_postgres(pg_url, tmp_path, monkeypatch):
    """`copy URL --erasable` re-encrypts a plain file into an erasable
    PostgreSQL log (master key from $SESSIONLOG_MASTER_KEY), where erase works."""
    from projections.erasure.masterkey import new_secret

    plain = tmp_path / "plain.db"
    assert run(plain, "demo").exit_code == 0
    monkeypatch.delenv("SESSIONLOG_MASTER_KEY", raising=False)
    refused = run(plain, "copy", pg_url, "--erasable")
    assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
    assert "missing master key" in refused.output
    monkeypatch.setenv("SESSIONLOG_MASTER_KEY", new_secret())
    out = run(plain, "copy", pg_url, "--erasable", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["source_last_hash"] == json.loads(
        run(plain, "verify", "--json").output)["last_hash"]
    assert json.loads(run(pg_url, "stats", "--json").output)["erasable"] is not None
    assert "refund" in run(pg_url, "search", "refund").output.lower()
    assert run(pg_url, "erase", "--user", "alice", "--tenant", "acme").exit_code == 0
    assert run(pg_url, "search", "refund").output.strip() == "no matches"


def test_copy_of_an_erasable_file_to_postgres_stays_erasable(pg_url, tmp_path, monkeypatch):
    """`copy URL` of an erasable file: row for row (the same last_hash), its
    live keys re-wrapped under PostgreSQL's master key, an erased user still
    erased there; erase then works on PostgreSQL."""
    db = tmp_path / "chats.db"
    monkeypatch.delenv("SESSIONLOG_MASTER_KEY", raising=False)
    assert run(db, "--erasable", "demo").exit_code == 0
    (alice,) = ids_of(db, "alice")
    (bob,) = ids_of(db, "bob")
    assert run(db, "erase", "--user", "alice", "--tenant", "acme").exit_code == 0
    bob_before = run(db, "show", bob).output
    # the master key of both: the file's (as the README says: $(cat chats.db.key))
    monkeypatch.setenv("SESSIONLOG_MASTER_KEY", Path(f"{db}.key").read_text().strip())
    out = run(db, "copy", pg_url, "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["last_hash"] == json.loads(
        run(pg_url, "verify", "--json").output)["last_hash"]
    assert run(pg_url, "show", bob).output == bob_before
    assert run(pg_url, "history", alice).output.count("[erased]") == 5
    assert "lisbon" in run(pg_url, "search", "lisbon").output.lower()
    out = run(pg_url, "erase", bob)
    assert out.exit_code == 0 and "erased 1 session(s)" in out.output, out.output
    assert run(pg_url, "search", "lisbon").output.strip() == "no matches"
    assert run(pg_url, "verify").exit_code == 0
    monkeypatch.delenv("SESSIONLOG_MASTER_KEY")
    assert "Lisbon" in run(db, "show", bob).output  # the file is as it was
