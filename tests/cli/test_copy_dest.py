"""`copy` keeps its promise "DEST is left as it was": a refused copy or one
that fails midway (a source whose chain breaks at an event) leaves a SQLite
DEST byte for byte the same (a missing one not created) and a PostgreSQL
DEST without any new table; its refusals name only options `copy` has."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from clirun import broken_source
from helpers import raw_connection

from eventlog.backends.factory import is_url
from sessionlog.cli import main


def cli(db, *args, input=None):
    return CliRunner().invoke(main, ["--db", str(db), *args], input=input)


def ok(db, *args, input=None) -> str:
    result = cli(db, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def as_it_is(dest) -> object:
    """What DEST holds: a file's bytes and the files beside it, or the
    schema's tables and functions."""
    if is_url(dest):
        with raw_connection(dest) as conn:
            return sorted(conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() UNION ALL "
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema()").fetchall())
    folder = os.path.dirname(dest)
    return (open(dest, "rb").read() if os.path.exists(dest) else None, sorted(os.listdir(folder)))


def test_a_copy_that_fails_midway_leaves_dest_as_it_was(db, tmp_path):
    """DEST as a fresh database is (no file, an empty schema, an erasable
    file without events)."""
    src, before = broken_source(tmp_path), as_it_is(db)
    result = cli(src, "copy", db)
    why = "copy DEST --erasable" if db.erasable else "position 9"  # a plain copy is refused there
    assert result.exit_code == 1 and why in result.stderr
    assert as_it_is(db) == before


def test_a_copy_that_fails_midway_leaves_an_empty_sessionlog_dest_as_it_was(db, tmp_path):
    ok(db, "import", "-", input="")  # sessionlog's tables, no event
    src, before = broken_source(tmp_path), as_it_is(db)
    assert before[0] if not is_url(db) else before  # there is something to keep
    result = cli(src, "copy", db, *(["--erasable"] if db.erasable else []))
    assert result.exit_code == 1 and "position 9" in result.stderr
    assert as_it_is(db) == before


def test_a_refused_copy_into_a_dest_with_events_leaves_it_as_it_was(db, tmp_path):
    ok(db, "import", "-", input='{"id": "00000000-0000-0000-0000-000000000001", '
                                '"created_at": "2026-01-01T00:00:00Z", "messages": []}')
    src = str(tmp_path / "a.db")
    ok(src, "demo")
    before = as_it_is(db)
    result = cli(src, "copy", db, *(["--erasable"] if db.erasable else []))
    assert result.exit_code == 1 and "already holds 1 event(s)" in result.stderr
    assert as_it_is(db) == before


@pytest.mark.backends("sqlite-file", "postgres")
def test_a_foreign_dest_is_refused_without_naming_an_option_copy_lacks(db, tmp_path):
    with raw_connection(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    src = str(tmp_path / "a.db")
    ok(src, "demo")
    before = as_it_is(db)
    result = cli(src, "copy", db)
    assert result.exit_code == 1 and "another program's database" in result.stderr
    assert "--force-foreign" not in result.output and "nothing was written" in result.stderr
    assert as_it_is(db) == before


@pytest.mark.backends("sqlite-file")
def test_an_empty_existing_file_gets_the_copy(tmp_path):
    """An existing empty DEST (0 bytes, made by `touch`) takes a copy."""
    src, dest = str(tmp_path / "a.db"), tmp_path / "b.db"
    ok(src, "demo")
    dest.touch()
    assert "copied 12 event(s)" in ok(src, "copy", str(dest))
    assert ok(src, "list", "--json") == ok(dest, "list", "--json")
    assert sorted(os.listdir(tmp_path)) == ["a.db", "b.db"]


@pytest.mark.backends("sqlite-erasable")
def test_a_plain_copy_into_an_erasable_dest_points_at_copy_erasable(db, tmp_path):
    src = str(tmp_path / "a.db")
    ok(src, "demo")
    before = as_it_is(db)
    result = cli(src, "copy", db)
    assert result.exit_code == 1 and "copy DEST --erasable" in result.stderr
    assert as_it_is(db) == before
    assert "re-encrypted 12 event(s)" in ok(src, "copy", db, "--erasable")
