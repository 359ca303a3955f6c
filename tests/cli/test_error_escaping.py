"""A database's error text is escaped like any other output: `search --fts`
with a query holding terminal control sequences (OSC, CSI) puts none of
them raw on stderr, whatever the full-text engine says back (SQLite's FTS5
quoted the offending token raw)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sessionlog.cli import main

QUERIES = ['"\x1b]0;owned\x07', "a \x1b[31m AND", "\x1b[2J NEAR(", "x\x9b2J OR", "\u202eevil \x00"]
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\x00")


def run(db, *args):
    return CliRunner().invoke(main, ["--db", db, *args])


@pytest.mark.parametrize("query", QUERIES)
def test_a_bad_fts_query_prints_no_control_sequence(db, query):
    assert run(db, "create", "--title", "t").exit_code == 0
    result = run(db, "search", "--fts", query)
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not any(c in result.output for c in RAW), ascii(result.output)


@pytest.mark.parametrize("query", QUERIES)
def test_a_bad_fts_query_under_json_is_one_json_line(db, query):
    assert run(db, "create", "--title", "t").exit_code == 0
    result = run(db, "search", "--fts", query, "--json")
    assert result.exit_code in (0, 1), result.output
    assert not any(c in result.output for c in RAW), ascii(result.output)
    if result.exit_code == 1:
        assert json.loads(result.stderr)["exit_code"] == 1
