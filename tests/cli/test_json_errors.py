"""Under --json, a command's error is a JSON object on stderr with the exit
code the plain error has, for every command that has --json, a usage error
included (issue 20, item 8)."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from sessionlog.cli import main

JSON_COMMANDS = sorted(name for name, command in main.commands.items()
                       if any(p.name == "as_json" for p in command.params))


def json_error(result) -> dict:
    """The one JSON line a failed command printed on stderr."""
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    error = json.loads(lines[0])
    assert error["exit_code"] == result.exit_code
    return error


def test_every_json_command_is_covered():
    assert {"create", "erase", "history", "list", "search", "show", "stats", "tail",
            "verify", "copy"} <= set(JSON_COMMANDS)


@pytest.mark.parametrize("command", JSON_COMMANDS)
def test_a_usage_error_under_json_is_a_json_object(command, tmp_path):
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), command, "--json",
                                       "--no-such-option"])
    error = json_error(result)
    if command == "search":  # its words may start with "-": it says there is no database
        assert result.exit_code == 1 and error["error"].startswith("no database at")
    else:
        assert result.exit_code == 2 and "--no-such-option" in error["error"]


def test_a_missing_database_under_json_is_a_json_object(tmp_path):
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "none.db"), "list", "--json"])
    assert result.exit_code == 1
    assert json_error(result)["error"].startswith("no database at")


def test_a_library_error_under_json_is_a_json_object_on_every_backend(db):
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "create", "--title", "t"]).exit_code == 0
    missing = str(uuid.uuid4())
    shown = runner.invoke(main, ["--db", db, "show", missing, "--json"])
    plain = runner.invoke(main, ["--db", db, "show", missing])
    assert shown.exit_code == plain.exit_code == 1
    assert plain.stderr == f"Error: {json_error(shown)['error']}\n"
    bad = runner.invoke(main, ["--db", db, "search", "--json", "?"])
    assert bad.exit_code == 1
    assert "no letters or digits" in json_error(bad)["error"]


def test_without_json_errors_stay_plain_text(tmp_path):
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "none.db"), "list"])
    assert result.stderr.startswith("Error: no database at")


def test_a_json_after_double_dash_is_text_not_the_option(db):
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "create", "--title", "t"]).exit_code == 0
    result = runner.invoke(main, ["--db", db, "search", "--", "--json"])
    assert result.exit_code == 0
