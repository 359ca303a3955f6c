"""`EventLog.subscribe`: a follower sees every event committed by another
writer (a process, or a thread for an in-memory log), in order, once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime

from helpers import child_args

from eventlog import EventLog, MessageAdded, SessionCreated, SessionRole

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
WRITES = 25

WRITER = """
import sys, uuid
from datetime import UTC, datetime
from eventlog import EventLog, MessageAdded, SessionCreated, SessionRole
from helpers import sealer_for
now = datetime.now(UTC)
sealer = sealer_for(sys.argv[1]) if sys.argv[-1] == "erasable" else None  # as the test's log
with EventLog(sys.argv[1], sealer=sealer) as log:
    sid = uuid.UUID(sys.argv[2])
    for i in range(int(sys.argv[3])):
        log.append(str(sid), [MessageAdded(sid, SessionRole.USER, f"w{i}", now)])
"""


def write(log: EventLog, target: str, sid: uuid.UUID, n: int) -> None:
    """n appends by another writer: a process, or a thread in memory."""
    if target == ":memory:":
        for i in range(n):
            log.append(str(sid), [MessageAdded(sid, SessionRole.USER, f"w{i}", NOW)])
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", WRITER, target, str(sid), str(n), *child_args(target)],
                   check=True,
                   env=env, timeout=120)


class Follower(threading.Thread):
    def __init__(self, log: EventLog, from_position: int, want: int) -> None:
        super().__init__(daemon=True)
        self.log, self.from_position, self.want = log, from_position, want
        self.seen: list = []
        self.stop = threading.Event()
        self.got_all = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            # wake: no periodic look, so only the commit wake-up can deliver
            for event in self.log.subscribe(self.from_position, stop=self.stop, batch_size=7,
                                            wake=3600):
                self.seen.append(event)
                if len(self.seen) >= self.want:
                    self.got_all.set()
        except BaseException as e:  # reported by the test
            self.error = e
            self.got_all.set()


def test_a_follower_sees_each_commit_of_another_writer_in_order(backend, open_log):
    sid = uuid.uuid4()
    with open_log() as log:
        log.append(str(sid), [SessionCreated(sid, "t", NOW)])
        log.append(str(sid), [MessageAdded(sid, SessionRole.USER, "before", NOW)])
        follower = Follower(log, 2, 1 + WRITES)  # from position 2: the first is not seen
        follower.start()
        try:
            writer = threading.Thread(target=write, args=(log, backend, sid, WRITES))
            writer.start()
            writer.join(timeout=180)
            assert follower.got_all.wait(timeout=60), f"only {len(follower.seen)} seen"
        finally:
            follower.stop.set()
            follower.join(timeout=30)
        assert follower.error is None
        assert not follower.is_alive()  # stop ends the iteration
        assert [e.position for e in follower.seen] == list(range(2, 3 + WRITES))
        assert [e.data["content"] for e in follower.seen] == (
            ["before"] + [f"w{i}" for i in range(WRITES)])
        assert [e.hash for e in follower.seen] == [e.hash for e in log.read_all(2)]


def test_a_stopped_follower_returns_while_waiting(open_log):
    with open_log() as log:
        follower = Follower(log, 1, 1)
        follower.start()
        follower.stop.set()
        follower.join(timeout=30)
        assert not follower.is_alive() and follower.seen == [] and follower.error is None
