"""The README is true to the CLI and the files (issue 20, item 9): its
command table lists every command `sessionlog --help` lists, and its
schema section names the tables a file has, plain and erasable."""

from __future__ import annotations

import pathlib
import re
import sqlite3

import pytest
from click.testing import CliRunner

from sessionlog.cli import main

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()


def section(title: str) -> str:
    """The README's text from a heading to the next heading of its level."""
    level = title.split(" ", 1)[0]
    start = README.index(title + "\n")
    ends = [m.start() for m in re.finditer(rf"^{level} ", README[start + 1:], re.M)]
    return README[start:start + 1 + ends[0]] if ends else README[start:]


def help_commands() -> set[str]:
    """The commands `sessionlog --help` lists."""
    out = CliRunner().invoke(main, ["--help"]).stdout
    listed = out.split("Commands:\n", 1)[1]
    return {line.split()[0] for line in listed.splitlines() if line.startswith("  ") and
            not line.startswith("   ")}


def table_commands() -> set[str]:
    """The commands the README's command table names (each code span of a
    row's first cell starts with one)."""
    text = section("## The command line")
    table = text[text.index("| command |"):].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {span.split()[0] for row in rows for span in re.findall(r"`([^`]+)`",
                                                                  row.split(" | ")[0])}


def test_the_command_table_lists_every_command_of_help():
    assert table_commands() == help_commands()
    assert {"tail", "erase", "copy"} <= table_commands()


def schema_tables() -> set[str]:
    """The table names the schema section names (in backticks, after the
    events table's columns)."""
    text = section("### The log's schema").split("event chains from 64 zeros.", 1)[1]
    text = text.split("```", 1)[0]
    return set(re.findall(r"`([a-z_]+\*?)`", text))


@pytest.mark.parametrize("erasable", [False, True], ids=["plain", "erasable"])
def test_the_schema_section_names_the_tables_a_file_has(tmp_path, erasable):
    path = tmp_path / "sessions.db"
    runner = CliRunner()
    made = runner.invoke(main, ["--db", str(path), *(["--erasable"] if erasable else []), "demo"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(main, ["--db", str(path), "rebuild"]).exit_code == 0
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    named = schema_tables()
    shadow = {t for t in tables if t.startswith("message_search_")}
    assert "message_search_*" in named
    assert tables - shadow - {"events"} <= named, "a table the README does not name"
    plain_only = {"message_search_content"}  # the erasable file's index keeps no text
    erasure = {t for t in named if t.startswith("erasure_")}
    expected = named - {"message_search_*", "tsvector"} - plain_only - (set() if erasable else erasure)
    assert expected <= tables, "the README names a table the file does not have"
    assert "messages" not in named
