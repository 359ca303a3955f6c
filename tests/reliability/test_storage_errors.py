"""A read-only file, a missing directory and a full disk give one clear
error and leave the file intact."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from helpers import store_on

from eventlog import ReadOnlyError, StorageError
from projections import EventSourcedSessionStore, SessionMessage, SessionRole
from sessionlog.cli import main


def msg(text):
    return SessionMessage(SessionRole.USER, text, datetime.now(UTC))


@pytest.fixture
def filled(target):
    """A SQLite file (plain or erasable: the tests using it say `sqlite_only`)."""
    path = target
    with store_on(path) as store:
        s = store.create("kept")
        store.add_message(s.id, msg("kept too"))
        store.catch_up()
        expected = store.get(s.id)
    return path, expected


@pytest.mark.sqlite_only("an immutable database file (chattr +i)")
def test_a_read_only_file_reads_and_refuses_writes_clearly(filled):
    path, expected = filled
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", path]).returncode:
        pytest.skip("this filesystem cannot make a file immutable (chattr +i)")
    try:
        with store_on(path) as store:
            assert store.get(expected.id) == expected
            with pytest.raises(ReadOnlyError, match="read-only; nothing was written"):
                store.add_message(expected.id, msg("lost?"))
            with pytest.raises(ReadOnlyError):
                store.create("no")
        result = CliRunner().invoke(main, ["--db", path, "create"])
        assert result.exit_code == 1
        assert result.stderr.strip().endswith("database is read-only; nothing was written")
        listed = CliRunner().invoke(main, ["--db", path, "list", "--json"])
        assert listed.exit_code == 0 and "kept" in listed.stdout
    finally:
        subprocess.run(["chattr", "-i", path], check=True)
    with store_on(path) as store:
        assert store.get(expected.id) == expected and store.verify().ok


@pytest.mark.sqlite_only("a file path whose directory is missing")
def test_a_missing_directory_is_one_clear_line(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "s.db"
    with pytest.raises(StorageError, match="does not exist"):
        EventSourcedSessionStore(missing)
    result = CliRunner().invoke(main, ["--db", str(missing), "create"])
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert "Traceback" not in result.output
    assert not missing.parent.exists()


@pytest.mark.sqlite_only("SQLite's page quota (PRAGMA max_page_count) as the full disk")
def test_a_full_disk_is_one_clear_error_and_loses_nothing(filled):
    path, expected = filled
    with store_on(path) as store:
        conn = store.log.connection
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 3}")  # SQLite's own quota
        returned = []
        with pytest.raises(StorageError, match="full; nothing was written"):
            for i in range(1000):
                store.add_message(expected.id, msg(f"{i} " + "x" * 3000))
                returned.append(f"{i} " + "x" * 3000)
        before = store.log.last_position()
        with pytest.raises(StorageError, match="full"):
            store.add_messages(expected.id, [msg("y" * 3000), msg("z" * 3000)])
        assert store.log.last_position() == before
    with store_on(path) as store:
        contents = [m.content for m in store.get(expected.id).messages]
        assert contents == ["kept too", *returned]
        assert store.verify().ok
        assert store.list() == [store.get(expected.id)]
        assert [s.id for s in store.list()] == [expected.id]
