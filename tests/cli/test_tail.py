"""`sessionlog tail`: the last events of the whole log, and with --follow
each event another process commits, live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid

from click.testing import CliRunner

from sessionlog.cli import main


def cli(db, *args):
    result = CliRunner().invoke(main, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_tail_prints_the_last_events_one_per_line(tmp_path):
    db = tmp_path / "t.db"
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


def test_tail_follow_prints_what_another_process_commits(target):
    backend = target  # a file or a database: another process cannot see an in-memory log
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "SESSIONLOG_DB": backend}
    sessionlog = [sys.executable, "-m", "sessionlog"]
    sid = str(uuid.uuid4())
    write(env, sid, "created")
    follower = subprocess.Popen([*sessionlog, "tail", "--follow", "-n", "1"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, follower.kill)  # a hung follower fails, never hangs the suite
    guard.start()
    try:
        first = follower.stdout.readline()
        assert first.startswith("1  ") and "SessionCreated" in first and "'watched'" in first
        for text in ("one", "two"):
            write(env, sid, text)
        lines = [follower.stdout.readline() for _ in range(2)]
        assert [line.split("  ")[0] for line in lines] == ["2", "3"]
        assert lines[0].rstrip().endswith("user: one") and lines[1].rstrip().endswith("user: two")
    finally:
        guard.cancel()
        follower.terminate()
        follower.communicate(timeout=30)


WRITER = """
import os, sys, uuid
from datetime import UTC, datetime
from eventlog import EventLog, MessageAdded, SessionCreated, SessionRole
sid, what = uuid.UUID(sys.argv[1]), sys.argv[2]
now = datetime.now(UTC)
with EventLog(os.environ["SESSIONLOG_DB"]) as log:
    event = (SessionCreated(sid, "watched", now) if what == "created"
             else MessageAdded(sid, SessionRole.USER, what, now))
    log.append(str(sid), [event])
"""


def write(env, sid: str, what: str) -> None:
    """One append by another process."""
    subprocess.run([sys.executable, "-c", WRITER, sid, what], env=env, check=True, timeout=60)


def test_tail_of_a_schema_without_a_log_says_so_and_creates_nothing(pg_url):
    import psycopg
    result = CliRunner().invoke(main, ["--db", pg_url, "tail"])
    assert result.exit_code == 1
    assert result.output == f"Error: no sessionlog log at {pg_url} (pass --db)\n"
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                            ).fetchone()[0] == 0
