"""What the CLI accepts as input: message text, --as-of times and positions,
--limit; bad input is one line and writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from clirun import events_in, ok, run

from eventlog import parse_timestamp
from projections import SessionMessage, SessionRole


@pytest.fixture
def session(db):
    return db, ok(db, "create").strip()


def messages(db, sid) -> list[str]:
    return [m["content"] for m in json.loads(ok(db, "show", sid, "--json"))["messages"]]


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_blank_text_is_refused_unless_allowed(session, text):
    db, sid = session
    result = run(db, "add", sid, "--role", "user", text)
    assert result.exit_code == 1 and "empty or blank; nothing was written" in result.stderr
    assert run(db, "add", sid, "--role", "user", "-", input=text).exit_code == 1
    assert messages(db, sid) == []
    ok(db, "add", sid, "--role", "user", "--allow-empty", text)
    assert messages(db, sid) == [text]


def test_stdin_loses_exactly_one_trailing_newline(session):
    db, sid = session
    ok(db, "add", sid, "--role", "user", "-", input="line one\nline two\n")
    ok(db, "add", sid, "--role", "user", "-", input="windows\r\n")
    ok(db, "add", sid, "--role", "user", "-", input="two blank lines\n\n")
    assert messages(db, sid) == ["line one\nline two", "windows", "two blank lines\n"]


def test_invalid_utf8_on_stdin_names_the_byte(session):
    db, sid = session
    result = run(db, "add", sid, "--role", "user", "-", input=b"caf\xc3\xa9 ok \xff no")
    assert result.exit_code == 1
    assert result.stderr == "Error: stdin is not valid UTF-8 at byte 9\n"
    assert messages(db, sid) == []


def test_invalid_utf8_in_arguments_names_the_byte(db):
    cmd = [sys.executable, "-m", "sessionlog", "--db", db]
    sid = subprocess.run([*cmd, "create"], capture_output=True, text=True, check=True).stdout.strip()
    bad = subprocess.run([*cmd.copy(), "add", sid, "--role", "user", b"ab\xffcd"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Invalid value for 'TEXT': not valid UTF-8 at byte 2" in bad.stderr
    assert "Traceback" not in bad.stderr
    title = subprocess.run([*cmd, "create", "--title", b"\xe9t\xe9"], capture_output=True, text=True)
    assert title.returncode == 2 and "'--title': not valid UTF-8 at byte 0" in title.stderr


def test_add_echoes_the_canonical_id(session):
    db, sid = session
    typed = "{" + sid.upper() + "}"
    assert ok(db, "add", typed, "--role", "user", "hi") == f"added user message to {sid}\n"


def test_every_time_history_prints_selects_up_to_its_row(db):
    """--as-of with a time copied from `history` (either form) equals --as-of the
    last position printed with that time."""
    sid = ok(db, "create").strip()
    for i in range(6):
        ok(db, "add", sid, "--role", "user", f"m{i}")
    rows = [line.split() for line in ok(db, "history", sid).splitlines()[1:]]
    printed = [(int(r[0]), f"{r[3]} {r[4]}") for r in rows]
    trail = json.loads(ok(db, "history", sid, "--json"))
    for (position, when), event in zip(printed, trail, strict=True):
        assert event["position"] == position
        last = max(p for p, w in printed if w == when)
        expected = json.loads(ok(db, "show", sid, "--as-of", str(last), "--json"))
        assert json.loads(ok(db, "show", sid, "--as-of", when, "--json")) == expected
        assert json.loads(ok(db, "show", sid, "--as-of", event["recorded_at"], "--json")) == expected


def test_a_time_counts_to_the_end_of_its_last_digit(db):
    sid = ok(db, "create", "--title", "t").strip()
    ok(db, "add", sid, "--role", "user", "x")
    recorded = parse_timestamp(json.loads(ok(db, "history", sid, "--json"))[1]["recorded_at"])
    millis = recorded.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"
    seconds = recorded.strftime("%Y-%m-%d %H:%M:%S")
    for moment in (millis, seconds):
        assert [m["content"] for m in json.loads(
            ok(db, "show", sid, "--as-of", moment, "--json"))["messages"]] == ["x"]
    before = (recorded - timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"
    earlier = run(db, "show", sid, "--as-of", before, "--json")  # created in that ms, or before it
    assert "did not exist" in earlier.stderr or json.loads(earlier.stdout)["messages"] == []


@pytest.mark.parametrize("as_of", ["２０２６-01-01T00:00:00Z", "2026-01-0１", "１２", "99999999999999999999",
                                   "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_bad_as_of_is_one_line(session, as_of):
    db, sid = session
    result = run(db, "show", sid, "--as-of", as_of)
    assert result.exit_code in (1, 2)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")


@pytest.mark.parametrize("command", [["list", "--limit"], ["search", "x", "--limit"]])
def test_a_limit_past_the_sqlite_range_is_one_line(session, command):
    db, _ = session
    result = run(db, *command, str(2**63))
    assert result.exit_code == 1 and result.stderr == (
        f"Error: limit out of range: {2**63} (at most {2**63 - 1})\n")


def test_the_library_raises_value_error_for_out_of_range_input(open_store):
    with open_store() as store:
        s = store.create("t")
        for call in (lambda: store.replay(s.id, 2**63), lambda: store.list(2**63),
                     lambda: store.search("x", limit=2**64)):
            with pytest.raises(ValueError, match="out of range"):
                call()
        late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
        with pytest.raises(ValueError, match="out of range in UTC"):
            store.replay(s.id, late)
        with pytest.raises(ValueError, match="out of range in UTC"):
            store.add_message(s.id, SessionMessage(SessionRole.USER, "x", late))
        assert store.get(s.id).messages == []


@pytest.mark.parametrize("text", ["２０２０-01-01T00:00:00Z", "2020-01-01T00:00:0٠Z", "2020-01-01T00:00:00+0٥:00"])
def test_timestamps_refuse_non_ascii_digits(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_import_refuses_non_ascii_digits_in_timestamps(db, tmp_path):
    path = tmp_path / "digits.jsonl"
    path.write_text(json.dumps({"id": str(uuid.uuid4()), "title": "t",
                                "created_at": "２０２０-01-01T00:00:00Z", "messages": []}) + "\n")
    result = run(db, "import", str(path))
    assert result.exit_code == 1 and f"{path}:1: " in result.stderr
    assert events_in(db) == 0
    if db.kind == "sqlite-file":
        assert not os.path.exists(db)
