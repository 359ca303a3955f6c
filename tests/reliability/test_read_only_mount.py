"""A store on a read-only mount, where not even the `-shm` file can be
created, opens for reading and says that writes are impossible (issue 10,
item 8).

As root the directory is bind-mounted read-only in a private mount namespace
(`unshare -m`); as any other user it loses its write permission. Either way
the scenario runs in a child process."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import textwrap
from datetime import UTC, datetime

import helpers
import pytest

from projections import EventSourcedSessionStore, SessionMessage, SessionRole

pytestmark = pytest.mark.sqlite_only('a SQLite file on a read-only mount, where its -shm cannot be made')

SCENARIO = textwrap.dedent("""
    import json, sys
    from click.testing import CliRunner
    from eventlog import ReadOnlyError
    from projections import EventSourcedSessionStore, SessionMessage, SessionRole
    from sessionlog.cli import main
    from datetime import UTC, datetime

    path, sid = sys.argv[1], sys.argv[2]
    out = {}
    try:
        with open(path + "-probe", "w"):
            pass
        out["writable"] = True
    except OSError:
        out["writable"] = False
    try:
        with EventSourcedSessionStore(path) as store:
            out["read_only"] = store.log.read_only
            out["messages"] = [m.content for m in store.get(sid).messages]
            out["listed"] = len(store.list())
            out["hits"] = [h.position for h in store.search("parcel")]
            out["history"] = len(store.history(sid))
            try:
                store.add_message(sid, SessionMessage(SessionRole.USER, "no", datetime.now(UTC)))
                out["write"] = "written"
            except ReadOnlyError as e:
                out["write"] = str(e)
    except Exception as e:
        out["open"] = f"{type(e).__name__}: {e}"
    runner = CliRunner()
    listed = runner.invoke(main, ["--db", path, "list", "--json"])
    out["cli_list"] = [listed.exit_code, listed.stdout or listed.stderr, repr(listed.exception)]
    added = runner.invoke(main, ["--db", path, "add", sid, "--role", "user", "hello"])
    out["cli_add"] = [added.exit_code, added.stderr]
    print(json.dumps(out))
""")


def run_read_only(directory, *args) -> dict:
    """Run SCENARIO with `directory` read-only for the child process."""
    return helpers.run_read_only(directory, SCENARIO, *args)


def make_store(path):
    with EventSourcedSessionStore(path) as store:
        s = store.create_with_user("Order", "alice", "acme")
        store.add_message(s.id, SessionMessage(SessionRole.USER, "where is my parcel",
                                               datetime.now(UTC)))
        store.catch_up()
    return s.id


def test_a_read_only_mount_reads_and_says_writes_are_impossible(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    path = d / "s.db"
    sid = make_store(path)
    assert not os.path.exists(f"{path}-shm")  # closed cleanly: nothing to share
    out = run_read_only(d, path, sid)
    assert out["writable"] is False
    assert "open" not in out, out.get("open")
    assert out["read_only"] is True
    assert out["messages"] == ["where is my parcel"]
    assert out["listed"] == 1 and out["hits"] == [2] and out["history"] == 2
    assert "writes are impossible" in out["write"]
    assert out["cli_list"][0] == 0 and json.loads(out["cli_list"][1])[0]["title"] == "Order"
    code, err = out["cli_add"]
    assert code == 1 and "writes are impossible" in err and len(err.strip().splitlines()) == 1
    with EventSourcedSessionStore(path) as store:  # writable again: nothing changed
        assert store.log.last_position() == 2 and store.verify().ok


def test_a_read_only_copy_with_unread_wal_changes_is_refused_clearly(tmp_path):
    """Reading without the -wal would miss committed writes: refuse, saying why."""
    src = tmp_path / "src.db"
    sid = make_store(src)
    with EventSourcedSessionStore(src) as store:
        conn = sqlite3.connect(src)  # keeps the WAL from being checkpointed away
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        store.log.connection.execute("PRAGMA wal_autocheckpoint = 0")
        store.add_message(sid, SessionMessage(SessionRole.USER, "only in the wal",
                                              datetime.now(UTC)))
        d = tmp_path / "ro"
        d.mkdir()
        shutil.copy(src, d / "s.db")
        shutil.copy(f"{src}-wal", d / "s.db-wal")
        conn.close()
    assert os.path.getsize(d / "s.db-wal") > 0
    out = run_read_only(d, d / "s.db", sid)
    assert "-wal file holds changes" in out["open"]
    code, err, _ = out["cli_list"]
    assert code == 1 and "-wal file holds changes" in err
