"""Full-text search over message content (SQLite FTS5): a lazy projection,
caught up just before it is read, so writes do not pay for it.

Queries are plain text unless FTS5 syntax is asked for; CJK text is found by
any substring (see `fulltext`)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from itertools import groupby
from operator import attrgetter
from typing import ClassVar

import attrs

from eventlog import RecordedEvent

from .fulltext import SNIPPET_SCAN, cjk_text, fts_query, plain_query, snippet
from .views import run_sql

#: The query languages `search` takes.
SYNTAXES = ("plain", "fts5")


@attrs.frozen
class SearchHit:
    """One message that matched: its session, log position, role, and the
    matching words in context (matches in [brackets])."""

    session_id: str
    position: int
    role: str
    snippet: str


class SearchProjection:
    """`message_search` (FTS5 over the text of messages and items, and over
    its CJK characters one by one in `cjk`), with `search_sessions` (each live
    session's tenant) and `search_messages` (every item of a live session:
    which rows a pop, a clear or a deletion removes)."""

    name = "search"
    tables: ClassVar[tuple[str, ...]] = ("message_search", "search_sessions", "search_messages")
    inline = False

    def create(self, conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
        conn.execute(
            f"CREATE VIRTUAL TABLE [{names['message_search']}] USING fts5("
            "content, cjk, session_id UNINDEXED, tenant_id UNINDEXED, role UNINDEXED)"
        )
        conn.execute(
            f"CREATE TABLE [{names['search_sessions']}] ("
            "session_id TEXT PRIMARY KEY, tenant_id TEXT) WITHOUT ROWID"
        )
        conn.execute(
            f"CREATE TABLE [{names['search_messages']}] (session_id TEXT NOT NULL, "
            "position INTEGER NOT NULL, PRIMARY KEY (session_id, position)) WITHOUT ROWID"
        )

    def is_current(self, conn: sqlite3.Connection, names: Mapping[str, str]) -> bool:
        """Whether existing tables have this release's layout (files from
        before the `cjk` column are rebuilt by the runner). Reads the DDL
        only: a damaged index must not stop the store from opening."""
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                           (names["message_search"],)).fetchone()
        columns = row[0].partition("(")[2] if row and row[0] else ""
        return re.search(r"(^|,)\s*cjk\b", columns) is not None

    def apply(self, conn: sqlite3.Connection, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        fts, ses, msg = names["message_search"], names["search_sessions"], names["search_messages"]
        for type_name, run in groupby(events, key=attrgetter("type")):
            if type_name == "SessionCreated":
                run_sql(conn,
                    f"INSERT OR IGNORE INTO [{ses}] (session_id, tenant_id) VALUES (?, ?)",
                    [(d["session_id"], d.get("tenant_id")) for d in (e.data for e in run)],
                )
            elif type_name in ("MessageAdded", "ItemAdded"):
                # Every item is recorded in `msg` (a pop removes the last n
                # items, text or not); those with text are indexed.
                key = "content" if type_name == "MessageAdded" else "text"
                rows = [(e.position, d["session_id"], d.get(key), d["role"])
                        for e in run for d in (e.data,)]
                # Tenants looked up once per run: FTS5 takes INSERT ... VALUES
                # several times faster than INSERT ... SELECT.
                tenants = dict(conn.execute(
                    f"SELECT session_id, tenant_id FROM [{ses}] WHERE session_id IN "
                    "(SELECT value FROM json_each(?))", (json.dumps(list({r[1] for r in rows})),)))
                rows = [r for r in rows if r[1] in tenants]  # items of live sessions only
                run_sql(conn,
                        f"INSERT INTO [{fts}] (rowid, content, cjk, session_id, tenant_id, role) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [(pos, content, cjk_text(content), sid, tenants[sid], role)
                         for pos, sid, content, role in rows if content is not None])
                run_sql(conn, f"INSERT INTO [{msg}] (session_id, position) VALUES (?, ?)",
                        [(sid, pos) for pos, sid, _, _ in rows])
            elif type_name in ("ItemsRemoved", "SessionCleared"):
                for e in run:
                    d = e.data
                    gone = [r[0] for r in conn.execute(
                        f"SELECT position FROM [{msg}] WHERE session_id = ? "
                        "ORDER BY position DESC LIMIT ?", (d["session_id"], d.get("count", -1)))]
                    marks = json.dumps(gone)
                    conn.execute(f"DELETE FROM [{fts}] WHERE rowid IN "
                                 "(SELECT value FROM json_each(?))", (marks,))
                    conn.execute(f"DELETE FROM [{msg}] WHERE session_id = ? AND position IN "
                                 "(SELECT value FROM json_each(?))", (d["session_id"], marks))
            elif type_name == "SessionDeleted":
                ids = [(e.data["session_id"],) for e in run]
                run_sql(conn,
                    f"DELETE FROM [{fts}] WHERE rowid IN "
                    f"(SELECT position FROM [{msg}] WHERE session_id = ?)", ids,
                )
                run_sql(conn, f"DELETE FROM [{msg}] WHERE session_id = ?", ids)
                run_sql(conn, f"DELETE FROM [{ses}] WHERE session_id = ?", ids)


def search(conn: sqlite3.Connection, query: str, tenant_id: str | None = None,
           limit: int = 20, syntax: str = "plain") -> list[SearchHit]:
    """Messages matching `query`, best first (FTS5's bm25 rank).

    Args:
        syntax: "plain" (default): words, each must match, the last as a
            prefix; punctuation only separates words. "fts5": FTS5 query
            syntax ("a phrase", prefix*, AND/OR/NOT, NEAR, column filters).

    Raises:
        ValueError: an empty, too long or (fts5) malformed query.
    """
    if syntax not in SYNTAXES:
        raise ValueError(f"syntax must be one of {SYNTAXES}, not {syntax!r}")
    expression, terms = plain_query(query) if syntax == "plain" else fts_query(query)
    sql = ("SELECT rowid, session_id, role FROM message_search WHERE message_search MATCH ? "
           "AND session_id IS NOT NULL")
    params: list = [expression]
    if tenant_id is not None:
        sql += " AND tenant_id = ?"
        params.append(tenant_id)
    sql += " ORDER BY rank, rowid LIMIT ?"
    params.append(limit)
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        if syntax == "plain":
            raise  # our own expression: not the user's mistake
        raise ValueError(f"bad search query {query!r}: {e}") from None
    hits = []
    for position, session_id, role in rows:
        (text, length) = conn.execute(
            "SELECT substr(content, 1, ?), length(content) FROM message_search WHERE rowid = ?",
            (SNIPPET_SCAN, position)).fetchone()
        hits.append(SearchHit(session_id, position, role,
                              snippet(text, terms, truncated=length > len(text))))
    return hits
