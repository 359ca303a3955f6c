"""`verify` of an erasable store reads the keys as they were when it
started (#19 item 7): an erase that commits in another connection or
process while verify is between two of its reads is no false mismatch.
Before, verify opened the sealed fields with the keys as of now: events
read after the erase folded to `[erased]` under keys its snapshot still
held, and the fresh views differed from the live ones."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from helpers import store_on

from projections import ErasureError, NewItem, SessionMessage, SessionRole
from projections.verify import verify

#: The backends with erasable stores (PostgreSQL's joins when it has them).
pytestmark = pytest.mark.backends("sqlite-erasable")

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
ERASE = ("import sys; from projections import EventSourcedSessionStore as S, ErasureError\n"
         "with S(sys.argv[1], erasable=True) as s:\n"
         "    try:\n"
         "        e = s.erase_user('ann', 'acme') if sys.argv[2] == 'user' else s.erase(sys.argv[2])\n"
         "        print(e.sessions)\n"
         "    except ErasureError as e:\n"
         "        print(-1 if 'erased, but' in str(e) else e)\n")


def fill(store) -> str:
    """Sessions of two users (items, a user state) and one without a user,
    every view caught up (search too); returns the id of the last."""
    for user in ("ann", "bob"):
        for i in range(3):
            s = store.create_session(f"{user} {i}", user_id=user, tenant_id="acme")
            store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"{user} hello {i} {j}",
                                                     datetime.now(UTC)) for j in range(4)])
            store.add_items(s.id, [NewItem("tool", {"who": user}, text=f"{user} tool {i}")],
                            user_state_delta={"seen": i})
    alone = store.create("alone")
    store.add_messages(alone.id, [SessionMessage(SessionRole.USER, f"alone {j}", datetime.now(UTC))
                                  for j in range(4)])
    assert store.search("hello")
    return str(alone.id)


def erase_elsewhere(target, how: str, what: str) -> int:
    """Erase the user ann (what="user") or the session `what`, through
    another connection of this process or another process: how many
    sessions it erased, or -1 when it committed but could not purge the WAL
    (a verify that pins it, as before)."""
    if how == "process":
        done = subprocess.run([sys.executable, "-c", ERASE, str(target), what],
                              capture_output=True, text=True, env=ENV, timeout=120)
        assert done.returncode == 0, done.stderr
        return int(done.stdout)
    with store_on(target) as other:
        try:
            e = other.erase_user("ann", "acme") if what == "user" else other.erase(what)
        except ErasureError as e:
            assert "erased, but" in str(e)
            return -1
        return e.sessions


@pytest.mark.parametrize("how", ["connection", "process"])
@pytest.mark.parametrize("what", ["user", "session"])
def test_an_erase_committed_while_verify_runs_is_no_mismatch(target, how, what):
    with store_on(target) as store:
        alone = fill(store)
        erased = []

        def step(n: int) -> None:  # verify is between two reads of the log
            if not erased:
                erased.append(erase_elsewhere(target, how, alone if what == "session" else what))

        report = verify(store, progress=step, batch_size=5)
        assert erased, "the erase did not run inside verify"
        assert report.ok, report.summary()
        # it landed inside the run, and its purge was not held up by verify
        assert erased == [3 if what == "user" else 1]
        assert report.sessions == 7 - erased[0]  # the sessions as they are at its end
        assert store.verify().ok
