"""`verify` compares one consistent snapshot on a connection of its own:
ok on a healthy store while another process writes, nothing written to the
store's file (so a killed verify leaves nothing behind)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from helpers import child_args, store_on

from eventlog.backends.factory import is_url
from projections import SessionMessage, SessionRole

WRITER = str(Path(__file__).with_name("writer.py"))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def fill(path, sessions=40, messages=40):
    with store_on(path) as store:
        for i in range(sessions):
            s = store.create_with_user(f"s{i}", "u", "acme") if i % 2 else store.create(f"s{i}")
            store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"m{i} {j}", datetime.now(UTC))
                                      for j in range(messages)])


def tables(path):
    """The tables of the store's file (SQLite) or schema (PostgreSQL)."""
    if is_url(path):
        import psycopg
        with psycopg.connect(path, autocommit=True) as conn:
            return sorted(r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
    with sqlite3.connect(path) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def test_verify_is_ok_while_another_process_writes(target):
    path = target
    fill(path)
    writer = subprocess.Popen([sys.executable, WRITER, "crash", path, "7", "1", *child_args(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert writer.stdout.readline()  # the writer is writing
        grew = 0
        with store_on(path, catch_up=False) as store:
            for _ in range(4):
                before = store.log.last_position()
                report = store.verify(progress=lambda n: writer.stdout.readline())
                assert report.ok, report.summary()
                grew += store.log.last_position() > before
        assert grew  # writes landed while verify ran
    finally:
        writer.kill()
        writer.wait()


def test_verify_writes_nothing_to_the_file(target):
    path = target
    fill(path, 5, 5)
    before = tables(path)
    with store_on(path, catch_up=False) as store:
        seen = []

        def look(n):
            seen.append(tables(path))

        assert store.verify(progress=look).ok
    assert all(t == before for t in seen) and tables(path) == before


def test_a_killed_verify_leaves_nothing_behind(target):
    path = target
    fill(path, 20, 20)
    before = tables(path)
    code = ("import sys; from projections import EventSourcedSessionStore as S, verify\n"
            "s = S(sys.argv[1], catch_up=False, erasable=sys.argv[-1] == 'erasable')\n"
            "def step(n):\n    print('step', flush=True); sys.stdin.readline()\n"
            "s.verify(progress=step)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, path, *child_args(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=ENV)
    steps = 0
    while proc.stdout.readline() == "step\n":  # verify is paused mid-way
        steps += 1
        if tables(path) != before:
            break  # kill it while it has tables in the file
        proc.stdin.write("\n")
        proc.stdin.flush()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert steps
    assert tables(path) == before
    with store_on(path) as store:
        assert store.verify().ok
