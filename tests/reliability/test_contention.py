"""Contention: 4 processes x 2 threads writing to the same sessions lose
nothing, double nothing, and keep each writer's order; busy retries are
bounded."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import child_args, store_on

from eventlog import StorageError
from eventlog.backends.connection import retry
from projections import SessionMessage, SessionRole

WRITER = str(Path(__file__).with_name("writer.py"))


def contend(db: str, per_thread: int) -> None:
    with store_on(db) as store:
        ids = [str(store.create(f"shared {i}").id) for i in range(3)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, WRITER, "contend", db, f"p{p}", str(per_thread),
                               ",".join(ids), *child_args(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for p in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, out + err
        assert "errors: []" in out
    with store_on(db) as store:
        report = store.verify()
        assert report.ok, report.summary()  # positions gapless, versions contiguous
        seen = []
        for sid in ids:
            contents = [m.content for m in store.get(sid).messages]
            seen += contents
            for writer in {c.rsplit("-", 1)[0] for c in contents}:
                mine = [int(c.rsplit("-", 1)[1]) for c in contents if c.startswith(writer + "-")]
                assert mine == sorted(mine), f"{writer} out of order in {sid}"
        expected = {f"p{p}-t{t}-{k}" for p in range(4) for t in range(2) for k in range(per_thread)}
        assert len(seen) == len(expected) and set(seen) == expected  # none lost, none doubled


def test_four_processes_two_threads_each(target):
    """On a SQLite file, PostgreSQL and an erasable file (positions gapless
    in commit order, which verify checks)."""
    contend(target, per_thread=40)


# The long run is on the plain SQLite file only: it is there for SQLite's busy
# handling and retries (PostgreSQL's writers queue on a row lock), and the short
# run above covers every target.
@pytest.mark.slow
def test_four_processes_two_threads_each_long(tmp_path):
    contend(str(tmp_path / "busy.db"), per_thread=300)


def test_busy_retries_are_bounded():
    calls = []

    def flaky(fail_times):
        def run():
            calls.append(1)
            if len(calls) <= fail_times:
                busy = sqlite3.OperationalError("database is locked")
                busy.sqlite_errorcode, busy.sqlite_errorname = sqlite3.SQLITE_BUSY, "SQLITE_BUSY"
                raise busy
            return "done"
        return run

    assert retry(flaky(3), timeout=0.001, attempts=5) == "done" and len(calls) == 4
    calls.clear()
    with pytest.raises(sqlite3.OperationalError):
        retry(flaky(10), timeout=0.001, attempts=5)
    assert len(calls) == 5
    calls.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry(lambda: calls.append(1) or (_ for _ in ()).throw(
            sqlite3.OperationalError("no such table: x")), timeout=0.001)
    assert len(calls) == 1  # other errors are not retried


def test_a_writer_that_stays_locked_out_gets_a_clear_error(target):
    path = target
    with store_on(path) as store:
        session = store.create("x")
        store.catch_up()  # so that opening below has nothing to write
    blocker = hold_the_writer_lock(path)
    try:
        with store_on(path, timeout=0.05) as store:
            with pytest.raises(StorageError, match="stayed locked"):
                store.add_message(session.id, SessionMessage(SessionRole.USER, "x", datetime.now(UTC)))
            assert store.get(session.id).title == "x"  # reads go on meanwhile
            blocker.execute("ROLLBACK")
            # The lock is free: the same store writes again (nothing was left half-open).
            store.add_message(session.id, SessionMessage(SessionRole.USER, "y", datetime.now(UTC)))
    finally:
        blocker.close()
    with store_on(path) as store:
        assert [m.content for m in store.get(session.id).messages] == ["y"]


def hold_the_writer_lock(target: str):
    """Another connection in a write transaction holding the writers' lock."""
    if target.startswith("postgresql://"):
        import psycopg
        conn = psycopg.connect(target, autocommit=True)
        conn.execute("BEGIN")
        conn.execute("UPDATE log_head SET writes = writes + 1")
        return conn
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn
