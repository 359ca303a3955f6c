"""`search` through the CLI takes `parc*` and `parcel?` as a person means
them, on every backend (issue 20, item 6)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sessionlog.cli import main


def test_search_through_the_cli_finds_a_prefix_query_with_a_question_mark(db):
    runner = CliRunner()
    made = runner.invoke(main, ["--db", db, "create", "--title", "t", "--json"])
    assert made.exit_code == 0, made.output
    sid = json.loads(made.stdout)["id"]
    added = runner.invoke(main, ["--db", db, "add", "--role", "user", sid, "where is my parcel"])
    assert added.exit_code == 0, added.output
    for query in ("parc*", "parcel?", "where is my parc?"):
        result = runner.invoke(main, ["--db", db, "search", "--json", query])
        assert result.exit_code == 0, result.output
        assert [h["position"] for h in json.loads(result.stdout)] == [2], query
