"""Full-text search over message content (SQLite FTS5): a lazy projection,
caught up just before it is read, so writes do not pay for it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from itertools import groupby
from operator import attrgetter
from typing import ClassVar

import attrs

from eventlog import RecordedEvent

from .views import current_data, run_sql


@attrs.frozen
class SearchHit:
    """One message that matched: its session, log position, role, and the
    matching words in context (matches in [brackets])."""

    session_id: str
    position: int
    role: str
    snippet: str


class SearchProjection:
    """`message_search` (FTS5 over content), with `search_sessions` (each live
    session's tenant) and `search_messages` (which rows a deletion removes)."""

    name = "search"
    tables: ClassVar[tuple[str, ...]] = ("message_search", "search_sessions", "search_messages")
    inline = False

    def create(self, conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
        conn.execute(
            f"CREATE VIRTUAL TABLE [{names['message_search']}] USING fts5("
            "content, session_id UNINDEXED, tenant_id UNINDEXED, role UNINDEXED)"
        )
        conn.execute(
            f"CREATE TABLE [{names['search_sessions']}] ("
            "session_id TEXT PRIMARY KEY, tenant_id TEXT) WITHOUT ROWID"
        )
        conn.execute(
            f"CREATE TABLE [{names['search_messages']}] (session_id TEXT NOT NULL, "
            "position INTEGER NOT NULL, PRIMARY KEY (session_id, position)) WITHOUT ROWID"
        )

    def apply(self, conn: sqlite3.Connection, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        fts, ses, msg = names["message_search"], names["search_sessions"], names["search_messages"]
        for type_name, run in groupby(events, key=attrgetter("type")):
            if type_name == "SessionCreated":
                run_sql(conn,
                    f"INSERT OR IGNORE INTO [{ses}] (session_id, tenant_id) VALUES (?, ?)",
                    [(d["session_id"], d.get("tenant_id")) for d in map(current_data, run)],
                )
            elif type_name == "MessageAdded":
                rows = [(e.position, d["session_id"], d["content"], d["role"])
                        for e in run for d in (current_data(e),)]
                # Tenants looked up once per run: FTS5 takes INSERT ... VALUES
                # several times faster than INSERT ... SELECT.
                tenants = dict(conn.execute(
                    f"SELECT session_id, tenant_id FROM [{ses}] WHERE session_id IN "
                    "(SELECT value FROM json_each(?))", (json.dumps(list({r[1] for r in rows})),)))
                rows = [r for r in rows if r[1] in tenants]  # messages of live sessions only
                run_sql(conn,
                        f"INSERT INTO [{fts}] (rowid, content, session_id, tenant_id, role) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(pos, content, sid, tenants[sid], role) for pos, sid, content, role in rows])
                run_sql(conn, f"INSERT INTO [{msg}] (session_id, position) VALUES (?, ?)",
                        [(sid, pos) for pos, sid, _, _ in rows])
            elif type_name == "SessionDeleted":
                ids = [(current_data(e)["session_id"],) for e in run]
                run_sql(conn,
                    f"DELETE FROM [{fts}] WHERE rowid IN "
                    f"(SELECT position FROM [{msg}] WHERE session_id = ?)", ids,
                )
                run_sql(conn, f"DELETE FROM [{msg}] WHERE session_id = ?", ids)
                run_sql(conn, f"DELETE FROM [{ses}] WHERE session_id = ?", ids)


def search(conn: sqlite3.Connection, query: str, tenant_id: str | None = None,
           limit: int = 20) -> list[SearchHit]:
    """Messages matching an FTS5 query, best first.

    Raises:
        ValueError: the query is not valid FTS5 syntax.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError("the search query is empty")
    sql = ("SELECT session_id, rowid, role, snippet(message_search, 0, '[', ']', '…', 12) "
           "FROM message_search WHERE message_search MATCH ?")
    params: list = [query]
    if tenant_id is not None:
        sql += " AND tenant_id = ?"
        params.append(tenant_id)
    sql += " ORDER BY rank, rowid LIMIT ?"
    params.append(limit)
    try:
        return [SearchHit(*row) for row in conn.execute(sql, params)]
    except sqlite3.OperationalError as e:
        raise ValueError(f"bad search query {query!r}: {e}") from None
