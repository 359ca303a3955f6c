"""Idempotency: an append retried with the same event ids is recorded once,
whether or not the first attempt landed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from eventlog import MessageAdded, SessionCreated, SessionRole

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def events(sid):
    return [SessionCreated(sid, "t", NOW), MessageAdded(sid, SessionRole.USER, "once", NOW)]


def test_retry_after_the_first_attempt_landed(open_log):
    sid, ids = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    with open_log() as log:
        first = log.append(str(sid), events(sid), expected_version=0, event_ids=ids)
        retry = log.append(str(sid), events(sid), expected_version=0, event_ids=ids)
        assert retry == first and log.last_position() == 2


def test_retry_after_the_first_attempt_was_rolled_back(open_log):
    sid, ids = uuid.uuid4(), [str(uuid.uuid4()), str(uuid.uuid4())]
    with open_log() as log:
        with pytest.raises(ConnectionError):
            with log.transaction():
                log.append(str(sid), events(sid), event_ids=ids)
                raise ConnectionError("the caller's connection dropped before commit")
        assert log.last_position() == 0
        log.append(str(sid), events(sid), event_ids=ids)
        log.append(str(sid), events(sid), event_ids=ids)
        assert [str(e.event_id) for e in log.read_all()] == ids


def test_retry_after_a_process_was_killed_mid_append(target, open_log):
    path = target
    for attempt in range(5):
        sid, ids = uuid.uuid4(), [str(uuid.uuid4()), str(uuid.uuid4())]
        code = (
            "import sys, uuid\nfrom datetime import UTC, datetime\n"
            "from eventlog import EventLog, MessageAdded, SessionCreated, SessionRole\n"
            "sid = uuid.UUID(sys.argv[2]); now = datetime(2026, 1, 1, tzinfo=UTC)\n"
            "from helpers import sealer_for\n"  # the erasable file's log has its sealer
            "log = EventLog(sys.argv[1], sealer=sealer_for(sys.argv[1]) if sys.argv[4] == 'y' else None)\n"
            "print('ready', flush=True)\n"
            "log.append(str(sid), [SessionCreated(sid, 't', now), "
            "MessageAdded(sid, SessionRole.USER, 'once', now)], event_ids=sys.argv[3].split(','))\n"
            "print('landed', flush=True)\nimport time\ntime.sleep(60)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", code, path, str(sid), ",".join(ids),
                                 "yn"[not target.erasable]],
                                stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert proc.stdout.readline() == "ready\n"
        if attempt % 2:
            proc.stdout.readline()  # kill after it landed; otherwise at once
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        with open_log() as log:
            log.append(str(sid), events(sid), event_ids=ids)
            assert [str(e.event_id) for e in log.read_stream(str(sid))] == ids
