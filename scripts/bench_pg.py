"""The PostgreSQL rows of scripts/bench.py: sessionlog on PostgreSQL against
raw PostgreSQL doing the least work for the same answer, in the same run.

The server is `$SESSIONLOG_BENCH_PG` (a libpq URL), else a throwaway cluster
started as the tests start theirs (tests/pg.py), but with fsync on, so
`synchronous_commit=on` waits for the disk as on a real server.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pg import Unavailable, start_cluster  # noqa: E402

from projections import EventSourcedSessionStore  # noqa: E402
from projections.transfer import import_sessions, read_sessions  # noqa: E402

TEXT = "The refund for order 1142 was issued; it reaches your card within five business days."
STAMP = "2026-01-01T00:00:00.000000Z"


def _many(writers: int, fns: list[Callable[[int], object]]) -> Callable[[int], None]:
    """k operations split over `writers` threads, each with its own fn."""
    def run(k: int) -> None:
        per = max(1, k // writers)
        threads = [threading.Thread(target=fn, args=(per,)) for fn in fns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return run


def postgres(bench: Any, sliced: Callable, median_time: Callable, msg: Callable) -> None:
    """The PostgreSQL section: add_message with 1, 4 and 16 writers at
    synchronous_commit on and off, get(500), list()."""
    import psycopg

    print("PostgreSQL", flush=True)
    try:
        cluster = start_cluster(os.environ.get("SESSIONLOG_BENCH_PG"), fsync=True)
    except Unavailable as e:
        print(f"  skipped: {e}", flush=True)
        return
    opened: list[Any] = []
    try:
        n, slices = bench.s["writes"], bench.s["slices"]
        for sync in ("on", "off"):
            url = cluster.new_schema(f"-csynchronous_commit={sync}")
            raw_conns = [psycopg.connect(url, autocommit=True) for _ in range(16)]
            opened += raw_conns
            raw_conns[0].execute("CREATE TABLE m (id BIGSERIAL PRIMARY KEY, session TEXT, "
                                 "role TEXT, content TEXT, ts TEXT)")

            def raw_writer(conn) -> Callable[[int], None]:
                def run(k: int) -> None:
                    for _ in range(k):  # autocommit: one INSERT is INSERT+COMMIT
                        conn.execute("INSERT INTO m (session, role, content, ts) "
                                     "VALUES (%s, %s, %s, %s)", ("s", "user", TEXT, STAMP))
                return run

            stores = [EventSourcedSessionStore(url) for _ in range(16)]
            opened += stores
            sessions = [stores[i].create(f"w{i}").id for i in range(16)]

            def ours(store, sid) -> Callable[[int], None]:
                def run(k: int) -> None:
                    for i in range(k):
                        store.add_message(sid, msg(i))
                return run

            runs: dict[str, Callable[[int], object]] = {}
            for writers in (1, 4, 16):
                runs[f"raw PostgreSQL INSERT+COMMIT, {writers} writer(s) (sync {sync})"] = _many(
                    writers, [raw_writer(c) for c in raw_conns[:writers]])
                runs[f"sessionlog on PostgreSQL, {writers} writer(s) (sync {sync})"] = _many(
                    writers, [ours(stores[i], sessions[i]) for i in range(writers)])
            for fn in runs.values():
                fn(max(16, n // 10))  # warm-up
            rates = sliced(runs, n, slices)
            for writers in (1, 4, 16):
                raw = rates[f"raw PostgreSQL INSERT+COMMIT, {writers} writer(s) (sync {sync})"]
                bench.row("postgres", f"raw PostgreSQL INSERT+COMMIT, {writers} writer(s) "
                          f"(sync {sync})", raw, "msg/s", raw, "the floor")
                bench.row("postgres", f"sessionlog add_message on PostgreSQL, {writers} "
                          f"writer(s) (sync {sync})",
                          rates[f"sessionlog on PostgreSQL, {writers} writer(s) (sync {sync})"],
                          "msg/s", raw, "each writer its own store")
        _get(bench, cluster, median_time, msg, opened)
        _list(bench, cluster, median_time, opened)
    finally:
        for thing in opened:
            thing.close()
        cluster.stop()


def _get(bench: Any, cluster: Any, median_time: Callable, msg: Callable, opened: list) -> None:
    import psycopg

    k, reps = bench.s["get_messages"], bench.s["reads"]
    url = cluster.new_schema()
    store = EventSourcedSessionStore(url)
    other = EventSourcedSessionStore(url)  # another connection, as another host
    opened += [store, other]
    s = store.create("big")
    store.add_messages(s.id, [msg(i) for i in range(k)])
    conn = psycopg.connect(url, autocommit=True)
    opened.append(conn)
    (spos,) = conn.execute("SELECT position FROM sessions WHERE id = %s", (str(s.id),)).fetchone()

    def timed(fn: Callable[[], object]) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    def raw_select() -> None:
        conn.execute("SELECT item_id, role, data, text, timestamp FROM items WHERE session = %s "
                     "ORDER BY position", (spos,)).fetchall()

    store.get(s.id)
    times: dict[str, list[float]] = {"raw": [], "cold": [], "repeated": []}
    for _ in range(reps):
        times["raw"].append(timed(raw_select))
        other.add_message(s.id, msg())  # untimed: changed elsewhere, the cache cannot answer
        times["cold"].append(timed(lambda: store.get(s.id)))
        times["repeated"].append(timed(lambda: store.get(s.id)))
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    bench.row("postgres", f"raw PostgreSQL indexed SELECT of {k} rows", ms["raw"], "ms",
              ms["raw"], "the floor")
    bench.row("postgres", f"sessionlog get({k}) on PostgreSQL, just changed elsewhere",
              ms["cold"], "ms", ms["raw"], "another store wrote")
    bench.row("postgres", f"sessionlog get({k}) on PostgreSQL, repeated", ms["repeated"], "ms",
              ms["raw"], "unchanged session")


def _list(bench: Any, cluster: Any, median_time: Callable, opened: list) -> None:
    import psycopg

    n = bench.s["list_sessions"]
    reps = max(3, bench.s["repeat"])
    url = cluster.new_schema()
    store = EventSourcedSessionStore(url)
    opened.append(store)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = []
    for i in range(n):
        created = (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        lines.append(json.dumps({
            "id": str(uuid.uuid4()), "title": f"s{i}", "created_at": created,
            "tenant_id": "acme" if i % 2 else "globex", "user_id": "u",
            "messages": [{"role": "user", "content": TEXT, "timestamp": created}] * 2}))
    import_sessions(store, read_sessions(io.StringIO("\n".join(lines)), "list"))
    conn = psycopg.connect(url, autocommit=True)
    opened.append(conn)

    def raw_list() -> None:
        conn.execute("SELECT position, id, title, created_at, user_id, tenant_id FROM sessions "
                     "ORDER BY created_at DESC, position DESC").fetchall()
        conn.execute("SELECT session, item_id, role, data, text, timestamp FROM items "
                     "ORDER BY session, position").fetchall()

    raw = median_time(raw_list, reps) * 1e3
    bench.row("postgres", f"raw PostgreSQL SELECTs of the same rows ({n} sessions)", raw, "ms",
              raw, "the floor")
    bench.row("postgres", "sessionlog list() on PostgreSQL", median_time(store.list, reps) * 1e3,
              "ms", raw)
