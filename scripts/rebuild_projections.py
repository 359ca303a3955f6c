"""Your own read model, built and rebuilt from the session log.

A projection is a name, the tables it owns, and an `apply` that folds a batch
of events into them. Register it with the store; the runner keeps its
checkpoint, catches it up, and rebuilds it into fresh tables that are swapped
in atomically, exactly as for the built-in views.

Usage:
    python scripts/rebuild_projections.py [DB]      # a file or a postgresql:// URL; default: ./sessions.db
    (make one with `sessionlog demo` first)
"""

from __future__ import annotations

import sys
from typing import ClassVar

from projections import EventSourcedSessionStore


class MessagesPerDay:
    """How many messages each role sent, per UTC day."""

    name = "messages_per_day"
    tables: ClassVar[tuple[str, ...]] = ("messages_per_day",)
    inline = False  # lazy: caught up when read, so writes do not pay for it

    # `db` runs SQL with `?` placeholders on SQLite and PostgreSQL alike;
    # `db.q` quotes a table name (each rebuild builds fresh tables under new names).
    def create(self, db, names):
        db.execute(f"CREATE TABLE {db.q(names['messages_per_day'])} ("
                   "day TEXT, role TEXT, messages INTEGER NOT NULL, PRIMARY KEY (day, role))")

    def apply(self, db, events, names):
        table = db.q(names["messages_per_day"])
        db.executemany(
            f"INSERT INTO {table} (day, role, messages) VALUES (?, ?, 1) "
            f"ON CONFLICT (day, role) DO UPDATE SET messages = {table}.messages + 1",
            [(e.data["timestamp"][:10], e.data["role"]) for e in events if e.type == "MessageAdded"],
        )


def main(path: str) -> None:
    with EventSourcedSessionStore(path, projections=[MessagesPerDay()]) as store:
        total = store.log.last_position()
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            print(f"\rfolded {done}/{total} events", end="", file=sys.stderr)

        store.rebuild(["messages_per_day"], progress=progress)
        print(file=sys.stderr)
        store.catch_up(["messages_per_day"])  # a lazy view: catch up before reading
        rows = store.log.connection.execute(
            "SELECT day, role, messages FROM messages_per_day ORDER BY day, role").fetchall()
    print("DAY         ROLE       MESSAGES")
    for day, role, count in rows:
        print(f"{day}  {role:<9}  {count}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sessions.db")
