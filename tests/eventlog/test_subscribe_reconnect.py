"""A follower on PostgreSQL outlives a server restart: `EventLog.subscribe`
and `sessionlog tail --follow` reconnect (with backoff) and resume from their
last position, so they see every event exactly once, in order, while a
writer in another process writes across the restart.

The restart is of a private throwaway cluster, never the session's shared
one (other tests use it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime

import pytest
from pg import Unavailable, _unavailable, start_cluster

from eventlog import EventLog, SessionCreated

WRITER = """
import sys, time, uuid
from datetime import UTC, datetime
from eventlog import EventLog, MessageAdded, SessionRole, StorageError
url, sid, first, n = sys.argv[1], uuid.UUID(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
log = None
for i in range(first, first + n):
    while True:  # across a restart: retried until it commits, once (its event id)
        try:
            if log is None:
                log = EventLog(url)
            log.append(sys.argv[2], [MessageAdded(sid, SessionRole.USER, f"w{i}",
                                                  datetime.now(UTC))],
                       event_ids=[uuid.uuid5(sid, str(i))])
            break
        except StorageError:
            time.sleep(0.05)  # the server is restarting: the writer's own backoff
"""

FIRST, DURING, AFTER = 20, 40, 20  # events before, across and after the restart
DEADLINE = 120.0


@pytest.fixture
def cluster():
    """A PostgreSQL cluster of this test's own, which it may restart."""
    try:
        own = start_cluster()
    except Unavailable as e:
        _unavailable(str(e))
    yield own
    own.stop()


class Seen:
    """Positions and texts a follower printed or yielded, and a condition
    to wait on them with a deadline."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str | None]] = []
        self.error: BaseException | None = None
        self.changed = threading.Condition()

    def add(self, position: int, text: str | None) -> None:
        with self.changed:
            self.events.append((position, text))
            self.changed.notify_all()

    def fail(self, error: BaseException) -> None:
        with self.changed:
            self.error = error
            self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            done = self.changed.wait_for(
                lambda: len(self.events) >= count or self.error is not None, DEADLINE)
        assert self.error is None, f"the follower died: {self.error!r}"
        assert done, f"the follower stopped at {len(self.events)} of {count} events"


def write(url: str, sid: uuid.UUID, first: int, n: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", WRITER, url, str(sid), str(first), str(n)],
                            env=env)


def test_followers_resume_after_a_server_restart_with_no_gap_and_no_duplicate(cluster):
    url = cluster.new_schema()
    sid = uuid.uuid4()
    with EventLog(url) as log:
        log.append(str(sid), [SessionCreated(sid, "watched", datetime.now(UTC))])
    total = 1 + FIRST + DURING + AFTER
    stop = threading.Event()
    library, cli = Seen(), Seen()

    def follow() -> None:
        try:
            with EventLog(url) as log:
                # wake: no periodic look; only a (re-established) LISTEN wakes it
                for event in log.subscribe(1, stop=stop, batch_size=7, wake=3600):
                    library.add(event.position, event.data.get("content"))
        except BaseException as e:
            library.fail(e)

    def read_tail(proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            event = json.loads(line)
            cli.add(event["position"], event["data"].get("content"))
        cli.fail(RuntimeError(f"tail --follow ended: {proc.stderr.read()[-2000:]}"))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    tail = subprocess.Popen([sys.executable, "-m", "sessionlog", "--db", url, "tail", "--follow",
                             "--json", "--from", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    threads = [threading.Thread(target=follow, daemon=True),
               threading.Thread(target=read_tail, args=(tail,), daemon=True)]
    for t in threads:
        t.start()
    try:
        assert write(url, sid, 0, FIRST).wait(DEADLINE) == 0
        for seen in (library, cli):
            seen.wait_for(1 + FIRST)
        during = write(url, sid, FIRST, DURING)  # its writes race the restart
        cluster.restart()  # cuts every connection: listeners, readers, the writer's
        assert during.wait(DEADLINE) == 0
        assert write(url, sid, FIRST + DURING, AFTER).wait(DEADLINE) == 0
        want = [(1, None)] + [(2 + i, f"w{i}") for i in range(FIRST + DURING + AFTER)]
        for seen in (library, cli):
            seen.wait_for(total)
            assert seen.events == want
    finally:
        stop.set()
        tail.terminate()
        tail.wait(30)
        for t in threads:
            t.join(30)
