"""Four processes of two threads race `get_or_create` on one key of one file
and add items to what they get: one session, every item once, each writer's
items in its own order (issue 11: with a key kept beside the store, the
conversation split into several sessions and items were lost)."""

from __future__ import annotations

import subprocess
import sys
import time

from helpers import child_args, store_on

KEY, TENANT, PROCESSES, THREADS, ITEMS = "user-42/chat-7", "acme", 4, 2, 10

CHILD = """
import sys, threading, time
from projections import EventSourcedSessionStore, NewItem
db, tag, start, threads, items = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
store = EventSourcedSessionStore(db, erasable=sys.argv[-1] == 'erasable')
while time.time() < start:  # line the processes up, so the first calls collide
    time.sleep(0.001)
out = threading.Lock()
def work(t):
    writer = f"{tag}.{t}"
    for i in range(items):
        s = store.get_or_create(KEY, tenant_id=TENANT, user_id="u42")
        store.add_items(s.id, [NewItem("user", {"writer": writer, "i": i}, f"{writer}-{i}")])
        with out:
            print(s.id, flush=True)
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
""".replace("KEY", repr(KEY)).replace("TENANT", repr(TENANT))


def test_racing_get_or_create_makes_one_session_and_loses_nothing(target):
    db = target
    store_on(db).close()
    start = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, db, f"p{p}", str(start), str(THREADS),
                               str(ITEMS), *child_args(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for p in range(PROCESSES)]
    seen = set()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        seen.update(out.split())
    with store_on(db) as store:
        summaries = store.list_summaries(tenant_id=TENANT)
        assert len(summaries) == 1 and seen == {str(summaries[0].id)}
        session = store.get_by_key(KEY, TENANT)
        got = [(i.data["writer"], i.data["i"]) for i in session.items]
        writers = {f"p{p}.{t}" for p in range(PROCESSES) for t in range(THREADS)}
        assert sorted(got) == sorted((w, i) for w in writers for i in range(ITEMS))
        for w in writers:
            assert [i for who, i in got if who == w] == list(range(ITEMS)), w
        assert session.version == 1 + PROCESSES * THREADS * ITEMS
        assert store.verify().ok
