"""Helpers of the CLI tests: what a --db holds, asked through the CLI
itself, so it reads the same on every backend."""

from __future__ import annotations

import json
import os
import sqlite3

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


def run(db, *args, input=None):
    """`sessionlog --db DB ARGS...` in-process (click's CliRunner)."""
    return CliRunner().invoke(main, ["--db", str(db), *args], input=input)


def ok(db, *args, input=None) -> str:
    """`run`, which must succeed; its stdout."""
    result = run(db, *args, input=input)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def broken_source(tmp_path) -> str:
    """A log of 12 events whose chain breaks at event 9 (edited by hand)."""
    os.mkdir(tmp_path / "src")
    src = str(tmp_path / "src" / "a.db")
    ok(src, "demo")
    conn = sqlite3.connect(src)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET data = data || ' ' WHERE position = 9")
    conn.commit()
    conn.close()
    return src
