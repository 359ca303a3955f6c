"""The built-in projections: sessions with their items and state, and the
tenant index. Both are inline: updated in each write's own transaction.
Each view's readers live beside its writer (`read_sessions`, `find_by_key`,
`read_scope_state`, ...): callers ask the view, never its tables.

Every index is a UNIQUE table constraint, so it follows its table through a
rebuild's rename.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import Any, ClassVar

from eventlog import RecordedEvent, state_stream
from eventlog.checks import uuid_from_text
from eventlog.codec import dumps

from .build import builder
from .fold import apply_delta, item_message
from .models import Session, SessionItem, SessionMessage, SessionSummary


def run_sql(conn: sqlite3.Connection, sql: str, rows: list) -> None:
    """executemany, or execute for the common single row (inline writes)."""
    if len(rows) == 1:
        conn.execute(sql, rows[0])
    elif rows:
        conn.executemany(sql, rows)


def key_scope(tenant_id: str | None, key: str | None) -> str | None:
    """The indexed text that names a key within its tenant."""
    return None if key is None else json.dumps([tenant_id, key], ensure_ascii=False)


class SessionsProjection:
    """Live sessions (`sessions`), their items (`items`), and tenant and
    user state (`scope_state`).

    A session's row is keyed by the position of its `SessionCreated` event;
    an item's by its session's key and the position of its event (one b-tree,
    clustered by session: one page written per item, and a session's items
    read from adjacent pages). A `MessageAdded` is an item whose `data` is
    left NULL (it is `{"role", "content"}`). A session's version and last
    update are read from its last event, so an append writes no session row.
    A deletion removes the session and its items from the view; its events
    stay in the log.
    """

    name = "sessions"
    tables: ClassVar[tuple[str, ...]] = ("sessions", "items", "scope_state")
    #: Tables of earlier releases this projection replaces (dropped on setup).
    replaces: ClassVar[tuple[str, ...]] = ("messages",)
    inline = True

    def create(self, conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
        conn.execute(
            f"CREATE TABLE [{names['sessions']}] ("
            "position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT, "
            "created_at TEXT NOT NULL, user_id TEXT, tenant_id TEXT, key TEXT, key_scope TEXT, "
            "state TEXT, UNIQUE (created_at, position), UNIQUE (key_scope, position))"
        )
        conn.execute(
            f"CREATE TABLE [{names['items']}] ("
            "session INTEGER NOT NULL, position INTEGER NOT NULL, item_id TEXT NOT NULL, "
            "role TEXT NOT NULL, data TEXT, text TEXT, timestamp TEXT NOT NULL, "
            "PRIMARY KEY (session, position)) WITHOUT ROWID"
        )
        conn.execute(
            f"CREATE TABLE [{names['scope_state']}] ("
            "stream TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID"
        )

    def apply(self, conn: sqlite3.Connection, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        s, i = names["sessions"], names["items"]
        for type_name, run in groupby(events, key=attrgetter("type")):
            if type_name == "SessionCreated":
                run_sql(conn,
                    f"INSERT OR IGNORE INTO [{s}] (position, id, title, created_at, user_id, "
                    "tenant_id, key, key_scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(e.position, d["session_id"], d["title"], d["created_at"],
                      d.get("user_id"), d.get("tenant_id"), d.get("key"),
                      key_scope(d.get("tenant_id"), d.get("key")))
                     for e in run for d in (e.data,)],
                )
            elif type_name in ("MessageAdded", "ItemAdded"):
                rows: builtins.list[tuple]
                if type_name == "MessageAdded":
                    rows = [(e.position, f"message-{e.version}", d["role"], None, d["content"],
                             d["timestamp"], d["session_id"])
                            for e in run for d in (e.data,)]
                else:
                    rows = [(e.position, d["item_id"], d["role"], dumps(d["data"]), d.get("text"),
                             d["timestamp"], d["session_id"])
                            for e in run for d in (e.data,)]
                run_sql(conn,
                    f"INSERT INTO [{i}] (position, session, item_id, role, data, text, timestamp) "
                    f"SELECT ?, position, ?, ?, ?, ?, ? FROM [{s}] WHERE id = ?", rows,
                )
            elif type_name == "ItemsRemoved":
                for e in run:
                    d = e.data
                    conn.execute(
                        f"DELETE FROM [{i}] WHERE session = (SELECT position FROM [{s}] "
                        f"WHERE id = ?1) AND position IN (SELECT position FROM [{i}] WHERE "
                        f"session = (SELECT position FROM [{s}] WHERE id = ?1) "
                        "ORDER BY position DESC LIMIT ?2)", (d["session_id"], d["count"]))
            elif type_name == "SessionCleared":
                run_sql(conn,
                    f"DELETE FROM [{i}] WHERE session = (SELECT position FROM [{s}] WHERE id = ?)",
                    [(e.data["session_id"],) for e in run],
                )
            elif type_name == "StateChanged":
                for e in run:
                    d = e.data
                    row = conn.execute(f"SELECT state FROM [{s}] WHERE id = ?",
                                       (d["session_id"],)).fetchone()
                    if row is not None:
                        state = json.loads(row[0]) if row[0] else {}
                        apply_delta(state, d["delta"])
                        conn.execute(f"UPDATE [{s}] SET state = ? WHERE id = ?",
                                     (dumps(state) if state else None, d["session_id"]))
            elif type_name == "ScopeStateChanged":
                st = names["scope_state"]
                for e in run:
                    d = e.data
                    stream = state_stream(d["tenant_id"], d.get("user_id"))
                    row = conn.execute(f"SELECT state FROM [{st}] WHERE stream = ?",
                                       (stream,)).fetchone()
                    state = json.loads(row[0]) if row else {}
                    apply_delta(state, d["delta"])
                    conn.execute(f"INSERT OR REPLACE INTO [{st}] (stream, state) VALUES (?, ?)",
                                 (stream, dumps(state)))
            elif type_name == "SessionDeleted":
                ids = [(e.data["session_id"],) for e in run]
                run_sql(conn,
                    f"DELETE FROM [{i}] WHERE session = (SELECT position FROM [{s}] WHERE id = ?)",
                    ids,
                )
                run_sql(conn, f"DELETE FROM [{s}] WHERE id = ?", ids)


# -- readers of the sessions view ------------------------------------------------

# A session's version and last-update time: those of its stream's last event.
_LAST = ("(SELECT {col} FROM events WHERE stream_id = s.id ORDER BY version DESC LIMIT 1)")
_UPDATED = ("coalesce(json_extract(data, '$.timestamp'), json_extract(data, '$.removed_at'), "
            "json_extract(data, '$.cleared_at'), json_extract(data, '$.changed_at'), "
            "json_extract(data, '$.created_at'))")
SESSION_COLS = (
    "s.position, s.id, s.title, s.created_at, s.user_id, s.tenant_id, s.key, s.state, "
    f"{_LAST.format(col='version')}, {_LAST.format(col=_UPDATED)}"
)
_ITEM_COLS = "item_id, role, data, text, timestamp"
_parse_time = datetime.fromisoformat


# Rows come from our own projection, validated on the way in: build without
# re-running the converters (get/list are hot paths), through builders made
# from attrs.fields (a field added to a class must be added here too).
_build_item = builder(SessionItem, ("id", "role", "data", "timestamp", "text"))
_build_session = builder(Session, ("id", "title", "created_at", "messages", "user_id",
                                   "tenant_id", "key", "version", "items", "state",
                                   "updated_at"))


def _item(item_id: str, role: str, data: str | None, text: str | None,
          timestamp: str) -> SessionItem:
    return _build_item(item_id, role,
                       {"role": role, "content": text} if data is None else json.loads(data),
                       _parse_time(timestamp), text)


def _session(row: Sequence, items: builtins.list[SessionItem],
             messages: builtins.list[SessionMessage] | None = None) -> Session:
    """The session of a `sessions` row, its items and (if already derived)
    their messages."""
    if messages is None:
        messages = _messages(items)
    return _build_session(uuid_from_text(row[1]), row[2], _parse_time(row[3]), messages,
                          row[4], row[5], row[6], row[8] or 0, items,
                          json.loads(row[7]) if row[7] else {},
                          _parse_time(row[9]) if row[9] else None)


def _messages(items: builtins.list[SessionItem]) -> builtins.list[SessionMessage]:
    return [m for m in map(item_message, items) if m is not None]


def read_session_rows(conn: sqlite3.Connection, sid: uuid.UUID | str,
                      last_n: int | None = None) -> tuple[Sequence, builtins.list] | None:
    """The `sessions` row and the item rows of a live session, or None."""
    row = conn.execute(f"SELECT {SESSION_COLS} FROM sessions s WHERE s.id = ?",
                       (str(sid),)).fetchone()
    if row is None:
        return None
    if last_n is None:
        rows = conn.execute(f"SELECT {_ITEM_COLS} FROM items WHERE session = ? "
                            "ORDER BY position", (row[0],)).fetchall()
    else:
        rows = conn.execute(f"SELECT {_ITEM_COLS} FROM items WHERE session = ? "
                            "ORDER BY position DESC LIMIT ?", (row[0], last_n)).fetchall()
        rows.reverse()
    return row, rows


def session_from_rows(row: Sequence, rows: builtins.list,
                      reused: tuple[builtins.list[SessionItem], builtins.list[SessionMessage]]
                      | None = None) -> Session:
    """Build a session from `read_session_rows`. `reused`: the items built
    from the leading rows by an earlier read, and their messages."""
    if not reused or not reused[0]:
        return _session(row, [_item(*r) for r in rows])
    items, messages = reused
    new = [_item(*r) for r in rows[len(items):]]
    return _session(row, items + new, messages + _messages(new))


def read_session(conn: sqlite3.Connection, sid: uuid.UUID | str,
                 last_n: int | None = None) -> Session | None:
    """The live session with this id from the view, or None; with `last_n`,
    only its last n items (and the messages among them)."""
    found = read_session_rows(conn, sid, last_n)
    return None if found is None else session_from_rows(*found)


def find_by_key(conn: sqlite3.Connection, key: str, tenant_id: str | None) -> str | None:
    """The id of the live session of the tenant holding `key` (the oldest,
    should a hand-written log hold two), or None."""
    row = conn.execute("SELECT id FROM sessions WHERE key_scope = ? ORDER BY position LIMIT 1",
                       (key_scope(tenant_id, key),)).fetchone()
    return None if row is None else row[0]


def owners(conn: sqlite3.Connection, sid: uuid.UUID | str) -> tuple[str | None, str | None] | None:
    """The live session's (user_id, tenant_id), or None."""
    return conn.execute("SELECT user_id, tenant_id FROM sessions WHERE id = ?",
                        (str(sid),)).fetchone()


def tenant_of(conn: sqlite3.Connection, sid: uuid.UUID | str) -> tuple[str | None] | None:
    """(tenant_id,) of the live session, or None when there is none."""
    return conn.execute("SELECT tenant_id FROM sessions WHERE id = ?", (str(sid),)).fetchone()


def last_items(conn: sqlite3.Connection, sid: uuid.UUID | str, n: int) -> builtins.list[SessionItem]:
    """The last n items of the live session, oldest first."""
    rows = conn.execute(
        f"SELECT {_ITEM_COLS} FROM items WHERE session = (SELECT position FROM sessions "
        "WHERE id = ?) ORDER BY position DESC LIMIT ?", (str(sid), n)).fetchall()
    return [_item(*r) for r in reversed(rows)]


def item_count(conn: sqlite3.Connection, sid: uuid.UUID | str) -> int:
    """How many items the live session holds."""
    return conn.execute("SELECT count(*) FROM items WHERE session = "
                        "(SELECT position FROM sessions WHERE id = ?)", (str(sid),)).fetchone()[0]


def read_scope_state(conn: sqlite3.Connection, tenant_id: str,
                     user_id: str | None = None) -> dict[str, Any]:
    """The tenant's state, or its user's; {} when never set."""
    row = conn.execute("SELECT state FROM scope_state WHERE stream = ?",
                       (state_stream(tenant_id, user_id),)).fetchone()
    return json.loads(row[0]) if row else {}


def _page(conn, tenant_id, before, where, params) -> tuple[str, str]:
    """FROM and WHERE of a keyset page of live sessions (newest first)."""
    if tenant_id is None:
        source = "sessions s"
    else:
        source = "tenant_sessions t JOIN sessions s ON s.position = t.session"
        where.append("t.tenant_id = ?")
        params.append(tenant_id)
    if before is not None:
        anchor = conn.execute("SELECT created_at, position FROM sessions WHERE id = ?",
                              (str(before),)).fetchone()
        if anchor is None:
            raise LookupError(before)
        where.append("(s.created_at, s.position) < (?, ?)")
        params.extend(anchor)
    return source, f"WHERE {' AND '.join(where)}" if where else ""


def read_sessions(conn: sqlite3.Connection, tenant_id: str | None, limit: int | None,
                  before: uuid.UUID | None) -> builtins.list[Session]:
    """Live sessions (of a tenant), newest first, paged by `before` (the id
    of a live session; LookupError if it is none)."""
    params: builtins.list[Any] = []
    source, cond = _page(conn, tenant_id, before, [], params)
    rows = conn.execute(
        f"SELECT {SESSION_COLS} FROM {source} {cond} "
        "ORDER BY s.created_at DESC, s.position DESC LIMIT ?",
        (*params, -1 if limit is None else limit),
    ).fetchall()
    if not rows:
        return []
    by_session: dict[int, builtins.list[SessionItem]] = {r[0]: [] for r in rows}
    args: tuple[object, ...]
    if limit is None and before is None:
        # Everything (of the tenant): one ordered scan, no id list.
        if tenant_id is None:
            sql, args = f"SELECT session, {_ITEM_COLS} FROM items ORDER BY session, position", ()
        else:
            sql, args = ("SELECT i.session, i.item_id, i.role, i.data, i.text, i.timestamp "
                         "FROM tenant_sessions t JOIN items i ON i.session = t.session "
                         "WHERE t.tenant_id = ? ORDER BY i.session, i.position", (tenant_id,))
    else:
        sql = (f"SELECT session, {_ITEM_COLS} FROM items WHERE session IN "
               "(SELECT value FROM json_each(?)) ORDER BY session, position")
        args = (json.dumps(builtins.list(by_session)),)
    for pos, *item in conn.execute(sql, args):
        bucket = by_session.get(pos)
        if bucket is not None:  # a view edited by hand may hold orphans
            bucket.append(_item(*item))
    return [_session(r, by_session[r[0]]) for r in rows]


def read_summaries(conn: sqlite3.Connection, tenant_id: str | None, user_id: str | None,
                   limit: int | None, before: uuid.UUID | None) -> builtins.list[SessionSummary]:
    """Summaries of live sessions (of a tenant, of a user), newest first, paged
    as `read_sessions`; no item is loaded."""
    where, params = [], []
    if user_id is not None:
        where.append("s.user_id = ?")
        params.append(user_id)
    source, cond = _page(conn, tenant_id, before, where, params)
    rows = conn.execute(
        f"SELECT {SESSION_COLS}, (SELECT count(*) FROM items WHERE session = s.position) "
        f"FROM {source} {cond} ORDER BY s.created_at DESC, s.position DESC LIMIT ?",
        (*params, -1 if limit is None else limit),
    ).fetchall()
    return [SessionSummary(uuid_from_text(r[1]), r[2], _parse_time(r[3]),
                           _parse_time(r[9]) if r[9] else None, r[4], r[5], r[6], r[8] or 0, r[10])
            for r in rows]


def stream_version(conn: sqlite3.Connection, stream_id: str) -> int:
    """The version of a stream (0: none) as the log holds it."""
    return conn.execute("SELECT max(version) FROM events WHERE stream_id = ?",
                        (stream_id,)).fetchone()[0] or 0


def live_count(conn: sqlite3.Connection, schema: str = "main") -> int:
    """How many live sessions the view holds."""
    return conn.execute(f"SELECT count(*) FROM [{schema}].sessions").fetchone()[0]


def counts(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(live sessions, their items, the messages among them)."""
    return conn.execute(
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM items), "
        "(SELECT count(*) FROM items WHERE role IN ('user', 'assistant') AND text IS NOT NULL)"
    ).fetchone()


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
                        for e in run for d in (e.data,) if d.get("tenant_id") is not None]
                run_sql(conn,
                    f"INSERT OR IGNORE INTO [{t}] (session, session_id, tenant_id, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
            elif type_name == "SessionDeleted":
                run_sql(conn,
                    f"DELETE FROM [{t}] WHERE session_id = ?",
                    [(e.data["session_id"],) for e in run],
                )


def tenant_index(conn: sqlite3.Connection, schema: str = "main") -> set[tuple[str, str]]:
    """Every (session id, tenant id) the tenant index holds."""
    return set(conn.execute(f"SELECT session_id, tenant_id FROM [{schema}].tenant_sessions"))
