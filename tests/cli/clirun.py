"""Helpers of the CLI tests: what a --db holds, asked through the CLI
itself, so it reads the same on every backend."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sessionlog.cli import main


def events_in(db) -> int:
    """How many events --db holds: 0 where there is no log at all (no file,
    or a schema without our tables)."""
    result = CliRunner().invoke(main, ["--db", db, "stats", "--json"])
    if result.exit_code == 1 and ("no database at" in result.stderr
                                  or "no sessionlog log at" in result.stderr):
        return 0
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["events"]


def log_lines(db) -> list[dict]:
    """Every event of --db as `tail --json` prints it (data decrypted on an
    erasable file), oldest first."""
    result = CliRunner().invoke(main, ["--db", db, "tail", "--from", "1", "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]
