"""Rebuilds and verifies running at the same time all succeed: a build's
half-built tables are dropped only once the process that owns them is gone
(on the next open, or by `compact`), and `stats` shows them meanwhile."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from helpers import child_args, store_on

from eventlog.backends.factory import is_url
from projections import SessionMessage, SessionRole
from sessionlog.cli import main

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
# A rebuild in another process that stops after its first batch until told to go on.
PAUSED = (
    "import sys\nfrom projections import EventSourcedSessionStore as S\n"
    "s = S(sys.argv[1], erasable=sys.argv[-1] == 'erasable')\n"
    "def step(n):\n    print('paused', flush=True); sys.stdin.readline()\n"
    "print('rebuilt', s.rebuild(progress=step, batch_size=100), flush=True)\n"
)


def fill(p):
    with store_on(p) as store:
        for i in range(10):
            s = store.create_with_user(f"s{i}", "u", "acme")
            store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"word{i} {j} " * 20,
                                                     datetime.now(UTC)) for j in range(30)])
    return p


@pytest.fixture
def path(target):
    """310 events in a SQLite file (plain or erasable) or a PostgreSQL schema."""
    return fill(target)


def paused_rebuild(path):
    proc = subprocess.Popen([sys.executable, "-c", PAUSED, path, *child_args(path)],
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout.readline() == "paused\n", proc.stderr.read()
    return proc


def leftovers(path):
    """The tables of unfinished builds (in the file, or the schema)."""
    if is_url(path):
        import psycopg
        with psycopg.connect(path) as conn:
            return sorted(r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename LIKE '%%rebuild%%'"))
    with sqlite3.connect(path) as conn:
        return sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE '%rebuild%' AND type = 'table'"))


def finish(proc):
    out, err = proc.communicate("\n" * 1000, timeout=120)
    assert proc.returncode == 0, err
    return out


def test_a_rebuild_and_a_verify_beside_a_running_rebuild_all_succeed(path):
    other = paused_rebuild(path)
    theirs = leftovers(path)
    assert theirs
    with store_on(path) as store:
        assert store.rebuild() == 310
        assert store.verify().ok
    assert set(theirs) <= set(leftovers(path))  # the live build's tables were left alone
    assert "rebuilt 310" in finish(other)
    assert leftovers(path) == []
    with store_on(path) as store:
        assert store.verify().ok


def test_stats_shows_a_running_build_and_a_killed_ones_tables_go_on_open(path):
    other = paused_rebuild(path)
    info = json.loads(CliRunner().invoke(main, ["--db", path, "stats", "--json"]).stdout)
    [build] = info["unfinished_builds"]
    assert build["alive"] and build["pid"] == other.pid and build["bytes"] > 0
    assert "running" in CliRunner().invoke(main, ["--db", path, "stats"]).stdout
    other.send_signal(signal.SIGKILL)
    other.wait()
    assert leftovers(path)
    info = json.loads(CliRunner().invoke(main, ["--db", path, "stats", "--json"]).stdout)
    assert info["unfinished_builds"] == [] and leftovers(path) == []


@pytest.mark.sqlite_only("file size after a WAL checkpoint")
def test_compact_gives_a_failed_rebuilds_space_back(tmp_path):
    path = fill(str(tmp_path / "r.db"))
    with store_on(path) as store:
        size = store.log.file_bytes()
    other = paused_rebuild(path)
    other.send_signal(signal.SIGKILL)
    other.wait()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    grown = os.path.getsize(path)
    assert grown > size
    result = CliRunner().invoke(main, ["--db", path, "compact"])
    assert result.exit_code == 0, result.output
    assert "dropped" in result.stdout and leftovers(path) == []
    with store_on(path) as store:
        assert store.log.file_bytes() < grown
        assert store.verify().ok
