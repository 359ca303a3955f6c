"""After tampering: writes refuse to chain onto a broken log, a rebuild
refuses to publish it unless forced, and each recovery is recorded."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from helpers import db_args, drop_trigger, raw_connection, store_on

from eventlog import ChainBrokenError, SessionCreated
from eventlog.codec import chain_hash
from sessionlog.cli import main

# The forged edit is of a message's text, which the erasable backend seals:
# there it would be an edit of ciphertext, and "50 business" could not show.
pytestmark = pytest.mark.backends("sqlite-file", "postgres")


@pytest.fixture
def path(target):
    """The demo sessions in a SQLite file or a PostgreSQL schema."""
    assert run(target, "demo").exit_code == 0
    return target


def run(path, *args):
    return CliRunner().invoke(main, [*db_args(path), *args])


def sql(path, *statements):
    """Statements of another program (a hand edit); a `DROP TRIGGER name`
    is said in the database's dialect."""
    with raw_connection(path) as conn:
        for s in statements:
            if s.startswith("DROP TRIGGER "):
                drop_trigger(conn, path, s.split()[-1])
            else:
                conn.execute(s)


def dump(path):
    with raw_connection(path) as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM items ORDER BY position")]
    return "|".join(t for t in texts if t is not None)


FORGE = ("DROP TRIGGER events_no_update",
         "UPDATE events SET data = replace(data, '5 business', '50 business') WHERE position = 5")


def test_after_a_failed_verify_add_and_rebuild_refuse_and_write_nothing(path):
    sql(path, *FORGE)
    assert run(path, "verify").exit_code == 1
    sid = json.loads(run(path, "list", "--json").stdout)[0]["id"]
    with store_on(path) as store:
        before, events = dump(path), store.log.last_position()
    added = run(path, "add", sid, "--role", "user", "hello")
    assert added.exit_code == 1 and "position 5" in added.stderr
    rebuilt = run(path, "rebuild")
    assert rebuilt.exit_code == 1 and "position 5: hash mismatch" in rebuilt.stderr
    assert dump(path) == before and "50 business" not in before
    with store_on(path) as store:
        assert store.log.last_position() == events
        with pytest.raises(ChainBrokenError) as caught:
            store.create("more")
        assert caught.value.position == 5


def test_rebuild_finds_the_break_itself_and_writes_then_refuse(path):
    sql(path, *FORGE)
    rebuilt = run(path, "rebuild")
    assert rebuilt.exit_code == 1 and "position 5" in rebuilt.stderr
    assert "50 business" not in dump(path)
    created = run(path, "create", "--title", "after")
    assert created.exit_code == 1 and "position 5" in created.stderr


def test_a_forced_rebuild_publishes_the_log_as_it_is_and_is_recorded(path):
    sql(path, *FORGE)
    forced = run(path, "rebuild", "--force")
    assert forced.exit_code == 0 and "forced over a broken chain" in forced.stdout
    assert "50 business" in dump(path)
    notes = json.loads(run(path, "stats", "--json").stdout)["notes"]
    assert [(n["kind"], n["position"]) for n in notes] == [("rebuild_forced", 5)]
    assert "rebuild_forced at position 5" in run(path, "stats").stdout.replace("  ", " ") or \
        "rebuild_forced" in run(path, "stats").stdout
    assert run(path, "verify").exit_code == 1  # the log itself is still broken


def test_a_row_appended_with_another_tool_stops_the_next_write_at_once(path):
    with raw_connection(path) as conn:
        last = conn.execute("SELECT stream_id, version, recorded_at FROM events "
                            "ORDER BY position DESC LIMIT 1").fetchone()
        pos = conn.execute("SELECT max(position) + 1 FROM events").fetchone()[0]
        conn.execute(
            "INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, "
            "recorded_at, hash, schema_version) VALUES (?, '0190f3b4-6d1e-7000-8000-000000000001', "
            "?, ?, 'SessionDeleted', ?, '{\"source\":\"evil\"}', ?, 'f00d', 1)",
            (pos, last[0], last[1] + 1,
             json.dumps({"session_id": last[0], "deleted_at": "2026-01-01T00:00:00.000000Z"}),
             last[2]))
    created = run(path, "create", "--title", "x")
    assert created.exit_code == 1 and f"position {pos}: hash mismatch" in created.stderr
    with store_on(path, catch_up=False) as store:
        assert store.log.last_position() == pos


def test_a_chain_made_whole_again_takes_writes_again(path):
    with raw_connection(path) as conn:
        original = conn.execute("SELECT data FROM events WHERE position = 5").fetchone()[0]
    sql(path, *FORGE)
    assert run(path, "verify").exit_code == 1
    sql(path, f"UPDATE events SET data = '{original}' WHERE position = 5")
    assert run(path, "create", "--title", "x").exit_code == 1  # still noted as broken
    assert run(path, "repair-triggers").exit_code == 0
    assert run(path, "verify").exit_code == 0
    assert run(path, "create", "--title", "x").exit_code == 0
    kinds = [n["kind"] for n in json.loads(run(path, "stats", "--json").stdout)["notes"]]
    assert kinds == ["chain_broken", "triggers_reinstalled", "chain_intact"]


def test_the_write_check_trusts_only_the_tail_it_wrote(open_log, opened_on):
    log = open_log()
    sid = uuid.uuid4()
    log.append(str(sid), [SessionCreated(sid, "t", datetime.now(UTC))])
    # A later row, correctly chained by someone who knows the scheme: accepted.
    other_program = raw_connection(opened_on)
    prev = other_program.execute("SELECT hash, recorded_at FROM events").fetchone()
    other = uuid.uuid4()
    data = json.dumps({"session_id": str(other), "title": None,
                       "created_at": "2026-01-01T00:00:00.000000Z"}, separators=(",", ":"))
    eid = str(uuid.uuid4())
    h = chain_hash(prev[0], 2, eid, str(other), 1, "SessionCreated", 1, data, "{}", prev[1])
    other_program.execute(
        "INSERT INTO events VALUES (2, ?, ?, 1, 'SessionCreated', ?, '{}', ?, ?, 1, NULL)",
        (eid, str(other), data, prev[1], h))
    other_program.commit()
    other_program.close()
    third = uuid.uuid4()
    log.append(str(third), [SessionCreated(third, "t", datetime.now(UTC))])
    assert log.last_position() == 3


def test_dropped_triggers_are_reinstalled_and_the_gap_stays_visible(path):
    sql(path, "DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete")
    report = run(path, "verify")
    assert report.exit_code == 1 and "repair-triggers" in report.stdout
    fixed = run(path, "repair-triggers")
    assert fixed.exit_code == 0 and "events_no_update, events_no_delete" in fixed.stdout
    ok = run(path, "verify")
    assert ok.exit_code == 0 and "note: triggers reinstalled at position 12" in ok.stdout
    assert "triggers_reinstalled" in run(path, "stats").stdout
    again = run(path, "repair-triggers")
    assert again.exit_code == 0 and "nothing written" in again.stdout
    refused = sqlite3.IntegrityError  # what the trigger raises, in each dialect
    if path.postgres:
        import psycopg
        refused = psycopg.errors.RestrictViolation
    with pytest.raises(refused, match="append-only"):
        sql(path, "DELETE FROM events WHERE position = 1")
    with store_on(path) as store:
        assert [n["kind"] for n in store.log.notes()] == ["triggers_reinstalled"]
        store.create("the log takes writes again")


def test_the_same_store_object_refuses_to_write_after_its_own_verify_finds_a_break(path):
    with store_on(path) as store:
        store.create("before")  # this object now remembers the tail it wrote
        sql(path, *FORGE)
        assert not store.verify().ok
        with pytest.raises(ChainBrokenError):
            store.create("after")
