"""A long verify does not pin SQLite's WAL (#19 item 10): it reads the log
in short transactions (the log up to the position it started at is a
consistent snapshot without one held open) and, between two of them, starts
a WAL grown past `WAL_BOUND` over with a checkpoint; so beside a writer
that never stops the WAL stays bounded. Before, verify held one read
transaction for its whole run, and the WAL grew with every write made
meanwhile (25-30 MiB in the test below)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from helpers import child_args, store_on

from projections.verify import verify
from projections.verify_scratch import WAL_BOUND

pytestmark = pytest.mark.sqlite_only("the WAL and its checkpoint are SQLite's")

#: Writes n messages (new sessions now and then) for each line n it reads,
#: then says "done".
GATED = """
import sys
from datetime import UTC, datetime
from projections import EventSourcedSessionStore, SessionMessage, SessionRole
store = EventSourcedSessionStore(sys.argv[1], erasable=sys.argv[-1] == "erasable")
ids, i = [], 0
for line in sys.stdin:
    for _ in range(int(line)):
        if i % 20 == 0:
            ids.append(store.create(f"w{i}").id)
        store.add_message(ids[i % len(ids)],
                          SessionMessage(SessionRole.USER, f"m{i}", datetime.now(UTC)))
        i += 1
    print("done", flush=True)
"""
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
#: Writes the writer makes between two reads of verify (of BATCH events
#: each: verify reads faster than the writer writes, as it does), and how
#: many reads at least.
WRITES, BATCH, READS = 10, 40, 150
#: The bound: where verify checkpoints, and what a few reads let a writer add.
BOUND = WAL_BOUND + 4 * 2**20


def wal_bytes(path) -> int:
    try:
        return os.path.getsize(f"{path}-wal")
    except FileNotFoundError:
        return 0


def fill(path, events: int) -> None:
    from datetime import UTC, datetime

    from projections import SessionMessage, SessionRole
    with store_on(path) as store:
        for i in range(events // 20):
            s = store.create(f"s{i}")
            store.add_messages(s.id, [SessionMessage(SessionRole.USER, f"m {i} {j}", datetime.now(UTC))
                                      for j in range(19)])


def test_a_writer_beside_a_long_verify_keeps_the_wal_bounded(target):
    """A writer process writes WRITES times at each of verify's progress
    calls (so throughout the run, at the same points on every run): the
    WAL stays under BOUND."""
    fill(target, READS * BATCH)
    writer = subprocess.Popen([sys.executable, "-c", GATED, str(target), *child_args(target)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV)
    sizes = []

    def write(n: int) -> None:
        writer.stdin.write(f"{n}\n")
        writer.stdin.flush()
        assert writer.stdout.readline() == "done\n", writer.stderr.read()

    try:
        write(1)  # the writer is writing

        def step(n: int) -> None:  # between two reads of verify: the writer writes on
            write(WRITES)
            sizes.append(wal_bytes(target))

        with store_on(target, catch_up=False) as store:
            report = verify(store, progress=step, batch_size=BATCH)
        assert report.ok, report.summary()
    finally:
        writer.kill()
        writer.wait()
    assert len(sizes) >= READS  # it did run long, with the writer writing throughout
    assert max(sizes) < BOUND, f"WAL reached {max(sizes) / 2**20:.1f} MiB"


def test_a_paused_verify_lets_a_checkpoint_complete(target):
    """Paused between two reads, verify holds no read transaction: a
    PASSIVE checkpoint beside it copies every frame back."""
    fill(target, 200)
    seen = []
    with store_on(target, catch_up=False) as store:

        def step(n: int) -> None:
            if seen:
                return
            with store_on(target) as other:
                fill_more = other.create("written while verify is paused")
                other.delete(fill_more.id)
            with sqlite3.connect(target) as conn:
                seen.append(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

        assert verify(store, progress=step, batch_size=50).ok
    (busy, log, checkpointed), = seen
    assert log > 0 and (busy, checkpointed) == (0, log)
