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
from clirun import events_in, log_lines, run

from sessionlog.cli import main


def leftovers(tmp_path) -> list[str]:
    return sorted(os.listdir(tmp_path))


@pytest.mark.sqlite_only("the files a failed command leaves beside --db (none)")
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


@pytest.mark.parametrize("args, input", [
    (["import", "-"], "not json at all\n"),
    (["import", "-"], '{"id": "x"}\n'),
    (["create", "--title", "caf\udce9"], None),
])
def test_a_failed_command_writes_no_event(db, args, input):
    result = run(db, *args, input=input)
    assert result.exit_code != 0
    assert events_in(db) == 0


@pytest.mark.sqlite_only("the files a new --db is published as")
def test_a_successful_create_publishes_a_complete_file(tmp_path):
    db = str(tmp_path / "new.db")
    sid = run(db, "create", "--title", "t").stdout.strip()
    assert leftovers(tmp_path) == ["new.db"]
    assert json.loads(run(db, "show", sid, "--json").stdout)["title"] == "t"
    assert run(db, "verify").exit_code == 0


@pytest.fixture
def foreign(target):
    """Another program's database, one table `notes` with one row: a SQLite
    file, or a PostgreSQL schema."""
    if target.postgres:
        import psycopg
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("CREATE TABLE notes (x integer)")
            conn.execute("INSERT INTO notes VALUES (1)")
        return target
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE notes (x)")
        conn.execute("INSERT INTO notes VALUES (1)")
    conn.close()
    return target


def tables(db) -> list[str]:
    if db.postgres:
        import psycopg
        with psycopg.connect(db) as conn:
            return sorted(r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    return names


def content(db) -> object:
    """The whole file; on PostgreSQL, the rows of `notes`."""
    if db.postgres:
        import psycopg
        with psycopg.connect(db) as conn:
            return conn.execute("SELECT x FROM notes").fetchall()
    return open(db, "rb").read()


# Another program's database is never an erasable file (we make those).
@pytest.mark.backends("sqlite-file", "postgres")
@pytest.mark.parametrize("args, input", [
    (["create"], None),
    (["import", "-"], ""),
    (["demo"], None),
])
def test_writes_refuse_another_programs_database(foreign, args, input):
    before = content(foreign)
    result = run(foreign, *args, input=input)
    assert result.exit_code == 1
    kind = "database" if foreign.postgres else "SQLite database"
    assert f"another program's {kind} (tables: notes)" in result.stderr
    assert result.stderr.count("\n") == 1
    assert tables(foreign) == ["notes"] and content(foreign) == before


@pytest.mark.backends("sqlite-file", "postgres")
def test_force_foreign_adds_our_tables_when_asked(foreign):
    sid = run(foreign, "create", "--force-foreign").stdout.strip()
    uuid.UUID(sid)
    assert {"notes", "events"} <= set(tables(foreign))
    assert run(foreign, "create").exit_code == 0  # it holds an event log now


@pytest.mark.backends("sqlite-file", "postgres")
def test_read_commands_refuse_another_programs_database(foreign):
    for args in (["list"], ["show", str(uuid.uuid4())], ["stats"], ["tail"]):
        result = run(foreign, *args)
        assert result.exit_code == 1, args
        assert ("is not a sessionlog database" in result.stderr
                or "no sessionlog log at" in result.stderr), (args, result.stderr)
    assert tables(foreign) == ["notes"]


@pytest.mark.parametrize("command", ["create", "import"])
def test_help_names_force_foreign(command):
    out = " ".join(CliRunner().invoke(main, [command, "--help"]).stdout.split())
    assert "refuses another program's SQLite file unless --force-foreign" in out


@pytest.mark.sqlite_only("an empty file (an empty schema is every PostgreSQL test's start)")
def test_an_empty_file_is_not_foreign(tmp_path):
    db = tmp_path / "empty.db"
    db.touch()
    assert run(str(db), "create").exit_code == 0


def test_demo_gives_the_same_result_however_often_it_runs(db):
    first = run(db, "demo")
    assert first.exit_code == 0 and "Recorded 3 conversations" in first.stdout
    log = log_lines(db)  # every event with its time and hash
    assert len(log) == 12 and log[4]["type"] == "MessageAdded"
    assert "5 business days" in log[4]["data"]["content"]
    for _ in range(2):
        again = run(db, "demo")
        assert again.exit_code == 0 and "already holds the demo; nothing was written" in again.stdout
        assert log_lines(db) == log
        assert again.stdout.split("\n", 1)[1] == first.stdout.split("\n", 1)[1]


def test_demo_refuses_a_file_with_other_sessions(db):
    run(db, "create", "--title", "mine")
    result = run(db, "demo")
    assert result.exit_code == 1 and "not the demo's" in result.stderr
    assert events_in(db) == 1
