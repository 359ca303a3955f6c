"""Tamper evidence: `verify` passes a clean log and names the first bad
position of one edited by hand."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import drop_trigger, raw_connection, store_on

from projections import SessionMessage, SessionRole
from sessionlog.cli import main


def fill(p):
    with store_on(p) as store:
        for i in range(3):
            s = store.create_with_user(f"s{i}", "u", "acme")
            store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"m{i}{j}", datetime.now(UTC))
                                      for j in range(3)])
    return p  # 12 events


@pytest.fixture
def path(target):
    """12 events in a SQLite file or a PostgreSQL schema."""
    return fill(target)


@pytest.fixture
def file_path(tmp_path):
    """12 events in a SQLite file."""
    return fill(str(tmp_path / "v.db"))


def raw(path):
    """A connection of another program to the store's database (a hand edit)."""
    return raw_connection(path)


def drop_triggers(conn, path):
    for name in ("events_no_update", "events_no_delete"):
        drop_trigger(conn, path, name)


def tamper(path, *statements):
    conn = raw(path)
    drop_triggers(conn, path)
    for s in statements:
        conn.execute(s)
    conn.commit()
    conn.close()


def check(path):
    with store_on(path, catch_up=False) as store:
        return store.verify()


#: A hand edit of event 6 (a user's message): the assistant said it.
SAY_ASSISTANT = """replace(data, '"role":"user"', '"role":"assistant"')"""


def test_clean_log_verifies(path):
    report = check(path)
    assert report.ok and report.events == 12 and report.streams == 3 and report.sessions == 3
    assert report.summary().startswith("ok: 12 events in 3 streams")


@pytest.mark.parametrize("statements, position, words", [
    # Who said it (its text is sealed on the erasable backend; its role is plain everywhere).
    ([f"UPDATE events SET data = {SAY_ASSISTANT} WHERE position = 6"], 6, "hash mismatch"),
    (["UPDATE events SET metadata = '{\"source\":\"evil\"}' WHERE position = 2"], 2, "hash mismatch"),
    (["DELETE FROM events WHERE position = 5"], 5, "position gap"),
    # Reorder: swap the contents of two rows.
    (["UPDATE events SET position = -3 WHERE position = 3",
      "UPDATE events SET position = 3 WHERE position = 4",
      "UPDATE events SET position = 4 WHERE position = -3"], 3, "hash mismatch"),
    (["INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, "
      "recorded_at, hash, schema_version) SELECT 13, 'forged', stream_id, version + 1, type, "
      "data, metadata, recorded_at, 'deadbeef', 1 FROM events WHERE position = 12"], 13,
     "hash mismatch"),
])
def test_hand_edits_are_reported_at_the_first_bad_position(path, statements, position, words):
    tamper(path, *statements)
    report = check(path)
    assert not report.ok
    assert report.problems[0].position == position
    assert words in report.problems[0].what


def test_a_truncated_tail_shows_against_a_kept_last_hash(path):
    """Layout 2 has no AUTOINCREMENT counter: only a kept `last_hash` catches
    events removed from the end, and verify says so."""
    kept = check(path)
    assert "only a kept last hash" in kept.summary()
    tamper(path, "DELETE FROM events WHERE position = 12")
    with store_on(path, catch_up=False) as store:
        report = store.verify(expect_hash=kept.last_hash)
    assert not report.ok and any("is not in the log" in p.what for p in report.problems)


def test_a_repeated_event_id_is_reported(path):
    """event_id is chained but no longer indexed: a row appended with another
    tool, correctly chained but reusing an id, is reported."""
    from eventlog.codec import chain_hash
    conn = raw(path)
    first = conn.execute("SELECT event_id FROM events WHERE position = 1").fetchone()[0]
    prev, at = conn.execute("SELECT hash, recorded_at FROM events WHERE position = 12").fetchone()
    other = str(uuid.uuid4())
    data = json.dumps({"created_at": "2026-01-01T00:00:00.000000Z", "session_id": other,
                       "tenant_id": None, "title": None, "user_id": None}, separators=(",", ":"))
    h = chain_hash(prev, 13, first, other, 1, "SessionCreated", 1, data, "{}", at)
    conn.execute("INSERT INTO events (position, event_id, stream_id, version, type, data, "
                 "metadata, recorded_at, hash, schema_version) VALUES (13, ?, ?, 1, "
                 "'SessionCreated', ?, '{}', ?, ?, 1)", (first, other, data, at, h))
    conn.commit()
    conn.close()
    report = check(path)
    assert not report.ok
    assert any(f"event id {first} is recorded more than once" in p.what for p in report.problems)


def test_missing_triggers_are_reported(path):
    tamper(path)
    report = check(path)
    assert not report.ok and "triggers" in report.summary()


def test_an_edited_view_is_reported(path):
    conn = raw(path)
    conn.execute("UPDATE items SET text = 'rewritten' WHERE position = 3")
    conn.commit()
    conn.close()
    report = check(path)
    assert not report.ok and "differs from the fold" in report.summary()


def test_cli_verify_exit_codes_and_no_traceback(path):
    clean = CliRunner().invoke(main, ["--db", path, "verify"])
    assert clean.exit_code == 0 and clean.stdout.startswith("ok: ")
    tamper(path, "UPDATE events SET type = 'SessionDeleted' WHERE position = 7")
    bad = CliRunner().invoke(main, ["--db", path, "verify"])
    assert bad.exit_code == 1
    assert bad.stdout.startswith("FAILED: position 7: hash mismatch")
    assert "Traceback" not in bad.output


def test_a_forged_unreadable_row_is_pointed_at_and_other_reads_still_work(path):
    with store_on(path) as store:
        first = store.list()[0]
        sid, text = str(first.id), first.messages[0].content
    tamper(path, "INSERT INTO events (position, event_id, stream_id, version, type, data, "
                 "metadata, recorded_at, hash) VALUES (13, 'forged', 'x', 1, 'Nope', '{', '{}', "
                 "'2000', 'bad')")
    bad = CliRunner().invoke(main, ["--db", path, "verify"])
    assert bad.exit_code == 1 and bad.stdout.startswith("FAILED: position 13:")
    listed = CliRunner().invoke(main, ["--db", path, "list"])
    assert listed.exit_code == 0 and sid in listed.stdout
    shown = CliRunner().invoke(main, ["--db", path, "show", sid])
    assert shown.exit_code == 0 and "m" in shown.stdout
    found = CliRunner().invoke(main, ["--db", path, "search", text])
    assert found.exit_code == 0 and sid in found.stdout
    added = CliRunner().invoke(main, ["--db", path, "add", sid, "--role", "user", "more"])
    assert added.exit_code == 1 and "position 13" in added.stderr
    with store_on(path) as store:
        assert store.log.last_position() == 13


def test_verify_reports_the_head_of_the_chain(path):
    with store_on(path) as store:
        last = list(store.log.read_all())[-1]
        assert store.verify().last_hash == last.hash
    out = CliRunner().invoke(main, ["--db", path, "verify", "--json"])
    assert __import__("json").loads(out.stdout)["last_hash"] == last.hash


@pytest.mark.parametrize("where, words", [
    ("id > 10", "FTS5 integrity-check"),  # index segments
    ("id > 1", "cannot be read"),  # its averages record too
])
@pytest.mark.sqlite_only("FTS5's shadow tables and integrity-check")
def test_a_damaged_full_text_index_is_reported(file_path, where, words):
    path = file_path
    with store_on(path) as store:
        store.catch_up()
        assert store.verify().ok
    with sqlite3.connect(path) as conn:
        conn.execute(f"DELETE FROM message_search_data WHERE {where}")
    report = check(path)
    assert not report.ok and "message_search" in report.summary()
    assert words in report.summary()
    with store_on(path) as store:
        store.rebuild(["search"])
        assert store.verify().ok


def rehash_from(conn, start):
    """Rewrite every hash from `start` on, as an attacker who knows the scheme would."""
    from eventlog.codec import chain_hash
    prev = conn.execute("SELECT hash FROM events WHERE position = ?", (start - 1,)).fetchone()[0]
    rows = conn.execute("SELECT position, event_id, stream_id, version, type, schema_version, "
                        "data, metadata, recorded_at FROM events WHERE position >= ? "
                        "ORDER BY position", (start,)).fetchall()
    for row in rows:
        prev = chain_hash(prev, *row)
        conn.execute("UPDATE events SET hash = ? WHERE position = ?", (prev, row[0]))


def test_only_a_kept_hash_catches_a_rewritten_chain(path):
    kept = check(path).last_hash
    tamper(path)
    conn = raw(path)
    conn.execute(f"UPDATE events SET data = {SAY_ASSISTANT} WHERE position = 6")
    rehash_from(conn, 6)
    conn.commit()
    conn.close()
    with store_on(path) as store:
        store.rebuild()
        store.repair_triggers()
        assert store.verify().ok  # the chain alone cannot tell
        report = store.verify(expect_hash=kept)
    assert not report.ok and "kept hash" in report.summary()


@pytest.mark.sqlite_only("a copy of the file without its -wal")
def test_only_a_kept_hash_catches_a_copy_without_its_wal(file_path, tmp_path):
    path = file_path
    copy = tmp_path / "copy.db"
    with store_on(path) as store:
        store.log.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sid = store.list()[0].id
        for i in range(3):
            store.add_message(sid, SessionMessage(SessionRole.USER, f"late {i}", datetime.now(UTC)))
        kept = store.verify().last_hash
        copy.write_bytes(Path(path).read_bytes())  # the -wal holds the last 3 writes
    with store_on(copy, catch_up=False) as store:
        assert store.verify().ok and store.log.last_position() == 12
        report = store.verify(expect_hash=kept)
    assert not report.ok and "ends at position 12" in report.summary()


def test_a_kept_hash_is_found_at_its_position_after_more_writes(path):
    kept = check(path).last_hash
    with store_on(path) as store:
        store.create("later")
    result = CliRunner().invoke(main, ["--db", path, "verify", "--expect-hash", kept.upper()])
    assert result.exit_code == 0
    assert "the kept hash is event 12, unchanged" in result.stdout
    out = CliRunner().invoke(main, ["--db", path, "verify", "--json", "--expect-hash", kept])
    data = __import__("json").loads(out.stdout)
    assert data["kept_position"] == 12 and data["last_position"] == 13


def test_a_malformed_kept_hash_is_one_clear_error(path):
    result = CliRunner().invoke(main, ["--db", path, "verify", "--expect-hash", "abc"])
    assert result.exit_code == 1 and "is not a hash" in result.stderr
    with pytest.raises(ValueError, match="is not a hash"):
        check_with(path, expect_hash="abc")


def check_with(path, **kwargs):
    with store_on(path, catch_up=False) as store:
        return store.verify(**kwargs)
