"""CLI errors: our own errors are one clear line; a library bug is not
disguised as one; SQLite errors are translated by result code."""

from __future__ import annotations

import sqlite3

import pytest
from clirun import run

from eventlog import EventLog, LayoutError, StorageError
from eventlog.backends.connection import translate
from eventlog.backends.factory import shown
from eventlog.backends.schema import DB_VERSION
from projections import EventSourcedSessionStore


def _mark_newer(db) -> None:
    """Stamp `db` with the layout of a release after this one: a SQLite
    file's PRAGMA user_version, a PostgreSQL schema's log_meta row."""
    if db.postgres:
        import psycopg
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("UPDATE log_meta SET value = %s WHERE key = 'layout'", (str(DB_VERSION + 1),))
        return
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {DB_VERSION + 1}")
    conn.close()


@pytest.fixture
def newer(tmp_path):
    path = str(tmp_path / "newer.db")
    EventSourcedSessionStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {DB_VERSION + 1}")
    conn.close()
    return path


@pytest.mark.parametrize("args", [["list"], ["create"], ["stats"], ["verify"], ["export"]])
def test_a_database_from_a_newer_release_is_one_clear_line(db, args):
    assert run(db, "import", "-", input="").exit_code == 0  # an empty log of this release
    _mark_newer(db)
    result = run(db, *args)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {shown(db)}: written by a newer sessionlog (database layout {DB_VERSION + 1}; "
        f"this release reads up to {DB_VERSION}); upgrade sessionlog to open it\n")
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.sqlite_only("the layout version is the file's PRAGMA user_version")
def test_the_library_raises_layout_error_and_writes_nothing(newer):
    before = open(newer, "rb").read()
    with pytest.raises(LayoutError) as caught:
        EventLog(newer)
    assert (caught.value.found, caught.value.supported) == (DB_VERSION + 1, DB_VERSION)
    assert isinstance(caught.value, StorageError)
    assert open(newer, "rb").read() == before


@pytest.mark.sqlite_only("translates sqlite3 errors")
def test_sqlite_errors_are_translated_by_code_not_by_message_words(tmp_path):
    """A missing table called full_readonly_locked is not a full, read-only or locked disk."""
    conn = sqlite3.connect(str(tmp_path / "x.db"))
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute("SELECT * FROM full_readonly_locked")
    text = str(translate(caught.value, "x.db"))
    assert text == "x.db: no such table: full_readonly_locked"
    conn.close()


def test_a_library_bug_is_not_disguised_as_a_user_error(db, monkeypatch):
    """Fault injection: a KeyError inside the library keeps its traceback."""
    assert run(db, "create").exit_code == 0

    def broken(self, *args, **kwargs):
        return {}["key"]

    monkeypatch.setattr(EventSourcedSessionStore, "list_summaries", broken)  # what `list` reads
    result = run(db, "list")
    assert result.exit_code != 0
    assert isinstance(result.exception, KeyError)
    assert "Error: 'key'" not in result.stderr
