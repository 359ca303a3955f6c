"""Which files the CLI creates and alters: a failed command creates nothing,
writes refuse another program's SQLite file unless forced, and the demo's
result is the same however often it runs."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid

import pytest
from click.testing import CliRunner

from sessionlog.cli import main


def run(db, *args, input=None):
    return CliRunner().invoke(main, ["--db", db, *args], input=input)


def leftovers(tmp_path) -> list[str]:
    return sorted(os.listdir(tmp_path))


@pytest.mark.parametrize("args, input", [
    (["add", str(uuid.UUID(int=1)), "--role", "user", "hi"], None),
    (["import", "-"], "not json at all\n"),
    (["import", "-"], '{"id": "x"}\n'),
    (["create", "--title", "caf\udce9"], None),
])
def test_a_failed_command_creates_no_database_file(tmp_path, args, input):
    db = str(tmp_path / "new.db")
    result = run(db, *args, input=input)
    assert result.exit_code != 0
    assert leftovers(tmp_path) == []


def test_a_successful_create_publishes_a_complete_file(tmp_path):
    db = str(tmp_path / "new.db")
    sid = run(db, "create", "--title", "t").stdout.strip()
    assert leftovers(tmp_path) == ["new.db"]
    assert json.loads(run(db, "show", sid, "--json").stdout)["title"] == "t"
    assert run(db, "verify").exit_code == 0


@pytest.fixture
def foreign(tmp_path):
    path = tmp_path / "other app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (x)")
        conn.execute("INSERT INTO notes VALUES (1)")
    conn.close()
    return str(path)


def tables(path) -> list[str]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    return names


@pytest.mark.parametrize("args, input", [
    (["create"], None),
    (["import", "-"], ""),
    (["demo"], None),
])
def test_writes_refuse_another_programs_database(foreign, args, input):
    before = open(foreign, "rb").read()
    result = run(foreign, *args, input=input)
    assert result.exit_code == 1
    assert "another program's SQLite database (tables: notes)" in result.stderr
    assert result.stderr.count("\n") == 1
    assert tables(foreign) == ["notes"] and open(foreign, "rb").read() == before


def test_force_foreign_adds_our_tables_when_asked(foreign):
    sid = run(foreign, "create", "--force-foreign").stdout.strip()
    uuid.UUID(sid)
    assert {"notes", "events"} <= set(tables(foreign))
    assert run(foreign, "create").exit_code == 0  # it holds an event log now


@pytest.mark.parametrize("command", ["create", "import"])
def test_help_names_force_foreign(command):
    out = " ".join(CliRunner().invoke(main, [command, "--help"]).stdout.split())
    assert "refuses another program's SQLite file unless --force-foreign" in out


def test_an_empty_file_is_not_foreign(tmp_path):
    db = tmp_path / "empty.db"
    db.touch()
    assert run(str(db), "create").exit_code == 0


def _log(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT position, stream_id, type, data FROM events").fetchall()
    conn.close()
    return rows


def test_demo_gives_the_same_result_however_often_it_runs(tmp_path):
    db = str(tmp_path / "demo.db")
    first = run(db, "demo")
    assert first.exit_code == 0 and "Recorded 3 conversations" in first.stdout
    log = _log(db)
    assert len(log) == 12 and log[4][2] == "MessageAdded" and "5 business days" in log[4][3]
    for _ in range(2):
        again = run(db, "demo")
        assert again.exit_code == 0 and "already holds the demo; nothing was written" in again.stdout
        assert _log(db) == log
        assert again.stdout.split("\n", 1)[1] == first.stdout.split("\n", 1)[1]


def test_demo_refuses_a_file_with_other_sessions(tmp_path):
    db = str(tmp_path / "mine.db")
    run(db, "create", "--title", "mine")
    result = run(db, "demo")
    assert result.exit_code == 1 and "not the demo's" in result.stderr
    assert len(_log(db)) == 1
