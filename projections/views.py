"""The built-in projections: sessions with their messages, and the tenant
index. Both are inline: updated in each write's own transaction.

Every index is a UNIQUE table constraint, so it follows its table through a
rebuild's rename.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from itertools import groupby
from operator import attrgetter
from typing import ClassVar

from eventlog import SCHEMA_VERSION, RecordedEvent
from eventlog.codec import upcast


def current_data(event: RecordedEvent) -> dict:
    """The event's data at the current schema version."""
    if event.schema_version == SCHEMA_VERSION:
        return event.data
    return upcast(event.type, event.data, event.schema_version)


def run_sql(conn: sqlite3.Connection, sql: str, rows: list) -> None:
    """executemany, or execute for the common single row (inline writes)."""
    if len(rows) == 1:
        conn.execute(sql, rows[0])
    elif rows:
        conn.executemany(sql, rows)


class SessionsProjection:
    """Live sessions (`sessions`) and their messages (`messages`).

    A session's row is keyed by the position of its `SessionCreated` event;
    a message's by its session's key and the position of its `MessageAdded`
    (one b-tree, clustered by session: one page written per message, and a
    session's messages read from adjacent pages). A deletion removes the
    session and its messages from the view; its events stay in the log.
    """

    name = "sessions"
    tables: ClassVar[tuple[str, ...]] = ("sessions", "messages")
    inline = True

    def create(self, conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
        conn.execute(
            f"CREATE TABLE [{names['sessions']}] ("
            "position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT, "
            "created_at TEXT NOT NULL, user_id TEXT, tenant_id TEXT, "
            "UNIQUE (created_at, position))"
        )
        conn.execute(
            f"CREATE TABLE [{names['messages']}] ("
            "session INTEGER NOT NULL, position INTEGER NOT NULL, role TEXT NOT NULL, "
            "content TEXT NOT NULL, timestamp TEXT NOT NULL, PRIMARY KEY (session, position)) "
            "WITHOUT ROWID"
        )

    def apply(self, conn: sqlite3.Connection, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        s, m = names["sessions"], names["messages"]
        for type_name, run in groupby(events, key=attrgetter("type")):
            if type_name == "SessionCreated":
                run_sql(conn,
                    f"INSERT OR IGNORE INTO [{s}] "
                    "(position, id, title, created_at, user_id, tenant_id) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(e.position, d["session_id"], d["title"], d["created_at"],
                      d.get("user_id"), d.get("tenant_id"))
                     for e in run for d in (current_data(e),)],
                )
            elif type_name == "MessageAdded":
                run_sql(conn,
                    f"INSERT INTO [{m}] (position, session, role, content, timestamp) "
                    f"SELECT ?, position, ?, ?, ? FROM [{s}] WHERE id = ?",
                    [(e.position, d["role"], d["content"], d["timestamp"], d["session_id"])
                     for e in run for d in (current_data(e),)],
                )
            elif type_name == "SessionDeleted":
                ids = [(current_data(e)["session_id"],) for e in run]
                run_sql(conn,
                    f"DELETE FROM [{m}] WHERE session = (SELECT position FROM [{s}] WHERE id = ?)",
                    ids,
                )
                run_sql(conn, f"DELETE FROM [{s}] WHERE id = ?", ids)


class TenantIndexProjection:
    """`tenant_sessions`: the live sessions of each tenant, newest first."""

    name = "tenants"
    tables: ClassVar[tuple[str, ...]] = ("tenant_sessions",)
    inline = True

    def create(self, conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
        conn.execute(
            f"CREATE TABLE [{names['tenant_sessions']}] ("
            "session INTEGER PRIMARY KEY, session_id TEXT NOT NULL UNIQUE, "
            "tenant_id TEXT NOT NULL, created_at TEXT NOT NULL, "
            "UNIQUE (tenant_id, created_at, session))"
        )

    def apply(self, conn: sqlite3.Connection, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        t = names["tenant_sessions"]
        for type_name, run in groupby(events, key=attrgetter("type")):
            if type_name == "SessionCreated":
                rows = [(e.position, d["session_id"], d["tenant_id"], d["created_at"])
                        for e in run for d in (current_data(e),) if d.get("tenant_id") is not None]
                run_sql(conn,
                    f"INSERT OR IGNORE INTO [{t}] (session, session_id, tenant_id, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
            elif type_name == "SessionDeleted":
                run_sql(conn,
                    f"DELETE FROM [{t}] WHERE session_id = ?",
                    [(current_data(e)["session_id"],) for e in run],
                )
