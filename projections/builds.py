"""Builds of fresh projection tables (a rebuild's, or an import's): who owns
them (`projection_builds`: a process on a host), whether that process still
runs, and dropping the tables a killed build left behind."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime
from typing import Any

from eventlog.backends.dialect import Db

#: What the name of a build's fresh table holds: `<table>__rebuild_<token>`.
REBUILD_MARK = "__rebuild_"
#: Who is building which fresh tables: a build's tables are dropped by
#: another process only once their owner process is gone.
BUILDS = "projection_builds"
_BUILDS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {BUILDS} (token TEXT PRIMARY KEY, pid INTEGER NOT NULL, "
    "started TEXT, host TEXT NOT NULL, created_at TEXT NOT NULL)"
)


def start_time(pid: int) -> str | None:
    """When the process started (Linux: clock ticks after boot), to tell it
    from a later process that reuses its id; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def alive(pid: int, started: str | None, host: str) -> bool:
    """Whether the process that owns a build still runs (True when this
    host cannot tell: another machine, or no way to ask)."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return started == start_time(pid)
    if started is not None and os.path.isdir("/proc/self"):
        return start_time(pid) == started
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def fresh_names(tables: tuple[str, ...], token: str) -> dict[str, str]:
    """The names of a build's fresh copies of `tables`."""
    return {t: f"{t}{REBUILD_MARK}{token}" for t in tables}


def start(db: Db) -> str:
    """Inside a write: register a build owned by this process; returns its
    token (see `fresh_names`)."""
    token = secrets.token_hex(4)
    db.execute(_BUILDS_DDL)
    db.execute(
        f"INSERT INTO {BUILDS} (token, pid, started, host, created_at) VALUES (?, ?, ?, ?, ?)",
        (token, os.getpid(), start_time(os.getpid()), socket.gethostname(),
         datetime.now(UTC).isoformat()),
    )
    return token


def unfinished(db: Db) -> list[dict[str, Any]]:
    """The fresh tables of builds that have not finished: each with its
    owner process, whether that still runs, and the bytes its tables use
    (None where the database cannot tell)."""
    d = db.dialect
    names = d.build_tables(db, REBUILD_MARK)
    if not names:
        return []
    owners: dict[str, tuple[int, str | None, str]] = {}
    if BUILDS in d.tables(db):
        owners = {r[0]: (r[1], r[2], r[3]) for r in db.execute(
            f"SELECT token, pid, started, host FROM {BUILDS}")}
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        token = name.split(REBUILD_MARK, 1)[1][:8]
        owner = owners.get(token)
        b = found.setdefault(token, {
            "token": token, "tables": [], "pid": owner[0] if owner else None,
            "alive": owner is not None and alive(*owner), "bytes": 0})
        b["tables"].append(name)
        size = d.table_bytes(db, name)
        if size is None:
            b["bytes"] = None
        elif b["bytes"] is not None:
            b["bytes"] += size
    return list(found.values())


def drop_leftovers(db: Db, token: str | None = None) -> int:
    """Inside a write: drop the half-built tables of the build `token`, or of
    every build whose owner process is gone; returns how many tables."""
    dropped = 0
    for b in unfinished(db):
        if b["token"] == token or (token is None and not b["alive"]):
            for name in b["tables"]:
                db.execute(f"DROP TABLE IF EXISTS {db.q(name)}")
                dropped += 1
    if token is not None or dropped:
        tables = db.dialect.tables(db)
        if BUILDS in tables:
            live = {n for n in tables if REBUILD_MARK in n}
            for (t,) in db.execute(f"SELECT token FROM {BUILDS}").fetchall():
                if t == token or not any(REBUILD_MARK + t in n for n in live):
                    db.execute(f"DELETE FROM {BUILDS} WHERE token = ?", (t,))
    return dropped
