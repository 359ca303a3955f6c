"""After tampering: writes refuse to chain onto a broken log, a rebuild
refuses to publish it unless forced, and each recovery is recorded."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from eventlog import ChainBrokenError, EventLog, SessionCreated
from eventlog.codec import chain_hash
from projections import EventSourcedSessionStore
from sessionlog.cli import main


@pytest.fixture
def path(tmp_path):
    p = str(tmp_path / "t.db")
    assert run(p, "demo").exit_code == 0
    return p


def run(path, *args):
    return CliRunner().invoke(main, ["--db", path, *args])


def sql(path, *statements):
    with sqlite3.connect(path) as conn:
        for s in statements:
            conn.execute(s)


def dump(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT group_concat(text, '|') FROM items").fetchone()[0]


FORGE = ("DROP TRIGGER events_no_update",
         "UPDATE events SET data = replace(data, '5 business', '50 business') WHERE position = 5")


def test_after_a_failed_verify_add_and_rebuild_refuse_and_write_nothing(path):
    sql(path, *FORGE)
    assert run(path, "verify").exit_code == 1
    sid = json.loads(run(path, "list", "--json").stdout)[0]["id"]
    before, events = dump(path), EventSourcedSessionStore(path).log.last_position()
    added = run(path, "add", sid, "--role", "user", "hello")
    assert added.exit_code == 1 and "position 5" in added.stderr
    rebuilt = run(path, "rebuild")
    assert rebuilt.exit_code == 1 and "position 5: hash mismatch" in rebuilt.stderr
    assert dump(path) == before and "50 business" not in before
    with EventSourcedSessionStore(path) as store:
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
    with sqlite3.connect(path) as conn:
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
    with EventSourcedSessionStore(path, catch_up=False) as store:
        assert store.log.last_position() == pos


def test_a_chain_made_whole_again_takes_writes_again(path):
    with sqlite3.connect(path) as conn:
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


def test_the_write_check_trusts_only_the_tail_it_wrote(tmp_path):
    log = EventLog(tmp_path / "l.db")
    sid = uuid.uuid4()
    log.append(str(sid), [SessionCreated(sid, "t", datetime.now(UTC))])
    # A later row, correctly chained by someone who knows the scheme: accepted.
    prev = log.connection.execute("SELECT hash, recorded_at FROM events").fetchone()
    other = uuid.uuid4()
    data = json.dumps({"session_id": str(other), "title": None,
                       "created_at": "2026-01-01T00:00:00.000000Z"}, separators=(",", ":"))
    eid = str(uuid.uuid4())
    h = chain_hash(prev[0], 2, eid, str(other), 1, "SessionCreated", 1, data, "{}", prev[1])
    log.connection.execute(
        "INSERT INTO events VALUES (2, ?, ?, 1, 'SessionCreated', ?, '{}', ?, ?, 1, NULL)",
        (eid, str(other), data, prev[1], h))
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
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        sql(path, "DELETE FROM events WHERE position = 1")
    with EventSourcedSessionStore(path) as store:
        assert [n["kind"] for n in store.log.notes()] == ["triggers_reinstalled"]
        store.create("the log takes writes again")


def test_the_same_store_object_refuses_to_write_after_its_own_verify_finds_a_break(path):
    with EventSourcedSessionStore(path) as store:
        store.create("before")  # this object now remembers the tail it wrote
        sql(path, *FORGE)
        assert not store.verify().ok
        with pytest.raises(ChainBrokenError):
            store.create("after")
