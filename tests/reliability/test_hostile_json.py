"""Hostile JSON on import and in session_from_json: deep nesting, a key given
twice and a 5,000-digit integer are refused in one line naming where."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from projections import session_from_json
from sessionlog.cli import main

GOOD = {"id": "8c1d5d2e-5b0c-4c1e-9d2a-1b2c3d4e5f60", "title": "t",
        "created_at": "2026-01-01T00:00:00Z", "messages": []}
GOOD_LINE = json.dumps(GOOD)
DEEP = '{"id": ' + "[" * 100_000 + "]" * 100_000 + "}"
TWICE = GOOD_LINE[:-1] + ', "title": "other"}'
HUGE = GOOD_LINE[:-1] + ', "extra": ' + "7" * 5000 + "}"


CASES = pytest.mark.parametrize("bad, message", [
    (DEEP, "nested too deeply"),
    (TWICE, "duplicate key 'title'"),
    (HUGE, "a number of 5000 digits"),
], ids=["deep", "twice", "huge"])


@CASES
def test_session_from_json_raises_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        session_from_json(bad)


@pytest.mark.parametrize("layout", ["lines", "array", "object"])
@CASES
def test_import_names_file_and_place_in_one_line_and_writes_nothing(tmp_path, layout, bad, message):
    path = tmp_path / "in.json"
    if layout == "lines":
        path.write_text(f"{GOOD_LINE}\n{bad}\n")
        where = f"{path}:2"
    elif layout == "array":
        path.write_text(f"[{GOOD_LINE}, {bad}]")
        where = f"{path}: record 2"
    else:
        path.write_text(bad.replace(", ", ",\n"))
        where = f"{path}:1"
    db = str(tmp_path / "x.db")
    result = CliRunner().invoke(main, ["--db", db, "import", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: {where}: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert not os.path.exists(db)
