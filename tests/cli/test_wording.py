"""What the CLI says where a new user was misled (issue 20, item 8): erase of
an unknown user, a directory as --db, a damaged file at `create`, compact
on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from clirun import run


@pytest.fixture
def erasable(tmp_path):
    """An erasable file with alice's session in tenant acme (the demo)."""
    path = tmp_path / "chats.db"
    made = run(path, "--erasable", "demo")
    assert made.exit_code == 0, made.output
    return path


def test_erase_of_an_unknown_user_says_so_and_exits_3(erasable):
    out = run(erasable, "erase", "--user", "nobody", "--tenant", "acme")
    assert out.exit_code == 3
    assert out.stdout == ""
    assert out.stderr == (f"Error: user 'nobody' of tenant 'acme' is not known in {erasable}: "
                          "nothing was erased (no data of that user is in the file: never "
                          "written here, or erased earlier)\n")


def test_erase_of_an_unknown_user_under_json_is_a_json_error_with_exit_3(erasable):
    out = run(erasable, "erase", "--user", "nobody", "--tenant", "acme", "--json")
    assert out.exit_code == 3
    error = json.loads(out.stderr)
    assert error["exit_code"] == 3 and "nothing was erased" in error["error"]
    assert "already" not in out.stdout


def test_erase_of_a_user_erased_earlier_says_so_and_exits_0(erasable):
    first = run(erasable, "erase", "--user", "alice", "--tenant", "acme", "--json")
    assert first.exit_code == 0, first.output
    done = json.loads(first.stdout)
    assert done["already"] is False
    again = run(erasable, "erase", "--user", "alice", "--tenant", "acme", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {
        "already": True, "sessions": 0, "position": done["position"],
        "subject": done["subject"],
        "detail": f"already erased at position {done['position']}: nothing to erase"}
    other = run(erasable, "erase", "--user", "alice", "--tenant", "globex")
    assert other.exit_code == 3 and "nothing was erased" in other.stderr


@pytest.mark.sqlite_only("a directory is a path, not a PostgreSQL URL")
@pytest.mark.parametrize("args", [["list"], ["create", "--title", "x"], ["stats"], ["tail"],
                                  ["import", "-"], ["verify"]])
def test_a_directory_as_db_is_called_a_directory(tmp_path, args):
    folder = tmp_path / "chats"
    folder.mkdir()
    out = run(folder, *args)
    assert out.exit_code == 1
    assert out.stderr == (f"Error: {folder} is a directory, not a database file (pass a file "
                          f"in it: --db {folder / 'sessions.db'})\n")
    assert list(folder.iterdir()) == []


def damage(path, table: str) -> None:
    """Garble the cell pointers of `table`'s first page: quick_check then
    reports several lines about it."""
    import sqlite3
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno",
                            (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as f:
        f.seek((page - 1) * size + 8)
        f.write(b"\x0f\x10\x0f\x20")


@pytest.mark.sqlite_only("a damaged page of the file")
def test_create_on_a_damaged_file_is_one_line(tmp_path):
    path = tmp_path / "chats.db"
    assert run(path, "demo").exit_code == 0
    damage(path, "sessions")
    out = run(path, "create", "--title", "x")
    assert out.exit_code == 1
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert "damaged pages (On tree page" in out.stderr and "***" not in out.stderr


@pytest.mark.sqlite_only("a damaged page of the file")
@pytest.mark.parametrize("command", [["create", "--title", "x"], ["list"], ["tail"]])
def test_a_damaged_events_page_is_one_line_and_no_traceback(tmp_path, command):
    """A damaged page of the log itself (not a view) is read on opening (catch-up, the
    tail): one line, no traceback."""
    path = tmp_path / "chats.db"
    assert run(path, "demo").exit_code == 0
    damage(path, "events")
    out = run(path, *command)
    assert out.exit_code == 1, out.stderr
    assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr


def test_compact_never_reports_a_bigger_database(db):
    """`compact` after a demo and a delete gives space back or keeps the size,
    on every backend (on PostgreSQL a plain VACUUM added its free-space and
    visibility maps: 0.57 MB -> 0.95 MB)."""
    import re
    assert run(db, "demo").exit_code == 0
    listed = json.loads(run(db, "list", "--json").stdout)
    for summary in listed[:2]:
        assert run(db, "delete", summary["id"]).exit_code == 0
    out = run(db, "compact")
    assert out.exit_code == 0, out.output
    before, after = map(float, re.search(r"([\d.]+) MB -> ([\d.]+) MB", out.stdout).groups())
    assert after <= before, out.stdout
    again = run(db, "compact")
    before2, after2 = map(float, re.search(r"([\d.]+) MB -> ([\d.]+) MB", again.stdout).groups())
    assert after2 <= before2, again.stdout


@pytest.mark.parametrize(("url", "hint"), [
    ("sqlite+aiosqlite:///adk.db", "--db='adk.db'"),
    ("postgresql+psycopg://me:secret@dbhost/chats", "--db='postgresql://me:***@dbhost/chats'"),
])
def test_a_sqlalchemy_url_as_db_names_the_value_to_pass(tmp_path, monkeypatch, url, hint):
    monkeypatch.chdir(tmp_path)
    for args in (["list"], ["create", "--title", "x"], ["tail"]):
        out = run(url, *args)
        assert out.exit_code == 1
        assert out.stderr == f"Error: {url.replace('secret', '***')!r} is a SQLAlchemy URL; " \
                             f"--db takes {'the SQLite file itself' if 'sqlite' in url else 'a libpq URL, without the driver'}: {hint}\n"
    assert list(tmp_path.iterdir()) == []
