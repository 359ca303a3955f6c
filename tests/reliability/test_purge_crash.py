"""A real SIGKILL at each statement of `erase_user`, and of `erase` of one
session of a user (its purge included): after the next open the erased
words, and their hashes in the search index, are in no byte of the db, -wal
or -shm (issue 19, item 2: a kill after the purge cleared its "pending" mark
but before the WAL was truncated left them there, and reopening did not
purge again; item 4: one session of a user is erased alone)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import leaks

from projections import EventSourcedSessionStore, SessionMessage, SessionRole
from projections.erasure.search_terms import TermHasher

pytestmark = pytest.mark.sqlite_only("raw bytes of a SQLite file and its WAL")

#: What u1 says (and what must go) and what u2 says (and must stay).
ERASED_WORDS = ("zebulon", "quagmire", "xylophonic")
KEPT = "Ophelia Brackwater hums marmalade"
#: What u1 says in the one session `erase` takes (the "session" mode: the
#: rest of u1 must stay).
SESSION_WORDS = ("gribbleflux", "snorkelwump", "quintessarine")

#: Erase u1 (or, in "session" mode, u1's session keyed "doomed"); with a
#: statement number, SIGKILL itself as that statement of the writing
#: connection starts (a real kill at a chosen point, no timing).
CHILD = """
import os, signal, sys
from projections import EventSourcedSessionStore
store = EventSourcedSessionStore(sys.argv[1], erasable=True)
kill_at, seen, mode = int(sys.argv[2]), [], sys.argv[3]
doomed = store.get_by_key("doomed", tenant_id="t1") if mode == "session" else None
def trace(sql):
    seen.append(sql)
    if len(seen) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
store.log.backend.conn.set_trace_callback(trace)
if doomed is None:
    store.erase_user("u1", "t1", reason="crash test")
else:
    store.erase(doomed.id, reason="crash test")
store.log.backend.conn.set_trace_callback(None)
for sql in seen:
    print(" ".join(sql.split()))
"""


def template(tmp_path: Path) -> Path:
    db = tmp_path / "template.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        for user, words in (("u1", " ".join(ERASED_WORDS)), ("u2", KEPT)):
            for n in range(4):
                s = store.create_session(f"{words} {n}", user_id=user, tenant_id="t1")
                store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"{words} says {i}",
                                                         datetime.now(UTC)) for i in range(6)])
        s = store.create_session(" ".join(SESSION_WORDS), user_id="u1", tenant_id="t1",
                                 key="doomed")
        store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"{' '.join(SESSION_WORDS)} {i}",
                                                 datetime.now(UTC)) for i in range(6)])
        assert store.search("quagmire") and store.search("marmalade")
        assert store.search("snorkelwump")
        store.log.vacuum()  # the WAL folded in: the template is one file (and its key)
    return db


def erase(db: Path, kill_at: int, mode: str) -> list[str]:
    """Run the erase in a child killed at statement `kill_at` (0: never);
    the statements it ran when it was not killed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(db), str(kill_at), mode],
                          capture_output=True, text=True, env=env, timeout=120)
    if kill_at:
        assert proc.returncode == -9, proc.stderr
        return []
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def needles(store, words) -> list[str]:
    """The words, and their hashes as the search index keeps them."""
    key = store.log.sealer.search_key(store.log.connection)
    hasher = TermHasher(key)
    return [*words, *(hasher.word(w) for w in words), *(hasher.group(w)[-1] for w in words)]


def reopen_and_check(db: Path, mode: str) -> bool:
    """Reopen (which finishes a purge cut short); True when the erase
    happened, and then no byte of the files holds the erased words, open or
    closed; what was not erased reads and searches as before."""
    with EventSourcedSessionStore(db, erasable=True) as store:
        assert len(store.list_summaries(tenant_id="t1", user_id="u2")) == 4
        assert store.search("marmalade", tenant_id="t1")
        if mode == "user":
            words = needles(store, ERASED_WORDS)
            erased = not store.list_summaries(tenant_id="t1", user_id="u1")
        else:
            words = needles(store, SESSION_WORDS)
            erased = store.get_by_key("doomed", tenant_id="t1") is None
            assert len(store.list_summaries(tenant_id="t1", user_id="u1")) == 4 + (not erased)
            assert store.search("quagmire")
        if erased:
            assert store.search(words[0]) == []
            assert leaks(db, words) == [], "after the reopen"
        assert store.verify().ok
    if erased:
        assert leaks(db, words) == [], "after closing"
    return erased


def kill_points(statements: list[str], rounds: int) -> list[int]:
    """Every checkpoint of the WAL and every change of the purge mark, then
    statements spread evenly over the whole erase, `rounds` in all."""
    key = [i + 1 for i, sql in enumerate(statements)
           if "wal_checkpoint" in sql or "purge_pending" in sql]
    step = max(1, len(statements) // max(1, rounds - len(key)))
    spread = list(range(1, len(statements) + 1, step))
    return sorted(set(key) | set(spread[:max(0, rounds - len(key))]))


def kill_loop(tmp_path: Path, rounds: int, mode: str = "user") -> tuple[int, int]:
    base = template(tmp_path)
    db = tmp_path / "e.db"

    def fresh() -> None:
        for ext in ("", "-wal", "-shm", ".key"):
            Path(str(db) + ext).unlink(missing_ok=True)
        shutil.copy(base, db)
        shutil.copy(str(base) + ".key", str(db) + ".key")

    fresh()
    statements = erase(db, 0, mode)
    assert any("wal_checkpoint" in sql for sql in statements)
    assert reopen_and_check(db, mode)
    outcomes = [0, 0]
    for at in kill_points(statements, rounds):
        fresh()
        erase(db, at, mode)
        outcomes[reopen_and_check(db, mode)] += 1
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("mode", ["user", "session"])
def test_a_purge_killed_at_its_checkpoints_finishes_on_the_next_open(tmp_path, mode):
    _kept, erased = kill_loop(tmp_path, rounds=6, mode=mode)
    assert erased  # kills after the commit, in the purge


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["user", "session"])
def test_an_erase_killed_at_forty_points_leaves_no_word_after_reopen(tmp_path, mode):
    kept, erased = kill_loop(tmp_path, rounds=40, mode=mode)
    assert kept and erased  # the kills landed on both sides of the commit
