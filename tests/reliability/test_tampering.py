"""Tamper evidence: `verify` passes a clean log and names the first bad
position of one edited by hand."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from projections import EventSourcedSessionStore, SessionMessage, SessionRole
from sessionlog.cli import main


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "v.db"
    with EventSourcedSessionStore(p) as store:
        for i in range(3):
            s = store.create_with_user(f"s{i}", "u", "acme")
            store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"m{i}{j}", datetime.now(UTC))
                                      for j in range(3)])
    return str(p)  # 12 events


def tamper(path, *statements):
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    for s in statements:
        conn.execute(s)
    conn.commit()
    conn.close()


def check(path):
    with EventSourcedSessionStore(path, catch_up=False) as store:
        return store.verify()


def test_clean_log_verifies(path):
    report = check(path)
    assert report.ok and report.events == 12 and report.streams == 3 and report.sessions == 3
    assert report.summary().startswith("ok: 12 events in 3 streams")


@pytest.mark.parametrize("statements, position, words", [
    (["UPDATE events SET data = replace(data, 'm10', 'm99') WHERE position = 6"], 6, "hash mismatch"),
    (["UPDATE events SET metadata = '{\"source\":\"evil\"}' WHERE position = 2"], 2, "hash mismatch"),
    (["DELETE FROM events WHERE position = 5"], 5, "position gap"),
    (["DELETE FROM events WHERE position = 12"], 12, "were deleted"),
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


def test_missing_triggers_are_reported(path):
    tamper(path)
    report = check(path)
    assert not report.ok and "triggers" in report.summary()


def test_an_edited_view_is_reported(path):
    conn = sqlite3.connect(path)
    conn.execute("UPDATE messages SET content = 'rewritten' WHERE position = 3")
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


def test_cli_verify_reports_a_forged_row_that_cannot_even_be_read(path):
    tamper(path, "INSERT INTO events (position, event_id, stream_id, version, type, data, "
                 "metadata, recorded_at, hash) VALUES (13, 'forged', 'x', 1, 'Nope', '{', '{}', "
                 "'2000', 'bad')")
    bad = CliRunner().invoke(main, ["--db", path, "verify"])
    assert bad.exit_code == 1 and bad.stdout.startswith("FAILED: position 13:")
    other = CliRunner().invoke(main, ["--db", path, "list"])
    assert other.exit_code == 1 and "position 13 is unreadable" in other.stderr


def test_verify_reports_the_head_of_the_chain(path):
    with EventSourcedSessionStore(path) as store:
        last = list(store.log.read_all())[-1]
        assert store.verify().last_hash == last.hash
    out = CliRunner().invoke(main, ["--db", path, "verify", "--json"])
    assert __import__("json").loads(out.stdout)["last_hash"] == last.hash
