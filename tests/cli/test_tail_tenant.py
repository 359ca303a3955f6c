"""`sessionlog tail --tenant T`: only T's events (its sessions' and its
state's), with and without --follow, on every backend; a follower of one
tenant never prints another's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from click.testing import CliRunner

from sessionlog.cli import main

A, B = "acme", "acme:evil"


def cli(db, *args) -> str:
    result = CliRunner().invoke(main, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def tails(db, *args) -> list[dict]:
    return [json.loads(x) for x in cli(db, "tail", "--json", *args).splitlines()]


def session(db, tenant: str, title: str) -> str:
    sid = cli(db, "create", "--title", title, "--user", "ann", "--tenant", tenant).strip()
    cli(db, "add", sid, "--role", "user", f"{tenant} says {title}")
    return sid


def test_tail_tenant_prints_only_that_tenants_events(db):
    """-n counts the tenant's own events; --from starts at a position;
    another tenant's and an untenanted session's events never show."""
    a1 = session(db, A, "a1")
    b1 = session(db, B, "b1")
    cli(db, "create", "--title", "nobody's")
    a2 = session(db, A, "a2")
    session(db, B, "b2")
    every = tails(db, "--from", "1")
    mine = [e for e in every if e["stream_id"] in (a1, a2)]
    assert len(mine) == 4 and len(every) == 9
    assert tails(db, "--tenant", A, "--from", "1") == mine
    assert tails(db, "--tenant", A, "-n", "3") == mine[-3:]
    assert tails(db, "--tenant", A, "--from", str(mine[2]["position"])) == mine[2:]
    assert [e["stream_id"] for e in tails(db, "--tenant", B, "-n", "100")].count(b1) == 2
    assert tails(db, "--tenant", "nobody") == []
    plain = cli(db, "tail", "--tenant", A, "-n", "1")
    assert plain.count("\n") == 1 and "acme says a2" in plain and "evil" not in plain


def test_tail_tenant_follow_never_prints_another_tenants_events(db):
    """A follower of A (another process) prints A's events as other processes
    commit them, and none of B's committed in between."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "SESSIONLOG_DB": db}
    a1 = session(db, A, "before")
    follower = subprocess.Popen(
        [sys.executable, "-m", "sessionlog", "tail", "--tenant", A, "--follow", "--json",
         "-n", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, follower.kill)  # a hung follower fails, never hangs the suite
    guard.start()
    try:
        line = follower.stdout.readline()
        assert line, follower.communicate(timeout=30)[1]  # it died: say why
        first = json.loads(line)
        assert first["stream_id"] == a1 and first["type"] == "MessageAdded"
        for n in range(3):
            write(env, "create", "--title", f"b{n}", "--tenant", B)
            write(env, "add", a1, "--role", "user", f"a{n}")
        lines = [json.loads(follower.stdout.readline()) for _ in range(3)]
        assert [x["stream_id"] for x in lines] == [a1] * 3
        assert [x["position"] for x in lines] == [
            e["position"] for e in tails(db, "--from", str(first["position"] + 1))
            if e["stream_id"] == a1]
    finally:
        guard.cancel()
        follower.terminate()
        out, _ = follower.communicate(timeout=30)
    assert '"acme:evil"' not in out and "b2" not in out


def write(env, *args: str) -> str:
    """One write by another process; its output."""
    return subprocess.run([sys.executable, "-m", "sessionlog", *args], env=env, check=True,
                          timeout=60, capture_output=True, text=True).stdout
