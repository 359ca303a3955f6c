"""A damaged file gives one clear line, never a traceback; writes refuse a
file with damaged pages; views whose checkpoint disagrees with their tables
are recovered by `rebuild`."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from helpers import db_args, raw_connection

from eventlog import StorageError
from projections import EventSourcedSessionStore
from sessionlog.cli import main


@pytest.fixture
def path(tmp_path):
    """The demo sessions in a SQLite file."""
    p = str(tmp_path / "d.db")
    assert run(p, "demo").exit_code == 0
    return p


@pytest.fixture
def demo(target):
    """The demo sessions in a SQLite file (plain or erasable) or a PostgreSQL schema."""
    assert run(target, "demo").exit_code == 0
    return target


def run(path, *args):
    return CliRunner().invoke(main, [*db_args(path), *args])


def damage(path, table):
    """Overwrite the b-tree header of one of `table`'s pages."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno",
                            (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(b"\xff" * 200)


@pytest.mark.sqlite_only("a damaged page of the file")
def test_reads_of_a_damaged_page_are_one_line(path):
    damage(path, "items")
    for args in (["list"], ["export"], ["verify"]):
        result = run(path, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output and result.exception is not None
        assert "corrupt" in result.stderr or "damaged" in result.stderr or \
            "FAILED" in result.stdout, (args, result.output)
        assert not isinstance(result.exception, sqlite3.Error)


@pytest.mark.parametrize("args", [["create", "--title", "x"], ["create", "--title", "y", "--user", "u", "--tenant", "t"]])
@pytest.mark.sqlite_only("a damaged page of the file")
def test_writes_refuse_a_file_with_damaged_pages(path, args):
    with sqlite3.connect(path) as conn:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    damage(path, "tenant_sessions")
    result = run(path, *args)
    assert result.exit_code == 1 and "damaged pages" in result.stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == events


@pytest.mark.sqlite_only("a damaged page of the file")
def test_the_library_refuses_too(path):
    damage(path, "tenant_sessions")
    with pytest.raises(StorageError, match="damaged pages"):
        EventSourcedSessionStore(path).create("x")


def test_a_rolled_back_checkpoint_is_recovered_by_rebuild(demo):
    path = demo
    with raw_connection(path) as conn:
        # Inline checkpoints are derived from the log (projection_derived):
        # rolling one back means making it explicit too.
        conn.execute("DELETE FROM projection_derived")
        conn.execute("UPDATE projection_checkpoints SET position = 3")
    listed = run(path, "list")
    assert listed.exit_code == 0 and "Refund" in listed.stdout
    assert "sessionlog rebuild" in listed.stderr  # the warning says what recovers it
    assert run(path, "verify").exit_code == 1
    rebuilt = run(path, "rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert run(path, "verify").exit_code == 0
    info = json.loads(run(path, "stats", "--json").stdout)
    assert all(c["behind"] == 0 for c in info["checkpoints"].values())
