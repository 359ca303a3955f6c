"""The CLI rows of scripts/bench.py: peak memory and time of `list`,
`list --json` and `history` as a person runs them, each in its own process
(issue 20: under 150 MB on 2,000 sessions of 100 messages, and `history` of
one 200,000-message session)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from projections import EventSourcedSessionStore, SessionMessage, SessionRole

ROOT = Path(__file__).resolve().parent.parent
TEXT = "The refund for order 1142 was issued; it reaches your card within five business days."

# The child: run the CLI, output to /dev/null, then report its own peak RSS
# (VmHWM: ru_maxrss would carry the forked parent's over exec).
CHILD = """
import json, os, resource, sys
from sessionlog.cli import main
out = sys.argv.pop(1)
code = 0
try:
    main(args=sys.argv[1:], prog_name="sessionlog")
except SystemExit as e:
    code = e.code or 0
try:
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
except (OSError, StopIteration):
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(out, "w") as f:
    json.dump({"code": code, "kb": kb}, f)
"""

SIZES = {"full": dict(sessions=2000, per=100, history=200_000),
         "quick": dict(sessions=200, per=100, history=20_000)}


def _messages(n: int, start: int = 0) -> list[SessionMessage]:
    from datetime import UTC, datetime
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [SessionMessage(SessionRole.USER if i % 2 == 0 else SessionRole.ASSISTANT,
                           f"{i} {TEXT}", at) for i in range(start, start + n)]


def build(path: str, sessions: int, per: int) -> None:
    """`sessions` sessions of `per` messages each."""
    with EventSourcedSessionStore(path) as store:
        for i in range(sessions):
            s = store.create_session(f"s{i}", user_id="u", tenant_id="acme", key=f"k{i}")
            store.add_messages(s.id, _messages(per))


def build_long(path: str, messages: int) -> str:
    """One session of `messages` messages; its id."""
    with EventSourcedSessionStore(path) as store:
        s = store.create_session("long")
        for start in range(0, messages, 5000):
            store.add_messages(s.id, _messages(min(5000, messages - start), start))
    return str(s.id)


def measure(workdir: Path, args: list[str]) -> tuple[float, float]:
    """(seconds, peak MB) of one `sessionlog ARGS` run in a fresh process."""
    report = workdir / "cli-peak.json"
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(report), *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"sessionlog {' '.join(args)} failed: {done.stderr}")
    seconds = time.perf_counter() - t
    got: dict[str, Any] = json.loads(report.read_text())
    if got["code"] != 0:
        raise RuntimeError(f"sessionlog {' '.join(args)} exited {got['code']}: {done.stderr}")
    return seconds, got["kb"] / 1024


def cli_memory(bench: Any, mode: str) -> None:
    """Rows of section "cli": time and peak RSS per command."""
    size = SIZES[mode]
    print("cli, each command in its own process", flush=True)
    many = bench.path("cli-many")
    build(many, size["sessions"], size["per"])
    long = bench.path("cli-long")
    sid = build_long(long, size["history"])
    label = f"{size['sessions']:,} sessions x {size['per']}"
    for what, db, args in (
        (f"list ({label})", many, ["list"]),
        (f"list --all ({label})", many, ["list", "--all"]),
        (f"list --all --json ({label})", many, ["list", "--all", "--json"]),
        (f"history of a {size['history']:,}-message session", long, ["history", sid]),
        (f"history --json of a {size['history']:,}-message session", long,
         ["history", sid, "--json"]),
    ):
        seconds, mb = measure(bench.dir, ["--db", db, *args])
        bench.row("cli", f"{what}: time", seconds * 1000, "ms", None)
        bench.row("cli", f"{what}: peak RSS", mb, "MB", None, "target < 150 MB")
