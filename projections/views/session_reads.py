"""Readers of the sessions view that build `Session`s and `SessionSummary`s
from its rows (`get`, `list`, `list_summaries`): the hot read paths, written
for few allocations per row. The view's writer is `sessions.SessionsProjection`.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from eventlog import DuplicateEventError
from eventlog.backends.dialect import Db
from eventlog.checks import uuid_from_text

from ..builders import builder
from ..fold import item_message
from ..frozen import FrozenDict, freeze
from ..models import MESSAGE_ROLES, Session, SessionItem, SessionMessage, SessionSummary

# A session's version and last-update time: those of its stream's last event.
_LAST = "(SELECT {col} FROM events WHERE stream_id = s.id ORDER BY version DESC LIMIT 1)"
_UPDATED_KEYS = ("timestamp", "removed_at", "cleared_at", "changed_at", "created_at")
_SESSION_COLS: dict[str, str] = {}


def session_cols(db: Db) -> str:
    """The columns of a `sessions` row as readers take it (aliased `s`)."""
    d = db.dialect
    cols = _SESSION_COLS.get(d.name)
    if cols is None:
        updated = f"coalesce({', '.join(d.json_text('data', k) for k in _UPDATED_KEYS)})"
        cols = _SESSION_COLS[d.name] = (
            "s.position, s.id, s.title, s.created_at, s.user_id, s.tenant_id, s.key, s.state, "
            f"{_LAST.format(col='version')}, {_LAST.format(col=updated)}"
        )
    return cols


_ITEM_COLS = "item_id, role, data, text, timestamp, position"
_parse_time = datetime.fromisoformat

# What `list` and `get` read of a session: its row, its stream's version and
# the position of its last event, both from the (stream_id, version) index
# alone. The last update is then the last item's timestamp (when that event
# added the item) or `created_at` (when it created the session); only other
# last events (a pop, a clear, a state change) are read from the log
# (`_with_updated`), in one query for all of them.
_HEAD_COLS = (
    "s.position, s.id, s.title, s.created_at, s.user_id, s.tenant_id, s.key, s.state, "
    f"{_LAST.format(col='version')}, {_LAST.format(col='position')}"
)


def _updated_sql(db: Db) -> str:
    d = db.dialect
    updated = f"coalesce({', '.join(d.json_text('data', k) for k in _UPDATED_KEYS)})"
    return f"SELECT position, {updated} FROM events WHERE {d.in_list('position')}"


def _with_updated(db: Db, heads: Sequence[Sequence],
                  last_items: Mapping[int, tuple[str, int]]) -> builtins.list[tuple]:
    """`heads` (rows of `_HEAD_COLS`) with their last column replaced by the
    session's last update as `session_cols` reads it. `last_items`: the
    (timestamp, position) of each session's last item, by session position
    (absent: no item)."""
    out, unknown = [], []
    for h in heads:
        last, item = h[9], last_items.get(h[0])
        if last is None:
            updated = None
        elif last == h[0]:  # the session's creation
            updated = h[3]
        elif item is not None and item[1] == last:  # the event added its last item
            updated = item[0]
        else:
            unknown.append(last)
            updated = last  # an int: read below
        out.append((*h[:9], updated))
    if unknown:
        found = dict(db.execute(_updated_sql(db), (db.dialect.list_param(unknown),)))
        out = [(*r[:9], found.get(r[9])) if type(r[9]) is int else r for r in out]
    return out


# Rows come from our own projection, validated on the way in: build without
# re-running the converters (get/list are hot paths), through builders made
# from attrs.fields (a field added to a class must be added here too).
_build_item = builder(SessionItem, ("id", "role", "data", "timestamp", "text"))
_build_message = builder(SessionMessage, ("role", "content", "timestamp"))
_build_session = builder(Session, ("id", "title", "created_at", "messages", "user_id",
                                   "tenant_id", "key", "version", "items", "state",
                                   "updated_at"))


def _item(item_id: str, role: str, data: str | None, text: str | None,
          timestamp: str, position: int | None = None) -> SessionItem:
    return _build_item(item_id, role,
                       FrozenDict(role=role, content=text) if data is None
                       else freeze(json.loads(data)), _parse_time(timestamp), text)


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


def _open_head(op: Any, h: Sequence) -> tuple:
    """A `_HEAD_COLS` row of an erasable store with its title and state opened
    (`op`: its `ViewCipher.opener()`)."""
    return (h[0], h[1], op(h[1], "title", h[2]), *h[3:7], op(h[1], "state", h[7]), *h[8:])


def _open_items(op: Any, sid: str, rows: Sequence[Sequence]) -> builtins.list:
    """`_ITEM_COLS` rows of an erasable store's session with data and text opened."""
    return [(r[0], r[1], op(sid, "data", r[2]), op(sid, "text", r[3]), *r[4:]) for r in rows]


def read_session_rows(db: Db, sid: uuid.UUID | str,
                      last_n: int | None = None) -> tuple[Sequence, builtins.list] | None:
    """The `sessions` row and the item rows of a live session, or None."""
    head = db.execute(f"SELECT {_HEAD_COLS} FROM sessions s WHERE s.id = ?",
                      (str(sid),)).fetchone()
    if head is None:
        return None
    if last_n is None:
        rows = db.execute(f"SELECT {_ITEM_COLS} FROM items WHERE session = ? "
                          "ORDER BY position", (head[0],)).fetchall()
    else:
        rows = db.execute(f"SELECT {_ITEM_COLS} FROM items WHERE session = ? "
                          "ORDER BY position DESC LIMIT ?", (head[0], last_n)).fetchall()
        rows.reverse()
    cipher = db.cipher
    if cipher is not None:
        op = cipher.opener()
        head, rows = _open_head(op, head), _open_items(op, head[1], rows)
    (row,) = _with_updated(db, [head], {head[0]: (rows[-1][4], rows[-1][5])} if rows else {})
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


def read_session(db: Db, sid: uuid.UUID | str,
                 last_n: int | None = None) -> Session | None:
    """The live session with this id from the view, or None; with `last_n`,
    only its last n items (and the messages among them)."""
    found = read_session_rows(db, sid, last_n)
    return None if found is None else session_from_rows(*found)


def last_items(db: Db, sid: uuid.UUID | str, n: int) -> builtins.list[SessionItem]:
    """The last n items of the live session, oldest first."""
    rows = db.execute(
        f"SELECT {_ITEM_COLS} FROM items WHERE session = (SELECT position FROM sessions "
        "WHERE id = ?) ORDER BY position DESC LIMIT ?", (str(sid), n)).fetchall()
    if db.cipher is not None:
        rows = _open_items(db.cipher.opener(), str(sid), rows)
    return [_item(*r) for r in reversed(rows)]


def held_item_ids(db: Db, sid: uuid.UUID | str, item_ids: Sequence[str]) -> set[str]:
    """Which of `item_ids` the live session's items hold (ids are stored in
    clear, erasable stores too)."""
    if not item_ids:
        return set()
    d = db.dialect
    return {r[0] for r in db.execute(
        f"SELECT value FROM {d.list_source()} WHERE EXISTS (SELECT 1 FROM items WHERE "
        "session = (SELECT position FROM sessions WHERE id = ?) AND item_id = value)",
        (d.list_param(item_ids), str(sid)))}


def duplicate_item(sid: uuid.UUID | str, item_id: str) -> DuplicateEventError:
    """The error of `add_items(unique_ids=True)` for an item id the session holds."""
    return DuplicateEventError(item_id, f"item {item_id!r} is already in session {sid}")


def _page(db: Db, tenant_id, before, where, params) -> tuple[str, str]:
    """FROM and WHERE of a keyset page of live sessions (newest first)."""
    if tenant_id is None:
        source = "sessions s"
    else:
        source = "tenant_sessions t JOIN sessions s ON s.position = t.session"
        where.append("t.tenant_id = ?")
        params.append(tenant_id)
    if before is not None:
        # a key `session_keys` gave (its session may be gone since), or a live session's id
        anchor = before if isinstance(before, tuple) else db.execute(
            "SELECT created_at, position FROM sessions WHERE id = ?", (str(before),)).fetchone()
        if anchor is None:
            raise LookupError(before)
        where.append("(s.created_at, s.position) < (?, ?)")
        params.extend(anchor)
    return source, f"WHERE {' AND '.join(where)}" if where else ""


def session_keys(db: Db, ids: Iterable[uuid.UUID]) -> dict[str, tuple[str, int]]:
    """The keyset key of live sessions by id: (created_at as stored, the
    position of its SessionCreated), what `read_sessions` orders by (newest
    first: the greatest key first)."""
    d = db.dialect
    return {r[0]: (r[1], r[2]) for r in db.execute(
        f"SELECT id, created_at, position FROM sessions WHERE {d.in_list('id')}",
        (d.list_param(str(i) for i in ids),))}


def read_sessions(db: Db, tenant_id: str | None, limit: int | None,
                  before: uuid.UUID | tuple[str, int] | None) -> builtins.list[Session]:
    """Live sessions (of a tenant), newest first, paged by `before` (the id
    of a live session, LookupError if it is none; or a session's key as
    `session_keys` gives it)."""
    params: builtins.list[Any] = []
    source, cond = _page(db, tenant_id, before, [], params)
    heads = db.execute(
        f"SELECT {_HEAD_COLS} FROM {source} {cond} "
        "ORDER BY s.created_at DESC, s.position DESC LIMIT ?",
        (*params, db.dialect.no_limit if limit is None else limit),
    ).fetchall()
    if not heads:
        return []
    cipher = db.cipher
    if cipher is not None:
        op = cipher.opener()
        heads = [_open_head(op, h) for h in heads]
    args: tuple[object, ...]
    if limit is None and before is None:
        # Everything (of the tenant): one ordered scan, no id list.
        if tenant_id is None:
            sql, args = f"SELECT session, {_ITEM_COLS} FROM items ORDER BY session, position", ()
        else:
            sql, args = ("SELECT i.session, i.item_id, i.role, i.data, i.text, i.timestamp, "
                         "i.position FROM tenant_sessions t JOIN items i ON i.session = t.session "
                         "WHERE t.tenant_id = ? ORDER BY i.session, i.position", (tenant_id,))
    else:
        sql = (f"SELECT session, {_ITEM_COLS} FROM items WHERE "
               f"{db.dialect.in_list('session')} ORDER BY session, position")
        args = (db.dialect.list_param(h[0] for h in heads),)
    # One pass builds each item and, for a user/assistant item with text,
    # its message (what `item_message` gives), sharing the parsed time.
    # Allocation is the cost here: every container made per session is
    # tracked by the cyclic GC, whose passes (full ones walk every object of
    # the process) are most of a large list's time. So per session only what
    # is returned is made: its lists live in two dicts (no tuple holding
    # them), the last item's position is an int, and the last update reuses
    # a datetime already parsed (creation or last item) when it is one.
    items_of: dict[int, builtins.list[SessionItem]] = {}
    messages_of: dict[int, builtins.list[SessionMessage]] = {}
    for h in heads:
        items_of[h[0]] = []
        messages_of[h[0]] = []
    last_item: dict[int, int] = {}
    build_item, build_message, parse, loads = _build_item, _build_message, _parse_time, json.loads
    message_data = FrozenDict
    roles = MESSAGE_ROLES
    current, items, messages = None, None, None
    found = db.execute(sql, args)
    if cipher is not None:
        ids = {h[0]: h[1] for h in heads}  # rows of other sessions are skipped below
        found = ((r[0], r[1], r[2], op(ids[r[0]], "data", r[3]), op(ids[r[0]], "text", r[4]),
                  r[5], r[6]) if r[0] in ids else r for r in found)
    for pos, item_id, role, data, text, ts, ipos in found:
        if pos != current:
            current = pos
            items = items_of.get(pos)  # a view edited by hand may hold orphans
            messages = messages_of.get(pos)
        if items is None or messages is None:
            continue
        at = parse(ts)
        items.append(build_item(item_id, role, message_data(role=role, content=text)
                                if data is None else freeze(loads(data)), at, text))
        if text is not None and role in roles:
            messages.append(build_message(roles[role], text, at))
        last_item[pos] = ipos
    # A last event that neither created the session nor added its last item
    # (a pop, a clear, a state change): its time is read from the log, in
    # one query for all of them (as `_with_updated` does).
    other = [h[9] for h in heads if h[9] is not None and h[9] != h[0]
             and last_item.get(h[0]) != h[9]]
    times: dict[int, str | None] = {}
    if other:
        times = dict(db.execute(_updated_sql(db), (db.dialect.list_param(other),)))
    sessions = []
    build_session, to_uuid = _build_session, uuid_from_text
    for h in heads:
        pos, last = h[0], h[9]
        items, messages = items_of[pos], messages_of[pos]
        created = parse(h[3])
        if last is None:
            updated = None
        elif last == pos:  # the session's creation
            updated = created
        elif last_item.get(pos) == last:  # the event added its last item
            updated = items[-1].timestamp
        else:
            text = times.get(last)
            updated = parse(text) if text else None
        sessions.append(build_session(
            to_uuid(h[1]), h[2], created, messages, h[4], h[5], h[6], h[8] or 0, items,
            loads(h[7]) if h[7] else {}, updated))
    return sessions


def read_summaries(db: Db, tenant_id: str | None, user_id: str | None,
                   limit: int | None, before: uuid.UUID | None) -> builtins.list[SessionSummary]:
    """Summaries of live sessions (of a tenant, of a user), newest first, paged
    as `read_sessions`; no item is loaded."""
    where, params = [], []
    if user_id is not None:
        where.append("s.user_id = ?")
        params.append(user_id)
    return _summaries(db, tenant_id, where, params, limit, before)


# A key as stored, or as an adapter that keys sessions per user stores it:
# `<user id, "%" and "/" escaped>/<key>` (ADK's session ids).
_KEYED = ("(s.key = ? OR (s.user_id IS NOT NULL AND s.key = "
          "replace(replace(s.user_id, '%', '%25'), '/', '%2F') || '/' || ?))")


def read_keyed(db: Db, key: str, tenant_id: str | None) -> builtins.list[SessionSummary]:
    """Summaries of the live sessions (of a tenant) whose key is `key`, or
    `<user id>/key` for their own user (the form per-user keys take), in
    any tenant unless one is given; newest first."""
    where, params = [_KEYED], [key, key]
    if tenant_id is not None:
        where.append("s.tenant_id = ?")
        params.append(tenant_id)
    return _summaries(db, None, where, params, None, None)


def _summaries(db: Db, tenant_id: str | None, where: builtins.list[str],
               params: builtins.list[Any], limit: int | None,
               before: uuid.UUID | None) -> builtins.list[SessionSummary]:
    source, cond = _page(db, tenant_id, before, where, params)
    rows = db.execute(
        f"SELECT {session_cols(db)}, (SELECT count(*) FROM items WHERE session = s.position) "
        f"FROM {source} {cond} ORDER BY s.created_at DESC, s.position DESC LIMIT ?",
        (*params, db.dialect.no_limit if limit is None else limit),
    ).fetchall()
    if db.cipher is not None:
        op = db.cipher.opener()
        rows = [(r[0], r[1], op(r[1], "title", r[2]), *r[3:]) for r in rows]
    return [SessionSummary(uuid_from_text(r[1]), r[2], _parse_time(r[3]),
                           _parse_time(r[9]) if r[9] else None, r[4], r[5], r[6], r[8] or 0, r[10])
            for r in rows]
