"""A writer process for the crash and contention tests.

    python writer.py crash DB SEED RUN [erasable]      # random create/add/delete forever
    python writer.py contend DB TAG N IDS [erasable]   # 2 threads, N messages each, round robin

`erasable` (from `helpers.child_args`): DB is an erasable store; it is
opened as one (personal fields sealed with its master key).

Prints one line per write that returned (flushed), so the parent knows
exactly which writes were acknowledged.
"""

from __future__ import annotations

import random
import sys
import threading
from datetime import UTC, datetime

from projections import EventSourcedSessionStore, SessionMessage, SessionRole


def crash(db: str, seed: int, run: int, erasable: bool = False) -> None:
    rng = random.Random(seed)
    store = EventSourcedSessionStore(db, erasable=erasable)
    live = [s.id for s in store.list()]
    i = 0
    while True:
        roll = rng.random()
        if not live or roll < 0.15:
            s = store.create(f"r{run}-c{i}")
            live.append(s.id)
            print(f"create {s.id}", flush=True)
        elif roll < 0.93:
            sid = rng.choice(live)
            store.add_message(sid, SessionMessage(SessionRole.USER, f"r{run}-m{i}", datetime.now(UTC)))
            print(f"add {sid} r{run}-m{i}", flush=True)
        else:
            sid = live.pop(rng.randrange(len(live)))
            assert store.delete(sid)
            print(f"delete {sid}", flush=True)
        i += 1


def contend(db: str, tag: str, n: int, ids: list[str], erasable: bool = False) -> None:
    store = EventSourcedSessionStore(db, timeout=60, erasable=erasable)
    errors = []

    def work(thread: int) -> None:
        try:
            for k in range(n):
                sid = ids[k % len(ids)]
                text = f"{tag}-t{thread}-{k}"
                store.add_message(sid, SessionMessage(SessionRole.USER, text, datetime.now(UTC)))
        except Exception as e:  # reported to the parent
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    print("errors:", errors, flush=True)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    erasable = sys.argv[-1] == "erasable"
    if sys.argv[1] == "crash":
        crash(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), erasable)
    else:
        contend(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].split(","), erasable)
