"""`sessionlog tail`: the last events of the whole log, and with --follow
each event another process commits, live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from click.testing import CliRunner

from eventlog import EventLog
from sessionlog.cli import main


def cli(db, *args):
    result = CliRunner().invoke(main, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_tail_prints_the_last_events_one_per_line(db):
    cli(db, "demo")
    lines = cli(db, "tail", "-n", "3").splitlines()
    assert [line.split("  ")[0] for line in lines] == ["10", "11", "12"]
    assert lines[0].endswith("user: Remember that the staging password rotates on Fridays.")
    assert "SessionDeleted  demo" in lines[2]
    assert [json.loads(x)["position"] for x in cli(db, "tail", "--from", "11", "--json")
            .splitlines()] == [11, 12]


def test_tail_help_has_an_example():
    out = CliRunner().invoke(main, ["tail", "--help"]).output
    assert "Example" in out and "--follow" in out


def test_tail_follow_prints_what_another_process_commits(db):
    """Other processes (`sessionlog create` / `add`) commit; the follower
    prints each event, decrypted on an erasable file."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "SESSIONLOG_DB": db}
    sessionlog = [sys.executable, "-m", "sessionlog"]
    sid = write(env, "create", "--title", "watched").strip()
    follower = subprocess.Popen([*sessionlog, "tail", "--follow", "-n", "1"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, follower.kill)  # a hung follower fails, never hangs the suite
    guard.start()
    try:
        first = follower.stdout.readline()
        assert first.startswith("1  ") and "SessionCreated" in first and "'watched'" in first
        for text in ("one", "two"):
            write(env, "add", sid, "--role", "user", text)
        lines = [follower.stdout.readline() for _ in range(2)]
        assert [line.split("  ")[0] for line in lines] == ["2", "3"]
        assert lines[0].rstrip().endswith("user: one") and lines[1].rstrip().endswith("user: two")
    finally:
        guard.cancel()
        follower.terminate()
        follower.communicate(timeout=30)


def write(env, *args: str) -> str:
    """One write by another process; its output."""
    return subprocess.run([sys.executable, "-m", "sessionlog", *args], env=env, check=True,
                          timeout=60, capture_output=True, text=True).stdout


def test_tail_of_a_schema_without_a_log_says_so_and_creates_nothing(pg_url):
    import psycopg
    result = CliRunner().invoke(main, ["--db", pg_url, "tail"])
    assert result.exit_code == 1
    assert result.output == f"Error: no sessionlog log at {pg_url} (pass --db)\n"
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                            ).fetchone()[0] == 0


def test_tail_huge_numbers_are_one_line_never_a_traceback(db):
    """A position past what a database holds is one clear line (exit 2);
    a huge -n is simply the whole log; the library reads nothing past the end."""
    cli(db, "demo")
    for huge in ("18446744073709551616", "9223372036854775808", str(10**40)):
        result = CliRunner().invoke(main, ["--db", str(db), "tail", "--from", huge])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
        assert "--from" in result.stderr.strip().splitlines()[-1]
    assert cli(db, "tail", "--from", "9223372036854775807") == ""
    assert len(cli(db, "tail", "-n", "18446744073709551616").splitlines()) == 12
    if db.erasable:
        return  # the library opens it with its key; the bound is the same code
    with EventLog(str(db)) as log:
        assert list(log.read_all(2**64)) == []
        assert list(log.subscribe(2**64, stop=_set())) == []
        assert len(list(log.read_batches(1, to_position=2**64))) == 1


def _set() -> threading.Event:
    stop = threading.Event()
    stop.set()
    return stop
