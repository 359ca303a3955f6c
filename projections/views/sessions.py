"""The sessions view: live sessions with their items, and tenant and user
state. Inline: updated in each write's own transaction. Its writer
(`SessionsProjection`) and its small readers (`find_by_key`, `owners`,
`read_scope_state`, ...) are here; the readers that build `Session`s from its
rows are in `session_reads`. Callers ask the view, never its tables.

Every index is a UNIQUE table constraint, so it follows its table through a
rebuild's rename.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Mapping, Sequence
from itertools import groupby
from operator import attrgetter
from typing import Any, ClassVar

from eventlog import RecordedEvent, state_stream
from eventlog.backends.dialect import Db
from eventlog.codec import dumps

from ..fold import apply_delta


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

    def create(self, db: Db, names: Mapping[str, str]) -> None:
        d = db.dialect
        db.execute(
            f"CREATE TABLE {db.q(names['sessions'])} ("
            f"position {d.int_type} PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT, "
            f"created_at {d.sorted_text} NOT NULL, user_id TEXT, tenant_id TEXT, key TEXT, "
            f"key_scope {d.sorted_text}, state TEXT, UNIQUE (created_at, position), "
            "UNIQUE (key_scope, position))"
        )
        db.execute(
            f"CREATE TABLE {db.q(names['items'])} ("
            f"session {d.int_type} NOT NULL, position {d.int_type} NOT NULL, "
            "item_id TEXT NOT NULL, role TEXT NOT NULL, data TEXT, text TEXT, "
            f"timestamp TEXT NOT NULL, PRIMARY KEY (session, position)){d.clustered}"
        )
        db.execute(
            f"CREATE TABLE {db.q(names['scope_state'])} ("
            f"stream TEXT PRIMARY KEY, state TEXT NOT NULL){d.clustered}"
        )

    def apply(self, db: Db, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        s, i = db.q(names["sessions"]), db.q(names["items"])
        cipher = db.cipher
        w = None if cipher is None else cipher.writer(db)  # an erasable store's: seals
        for type_name, run in groupby(events, key=attrgetter("type")):
            if type_name == "SessionCreated":
                created = [(e.position, d["session_id"], d["title"], d["created_at"],
                            d.get("user_id"), d.get("tenant_id"), d.get("key"),
                            key_scope(d.get("tenant_id"), d.get("key")))
                           for e in run for d in (e.data,)]
                if w is not None:
                    created = [(r[0], r[1], w.session(r[1], "title", r[2]), *r[3:])
                               for r in created]
                db.run(
                    f"INSERT INTO {s} (position, id, title, created_at, user_id, "
                    "tenant_id, key, key_scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING", created,
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
                if w is not None:
                    rows = [(r[0], r[1], r[2], w.session(r[6], "data", r[3]),
                             w.session(r[6], "text", r[4]), r[5], r[6]) for r in rows]
                db.run(
                    f"INSERT INTO {i} (position, session, item_id, role, data, text, timestamp) "
                    f"SELECT ?, position, ?, ?, ?, ?, ? FROM {s} WHERE id = ?", rows,
                )
            elif type_name == "ItemsRemoved":
                for e in run:
                    d = e.data
                    db.execute(
                        f"DELETE FROM {i} WHERE session = (SELECT position FROM {s} "
                        f"WHERE id = ?) AND position IN (SELECT position FROM {i} WHERE "
                        f"session = (SELECT position FROM {s} WHERE id = ?) "
                        "ORDER BY position DESC LIMIT ?)",
                        (d["session_id"], d["session_id"], d["count"]))
            elif type_name == "SessionCleared":
                db.run(
                    f"DELETE FROM {i} WHERE session = (SELECT position FROM {s} WHERE id = ?)",
                    [(e.data["session_id"],) for e in run],
                )
            elif type_name == "StateChanged":
                for e in run:
                    d = e.data
                    row = db.execute(f"SELECT state FROM {s} WHERE id = ?",
                                     (d["session_id"],)).fetchone()
                    if row is not None:
                        sid, text = d["session_id"], row[0]
                        if w is not None:
                            text = cipher.open(sid, "state", text)
                        state = json.loads(text) if text else {}
                        apply_delta(state, d["delta"])
                        text = dumps(state) if state else None
                        if w is not None:
                            text = w.session(sid, "state", text)
                        db.execute(f"UPDATE {s} SET state = ? WHERE id = ?", (text, sid))
            elif type_name == "ScopeStateChanged":
                st = db.q(names["scope_state"])
                for e in run:
                    d = e.data
                    stream = state_stream(d["tenant_id"], d.get("user_id"))
                    row = db.execute(f"SELECT state FROM {st} WHERE stream = ?",
                                     (stream,)).fetchone()
                    sealed = w is not None and d.get("user_id") is not None
                    text = row[0] if row else None
                    if sealed:
                        text = cipher.open(stream, "state", text)
                    state = json.loads(text) if text else {}
                    apply_delta(state, d["delta"])
                    text = dumps(state)
                    if sealed and w is not None:
                        text = w.user(d["tenant_id"], d["user_id"], stream, "state", text)
                    db.execute(f"INSERT INTO {st} (stream, state) VALUES (?, ?) "
                               "ON CONFLICT (stream) DO UPDATE SET state = excluded.state",
                               (stream, text))
            elif type_name == "SessionDeleted":
                ids = [(e.data["session_id"],) for e in run]
                db.run(
                    f"DELETE FROM {i} WHERE session = (SELECT position FROM {s} WHERE id = ?)",
                    ids,
                )
                db.run(f"DELETE FROM {s} WHERE id = ?", ids)


# -- small readers of the sessions view -----------------------------------------

def find_by_key(db: Db, key: str, tenant_id: str | None) -> str | None:
    """The id of the live session of the tenant holding `key` (the oldest,
    should a hand-written log hold two), or None."""
    row = db.execute("SELECT id FROM sessions WHERE key_scope = ? ORDER BY position LIMIT 1",
                       (key_scope(tenant_id, key),)).fetchone()
    return None if row is None else row[0]


def owners(db: Db, sid: uuid.UUID | str) -> tuple[str | None, str | None] | None:
    """The live session's (user_id, tenant_id), or None."""
    row = db.execute("SELECT user_id, tenant_id FROM sessions WHERE id = ?",
                     (str(sid),)).fetchone()
    return None if row is None else tuple(row)


def tenant_of(db: Db, sid: uuid.UUID | str) -> tuple[str | None] | None:
    """(tenant_id,) of the live session, or None when there is none."""
    return db.execute("SELECT tenant_id FROM sessions WHERE id = ?", (str(sid),)).fetchone()


def item_count(db: Db, sid: uuid.UUID | str) -> int:
    """How many items the live session holds."""
    return db.execute("SELECT count(*) FROM items WHERE session = "
                        "(SELECT position FROM sessions WHERE id = ?)", (str(sid),)).fetchone()[0]


def read_scope_state(db: Db, tenant_id: str,
                     user_id: str | None = None) -> dict[str, Any]:
    """The tenant's state, or its user's; {} when never set."""
    stream = state_stream(tenant_id, user_id)
    row = db.execute("SELECT state FROM scope_state WHERE stream = ?", (stream,)).fetchone()
    if row is None:
        return {}
    if db.cipher is not None and user_id is not None:
        return json.loads(db.cipher.open(stream, "state", row[0]))
    return json.loads(row[0])


def stream_version(db: Db, stream_id: str) -> int:
    """The version of a stream (0: none) as the log holds it."""
    return db.execute("SELECT max(version) FROM events WHERE stream_id = ?",
                        (stream_id,)).fetchone()[0] or 0


def live_count(db: Db) -> int:
    """How many live sessions the view holds."""
    return db.execute("SELECT count(*) FROM sessions").fetchone()[0]


def counts(db: Db) -> tuple[int, int, int]:
    """(live sessions, their items, the messages among them)."""
    return db.execute(
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM items), "
        "(SELECT count(*) FROM items WHERE role IN ('user', 'assistant') AND text IS NOT NULL)"
    ).fetchone()
