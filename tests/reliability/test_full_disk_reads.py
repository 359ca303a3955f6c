"""Reads work on a full disk: the lazy catch-up on opening is skipped with a
warning instead of failing `list`, `export` and `verify` (issue 10, item 7).

The disk is a small tmpfs mounted in a private mount namespace (`unshare
-m`, as root); the scenario runs in that child process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.sqlite_only("a SQLite file and its -wal on a full tmpfs")

SCENARIO = textwrap.dedent("""
    import json, os, sqlite3, sys
    from datetime import UTC, datetime
    from click.testing import CliRunner
    from projections import EventSourcedSessionStore, SessionMessage, SessionRole
    from sessionlog.cli import main

    d = sys.argv[1]
    path = os.path.join(d, "s.db")
    def msg(t):
        return SessionMessage(SessionRole.USER, t, datetime.now(UTC))
    with EventSourcedSessionStore(path) as store:
        sid = store.create("kept").id
        store.add_message(sid, msg("an early word"))
        store.catch_up()
    # Keeps -wal and -shm in place, as any long-lived reader of the file does.
    anchor = sqlite3.connect(path)
    anchor.execute("SELECT count(*) FROM events").fetchone()
    with EventSourcedSessionStore(path) as store:  # the lazy search view falls behind
        store.add_messages(sid, [msg(f"later {i} " + "x" * 2000) for i in range(40)])
    out = {"behind": None}
    with EventSourcedSessionStore(path, catch_up=False) as store:
        out["behind"] = store.stats()["checkpoints"]["search"]["behind"]
    with open(os.path.join(d, "filler"), "wb", buffering=0) as f:  # fill the disk to the last byte
        try:
            while True:
                f.write(b"\\0" * 4096)
        except OSError:
            pass
    runner = CliRunner()
    for name, args in [("list", ["list", "--json"]), ("export", ["export"]),
                       ("verify", ["verify"]), ("search", ["search", "early"]),
                       ("add", ["add", str(sid), "--role", "user", "one more"])]:
        r = runner.invoke(main, ["--db", path, *args])
        out[name] = [r.exit_code, r.stdout, r.stderr]
    anchor.close()
    print(json.dumps(out))
""")


def test_reads_work_on_a_full_disk(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("CI must run this as root with unshare(1) (it mounts a tmpfs)")
        pytest.skip("needs root and unshare(1) to mount a small tmpfs as the full disk")
    d = tmp_path / "disk"
    d.mkdir()
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=2m tmpfs "$0" && exec "$@"',
         str(d), sys.executable, "-c", SCENARIO, str(d)],
        capture_output=True, text=True, timeout=300)
    if done.returncode and "mount" in done.stderr and "Traceback" not in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["behind"] == 40
    code, stdout, stderr = out["list"]
    assert code == 0, stderr
    assert [s["title"] for s in json.loads(stdout)] == ["kept"]
    assert json.loads(stdout)[0]["item_count"] == 41  # a summary (f7e2d42): no messages
    assert stderr.startswith("warning: views not brought up to date")
    assert "full" in stderr and len(stderr.strip().splitlines()) == 1
    code, stdout, stderr = out["export"]
    assert code == 0, stderr
    assert len(json.loads(stdout.splitlines()[0])["items"]) == 41  # sessionlog/1 records (8b690ae)
    code, stdout, stderr = out["verify"]
    assert code == 0, stderr
    assert stdout.startswith("ok")
    code, stdout, stderr = out["search"]
    assert code == 0 and "[early]" in stdout, stderr  # searched as it is, with a warning
    assert "warning: search view not brought up to date" in stderr
    code, _, stderr = out["add"]
    assert code == 1 and "full" in stderr
