"""`verify` on a read-only file (a read-only mount, or a directory the user
cannot write) says ok when nothing is wrong, and `verify --expect-hash`
works there: with a clean file (it said "cannot open database file") and
with a -wal and -shm left beside it (it reported a false FTS5
integrity-check failure, "attempt to write a readonly database")."""

from __future__ import annotations

import json
import shutil
import sqlite3
import textwrap

import helpers
import pytest
from click.testing import CliRunner

from sessionlog.cli import main

pytestmark = pytest.mark.sqlite_only("a SQLite file on a read-only mount")

SCENARIO = textwrap.dedent("""
    import json, sys
    from click.testing import CliRunner
    from sessionlog.cli import main
    path, expected = sys.argv[1], sys.argv[2]
    out = {}
    for name, args in (("verify", []), ("expect", ["--expect-hash", expected]),
                       ("json", ["--json"])):
        r = CliRunner().invoke(main, ["--db", path, "verify", *args])
        out[name] = [r.exit_code, r.stdout, r.stderr, repr(r.exception)]
    print(json.dumps(out))
""")


def run_read_only(directory, *args) -> dict:
    """Run SCENARIO with `directory` read-only for the child process."""
    return helpers.run_read_only(directory, SCENARIO, *args)


def make_file(path) -> str:
    """A demo file and its last hash (verify --json on the writable file)."""
    assert CliRunner().invoke(main, ["--db", str(path), "demo"]).exit_code == 0
    result = CliRunner().invoke(main, ["--db", str(path), "verify", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["last_hash"]


def check(out: dict, expected: str) -> None:
    for name in ("verify", "expect", "json"):
        code, stdout, stderr, exc = out[name]
        assert code == 0, (name, stdout, stderr, exc)
        assert "FAILED" not in stdout + stderr
    assert out["verify"][1].startswith("ok: ")
    assert "unchanged" in out["expect"][1]
    assert json.loads(out["json"][1])["last_hash"] == expected


@pytest.mark.parametrize("leftover", ["clean", "wal"])
def test_verify_on_a_read_only_file_says_ok(tmp_path, leftover):
    d = tmp_path / "ro"
    d.mkdir()
    src = tmp_path / "src.db"
    expected = make_file(src)
    if leftover == "wal":  # copied while a reader had it open: its -wal and -shm beside it
        held = sqlite3.connect(src)
        held.execute("SELECT count(*) FROM events").fetchone()
        for extra in ("", "-wal", "-shm"):
            shutil.copy(f"{src}{extra}", d / f"s.db{extra}")
        held.close()
    else:
        shutil.copy(src, d / "s.db")
    check(run_read_only(d, d / "s.db", expected), expected)
