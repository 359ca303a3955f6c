"""SIGKILL during `erase_user`, at random moments: afterwards the subject is
either fully erased or fully readable, the other user is untouched, `verify`
passes, and once erased no secret is left in the files."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from projections import EventSourcedSessionStore, SessionMessage, SessionRole

SECRET = "Zebulon Quagmire 4111 1111 1111 1111"
CHILD = """
import sys
from projections import EventSourcedSessionStore
store = EventSourcedSessionStore(sys.argv[1], erasable=True)
print("ready", flush=True)
store.erase_user("u1", "t1", reason="crash test")
print("done", flush=True)
"""


def template(tmp_path: Path) -> Path:
    db = tmp_path / "template.db"
    with EventSourcedSessionStore(db, erasable=True) as store:
        for user in ("u1", "u2"):
            for n in range(20):
                s = store.create_session(f"{SECRET} {n}", user_id=user, tenant_id="t1")
                store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"{SECRET} says {i}",
                                                         datetime.now(UTC)) for i in range(10)])
        assert store.search("Quagmire")
        store.log.vacuum()  # the WAL folded in: the template is one file (and its key)
    return db


def run_once(db: Path, delay: float | None) -> float:
    """Run the erase, killed `delay` seconds after it starts (None: not
    killed); returns the seconds it ran."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    if delay is None:
        assert proc.stdout.readline().strip() == "done"
    else:
        time.sleep(delay)  # a random moment of the erase, not a timing assertion
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return time.perf_counter() - start


def check(db: Path) -> bool:
    """True when u1 was erased; asserts it is all or nothing."""
    with EventSourcedSessionStore(db, erasable=True) as store:
        report = store.verify()
        assert report.ok, report.summary()
        mine = store.list_summaries(tenant_id="t1", user_id="u1")
        others = store.list_summaries(tenant_id="t1", user_id="u2")
        assert len(others) == 20
        assert all(store.get(s.id).messages[9].content == f"{SECRET} says 9" for s in others)
        erased = [e for e in store.log.read_all() if e.type == "SubjectErased"]
        if erased:
            assert mine == [] and len(erased) == 1
            assert store.search("Quagmire", tenant_id="t1")  # u2's
            assert all(h.session_id not in {str(s.id) for s in mine}
                       for h in store.search("Quagmire"))
        else:
            assert len(mine) == 20
            assert all(store.get(s.id).title.startswith(SECRET) for s in mine)
    return bool(erased)


def kill_loop(tmp_path: Path, kills: int, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    base = template(tmp_path)
    db = tmp_path / "e.db"
    shutil.copy(base, db)
    shutil.copy(str(base) + ".key", str(db) + ".key")
    span = run_once(db, None) * 1.2  # how long a whole erase takes here, and a bit
    outcomes = [0, 0]
    for _ in range(kills):
        for ext in ("", "-wal", "-shm", ".key"):
            Path(str(db) + ext).unlink(missing_ok=True)
        shutil.copy(base, db)
        shutil.copy(str(base) + ".key", str(db) + ".key")
        run_once(db, rng.uniform(0, span))
        outcomes[check(db)] += 1
    return outcomes[0], outcomes[1]


def test_erase_is_all_or_nothing_under_sigkill(tmp_path):
    kept, erased = kill_loop(tmp_path, kills=6, seed=1)
    assert kept + erased == 6


@pytest.mark.slow
def test_erase_survives_many_sigkills(tmp_path):
    kept, erased = kill_loop(tmp_path, kills=40, seed=2)
    assert kept and erased  # the kills landed on both sides of the commit
