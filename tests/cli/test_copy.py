"""`copy`: a whole log into an empty one, on any backend, hashes unchanged;
a non-empty or broken case writes nothing."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from eventlog import ChainBrokenError, EventLog, MessageAdded, SessionCreated, SessionRole
from eventlog.backends.factory import shown
from eventlog.copy import DestinationNotEmptyError, copy_log
from sessionlog.cli import main

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def cli(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def ok(db, *args) -> str:
    result = cli(db, *args)
    assert result.exit_code == 0, result.output
    return result.output


def last_hash(db) -> str:
    return json.loads(ok(db, "verify", "--json"))["last_hash"]


def fill(log: EventLog, sessions: int = 3, messages: int = 4) -> None:
    for _ in range(sessions):
        sid = uuid.uuid4()
        log.append(str(sid), [SessionCreated(sid, "t", NOW)])
        log.append(str(sid), [MessageAdded(sid, SessionRole.USER, f"m{i} 100% ?", NOW)
                              for i in range(messages)], event_ids=[uuid.uuid4()
                                                                   for _ in range(messages)])


def rows(log: EventLog) -> list[tuple]:
    with log.snapshot() as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT position, event_id, stream_id, version, type, data, metadata, recorded_at, "
            "hash, schema_version, idempotency_key FROM events ORDER BY position")]


# An erasable --db refuses a copy of its rows (test_erasure_cli: `copy --erasable`).
@pytest.mark.backends("sqlite-file", "postgres")
def test_cli_copy_keeps_every_hash_and_builds_the_views(db, tmp_path):
    src, dest = db, tmp_path / "b.db"
    ok(src, "demo")
    out = ok(src, "copy", str(dest))
    assert "copied 12 event(s)" in out
    assert last_hash(src) == last_hash(dest) in out
    assert ok(src, "list", "--json") == ok(dest, "list", "--json")
    with EventLog(src) as a, EventLog(dest) as b:
        assert rows(a) == rows(b)


def test_copy_refuses_a_destination_with_events_and_writes_nothing(db, tmp_path):
    src, dest = tmp_path / "a.db", db
    ok(src, "demo")
    ok(dest, "create", "--title", "already here")
    before = last_hash(dest)
    result = cli(src, "copy", dest)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {shown(dest)} already holds 1 event(s); copy needs an empty destination; "
        "nothing was written"]
    assert last_hash(dest) == before
    assert len(json.loads(ok(dest, "list", "--json"))) == 1


@pytest.mark.sqlite_only("breaks the source file through sqlite3; no DEST file is left")
def test_a_failed_copy_leaves_no_destination_file(tmp_path):
    src, dest = tmp_path / "a.db", tmp_path / "b.db"
    ok(src, "demo")
    conn = sqlite3.connect(src)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET data = data || ' ' WHERE position = 9")
    conn.commit()
    conn.close()
    result = cli(src, "copy", str(dest))
    assert result.exit_code == 1 and "position" in result.output
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.db"]


def test_copy_onto_itself_is_refused(db):
    src = db
    ok(src, "demo")
    result = cli(src, "copy", src)
    assert result.exit_code == 1 and "itself" in result.output


def test_copy_help_has_an_example():
    result = CliRunner().invoke(main, ["copy", "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "postgresql://" in result.output


def test_copy_across_backends_and_back_keeps_rows_and_hashes(backend, tmp_path):
    """SQLite file -> BACKEND -> another SQLite file: every row, byte for
    byte, and the notes; progress counts every event."""
    with EventLog(tmp_path / "first.db") as first:
        fill(first)
        first.record_break(3, "a note to carry over")
        first.record_intact(15, "whole again")
        expected = rows(first)
        done: list[int] = []
        with EventLog(backend) as middle:
            copied = copy_log(first, middle, batch_size=4, progress=done.append)
            assert (copied.events, sum(done)) == (15, 15)
            assert copied.last_hash == expected[-1][8]
            assert rows(middle) == expected
            assert [n["kind"] for n in middle.notes()] == ["chain_broken", "chain_intact"]
            with EventLog(tmp_path / "last.db") as last:
                copy_log(middle, last)
                assert rows(last) == expected
                sid = expected[0][2]
                last.append(sid, [MessageAdded(uuid.UUID(sid), SessionRole.USER, "after", NOW)],
                            expected_version=5)  # the copy chains on
            with pytest.raises(DestinationNotEmptyError):
                copy_log(first, middle)
            assert rows(middle) == expected


def test_a_broken_source_is_refused_before_anything_is_written(backend, tmp_path):
    with EventLog(tmp_path / "src.db") as src:
        fill(src, sessions=2)
        src.connection.execute("DROP TRIGGER events_no_update")
        src.connection.execute("UPDATE events SET hash = 'x' WHERE position = 4")
        with EventLog(backend) as dest:
            with pytest.raises(ChainBrokenError) as info:
                copy_log(src, dest, batch_size=3)
            assert info.value.position == 4
            assert dest.last_position() == 0


def test_cli_copy_sqlite_to_postgres_to_sqlite_keeps_last_hash(tmp_path, pg_url):
    first, last = tmp_path / "first.db", tmp_path / "last.db"
    ok(first, "demo")
    ok(first, "copy", pg_url)
    ok(pg_url, "copy", str(last))
    assert last_hash(first) == last_hash(pg_url) == last_hash(last)
    assert ok(first, "list", "--json") == ok(pg_url, "list", "--json") == ok(last, "list", "--json")
    result = cli(first, "copy", pg_url)
    assert result.exit_code == 1 and "already holds 12 event(s)" in result.output
