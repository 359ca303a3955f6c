"""What the CLI says where a new user was misled (issue 20, item 8): erase of
an unknown user, a directory as --db, a damaged file at `create`, compact
on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sessionlog.cli import main


def run(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


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
