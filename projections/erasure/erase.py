"""Erasing a data subject of an erasable store (see `projections.erasure.sealer`
for the design): `erase_session` (one session's key), `erase_user` (a user's
key and every session key it wraps), the purge that leaves no plain
copy in the file, and the `erasable` entry of `stats()`."""

from __future__ import annotations

import json
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

import attrs

from eventlog import EventLog, ScopeStateChanged, SessionDeleted, state_stream
from eventlog.backends.factory import is_url
from eventlog.backends.urls import shown
from eventlog.events import SubjectErased
from eventlog.sealing import MARKER

from ..errors import ErasureError, SessionNotFoundError
from ..runner import ProjectionRunner
from ..stores.unit import BulkWrite
from ..views import sessions as views
from .sealer import KEYS, STREAMS, Sealer, mark, subject_of


class ErasableStore(Protocol):
    """What erasing needs of a store (`EventSourcedSessionStore` is one)."""

    log: EventLog
    runner: ProjectionRunner

    @property
    def source(self) -> str:
        """The `source` recorded in each write's metadata."""
        ...

    def bulk(self) -> AbstractContextManager[BulkWrite]:
        """One write transaction for many appends."""
        ...


@attrs.frozen
class Erasure:
    """What an erase did. `already`: the subject was erased before (or has
    nothing to erase); nothing was written to the log then. `found`: False
    when the file holds no data of the subject: never written here, or
    erased earlier (the file keeps no trace of whom it erased, so it cannot
    tell which)."""

    subject: str | None
    sessions: int
    position: int | None
    already: bool
    detail: str
    found: bool = True


def sealer_of(store: ErasableStore) -> Sealer:
    """The store's `Sealer`, or an `ErasureError` for a plain file or log
    (named without a password)."""
    sealer = store.log.sealer
    if not isinstance(sealer, Sealer):
        path, kind = shown(store.log.path), "log" if is_url(store.log.path) else "file"
        raise ErasureError(
            f"{path} is a plain {kind}: its events cannot be erased; move it to an erasable "
            f"{kind} first: sessionlog --db {path} copy NEW --erasable")
    return sealer


def erase_session(store: ErasableStore, session_id: uuid.UUID, *, reason: str | None,
                  requested_by: str | None) -> Erasure:
    """Erase one session: destroy its own data key (see
    `EventSourcedSessionStore.erase`); its user's other sessions and state
    stay readable."""
    sealer = sealer_of(store)
    sid = str(session_id)
    with store.log.snapshot() as conn:
        mapped = conn.execute(f"SELECT key_id FROM {STREAMS} WHERE stream_id = ?",
                              (sid,)).fetchone()
        subject = conn.execute(
            f"SELECT k.subject FROM {STREAMS} s JOIN {KEYS} k USING (key_id) WHERE s.stream_id = ?",
            (sid,)).fetchone()
    if mapped is None:
        raise SessionNotFoundError(session_id)
    if subject is not None and json.loads(subject[0])[0] == "user":
        _, tenant, user = json.loads(subject[0])
        raise ErasureError(
            f"session {sid} was written before sessions had keys of their own: it shares user "
            f"{user!r} of tenant {tenant!r}'s key, so it is forgotten with the user only "
            f"(sessionlog erase --user {user} --tenant {tenant}); nothing was written")
    return _erase(store, sealer, mapped[0], "session", None, reason, requested_by)


def erase_user(store: ErasableStore, user_id: str, tenant_id: str, *, reason: str | None,
               requested_by: str | None) -> Erasure:
    """Erase every session and the state of a user of a tenant."""
    sealer = sealer_of(store)
    for name, value in (("user_id", user_id), ("tenant_id", tenant_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name}: expected a non-empty string, got {value!r}")
    with store.log.snapshot() as conn:
        row = conn.execute(f"SELECT key_id FROM {KEYS} WHERE subject = ?",
                           (subject_of(user_id, tenant_id, ""),)).fetchone()
    if row is None:
        purge(store)
        erased = _erased_before(store, user_id, tenant_id)
        if erased is not None:
            return Erasure(erased[0], 0, erased[1], True,
                           f"already erased at position {erased[1]}: nothing to erase")
        return Erasure(None, 0, None, True,
                       "no readable data: nothing to erase (never written, or erased earlier)",
                       found=False)
    return _erase(store, sealer, row[0], "user", (tenant_id, user_id), reason, requested_by)


def _erased_before(store: ErasableStore, user_id: str, tenant_id: str) -> tuple[str, int] | None:
    """The key id and SubjectErased position of a user of a tenant erased
    earlier, found through their sessions (user and tenant ids are kept in
    clear) or their state stream; None when the log has neither."""
    stream = state_stream(tenant_id, user_id)
    d = store.log.backend.dialect
    with store.log.snapshot() as conn:
        # The user's key through their state stream (mapped since per-session
        # keys), else through a session of before (mapped to the user's key).
        row = conn.execute(
            f"SELECT s.key_id, e.position FROM {STREAMS} s "
            "JOIN events e ON e.stream_id = 'erasure:' || s.key_id "
            "WHERE s.stream_id = ? OR s.stream_id IN (SELECT stream_id FROM events "
            f"WHERE type = 'SessionCreated' AND {d.json_text('data', 'user_id')} = ? "
            f"AND {d.json_text('data', 'tenant_id')} = ?) "
            "ORDER BY s.stream_id = ? DESC, e.position LIMIT 1",
            (stream, user_id, tenant_id, stream)).fetchone()
    return None if row is None else (row[0], row[1])


def _erase(store: ErasableStore, sealer: Sealer, key_id: str, scope: str, user: tuple[str, str] | None,
           reason: str | None, requested_by: str | None) -> Erasure:
    now = datetime.now(UTC)
    with store.bulk() as bulk:
        conn = bulk.db
        if conn.execute(f"SELECT 1 FROM {KEYS} WHERE key_id = ?", (key_id,)).fetchone() is None:
            done = conn.execute("SELECT position FROM events WHERE stream_id = ?",
                                (f"erasure:{key_id}",)).fetchone() or _erased_with_user(
                                    store, conn, streams_of=key_id)
            erased, keys = None, [key_id]
        else:
            # The sessions under the key: mapped to it, or to a key it wraps.
            keys = [key_id, *(r[0] for r in conn.execute(
                f"SELECT key_id FROM {KEYS} WHERE {sealer.parent_sql} = ?", (key_id,)))]
            own = state_stream(*user) if user is not None else None
            streams = [r[0] for r in conn.execute(
                f"SELECT stream_id FROM {STREAMS} WHERE key_id IN "
                f"({', '.join('?' * len(keys))}) ORDER BY stream_id", keys) if r[0] != own]
            batch: list[tuple[str, list, int | None]] = [
                (sid, [SessionDeleted(sid, now)], None)
                for sid in streams if views.tenant_of(conn, sid) is not None]
            if user is not None:
                state = views.read_scope_state(conn, *user)
                if state:
                    batch.append((state_stream(*user), [ScopeStateChanged(
                        "user", user[0], user[1], {k: None for k in state}, now)], None))
            batch.append((f"erasure:{key_id}", [SubjectErased(
                key_id, scope, len(streams), now, requested_by, reason)], None))
            recorded = bulk.commit(batch, {"source": store.source, "erasure": key_id})
            # The lazy views drop the subject's rows while its key still
            # opens them (a contentless search index needs the words back).
            for p in store.runner.projections.values():
                if not p.inline and store.runner.ready(conn, p):
                    store.runner.advance(conn, p)
            conn.executemany(f"DELETE FROM {KEYS} WHERE key_id = ?", [(k,) for k in keys])
            mark(conn, "purge_pending", "1")
            erased = (len(streams), recorded[-1].position)
    for k in keys:
        sealer.forget(k)
    purge(store)
    if erased is None:
        at = f" at position {done[0]}" if done else ""
        return Erasure(key_id, 0, done[0] if done else None, True,
                       f"already erased{at}: nothing to do")
    return Erasure(key_id, erased[0], erased[1], False,
                   f"erased {erased[0]} session(s); SubjectErased at position {erased[1]}")


def _erased_with_user(store: ErasableStore, conn: Any, streams_of: str) -> Any:
    """The SubjectErased row (position) of the user whose erasure destroyed
    the key `streams_of` of a session with it (its SessionDeleted names the
    user's key in its metadata); None when there is none."""
    erasure = store.log.backend.dialect.json_text("d.metadata", "erasure")
    return conn.execute(
        f"SELECT e.position FROM {STREAMS} s JOIN events d ON d.stream_id = s.stream_id "
        f"JOIN events e ON e.stream_id = 'erasure:' || {erasure} "
        "WHERE s.key_id = ? AND d.type = 'SessionDeleted' ORDER BY e.position LIMIT 1",
        (streams_of,)).fetchone()


def purge_pending(store: ErasableStore) -> bool:
    """Whether an erasure's purge was cut short (it runs on the next open)."""
    with store.log.snapshot() as conn:
        return conn.execute(f"SELECT 1 FROM {MARKER} WHERE name = 'purge_pending'"
                            ).fetchone() is not None


def purge(store: ErasableStore) -> None:
    """Make sure no plain text of erased rows is left in the file: bring
    every projection up to the log (so each has removed them), merge the
    search index into one segment (so deleted terms are gone), then fold the
    WAL into the database and truncate it. Freed pages were zeroed by
    secure_delete as the rows went.

    Idempotent: the "purge pending" mark is cleared only after the WAL was
    folded and truncated, in a step of its own, so a purge cut short at any
    point (a crash, a kill) runs whole again on the next open or erase.

    On PostgreSQL, after the catch-up: `VACUUM (FULL)` of the key table (the
    destroyed keys' rows leave its files: rewritten without them) and a
    plain VACUUM of the search tables (their dead rows' index entries go).
    PostgreSQL's own WAL, and any archive or backup of it, keeps old row
    versions until it is recycled: the README says so.

    Raises:
        ErasureError: another connection holds the WAL, or a lock the VACUUM
            needs (run it again later).
    """
    log = store.log
    store.runner.catch_up()  # lazy views (search) drop the erased rows now, not when next read
    store.runner.drop_leftovers()
    if log.backend.name == "postgres":
        _vacuum(store)
        with log.transaction() as conn:
            conn.execute(f"DELETE FROM {MARKER} WHERE name = 'purge_pending'")
        return
    with log.transaction() as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'message_search'").fetchone():
            conn.execute("INSERT INTO message_search(message_search) VALUES ('optimize')")
    if log.path != ":memory:" and _checkpoint(store):
        raise ErasureError(
            f"{log.path}: erased, but another connection is reading the file, so its WAL "
            "still holds old pages; run the erase again when it is done")
    with log.transaction() as conn:
        conn.execute(f"DELETE FROM {MARKER} WHERE name = 'purge_pending'")
    if log.path != ":memory:":
        _checkpoint(store)  # the WAL then holds that one small page only; busy is fine


#: What the purge vacuums on PostgreSQL: FULL rewrites the table (the only
#: way a deleted row's bytes leave its pages), plain removes dead rows.
_VACUUMS = (f"VACUUM (FULL) {KEYS}", "VACUUM message_search", "VACUUM search_messages")


def _vacuum(store: ErasableStore) -> None:
    """The PostgreSQL purge (see `purge`), on the write connection outside
    any transaction (VACUUM cannot run inside one)."""
    log = store.log
    with log.backend.lock:
        conn = log.connection
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        for sql in _VACUUMS:
            if sql.rpartition(" ")[2] not in tables:
                continue
            try:
                conn.execute(sql)
            except Exception as e:
                error = log.backend.translate(e)
                if error is None:
                    raise
                raise ErasureError(
                    f"{shown(log.path)}: erased, but {sql} could not run ({error}); the "
                    "purge runs again on the next open or erase") from e


def _checkpoint(store: ErasableStore) -> bool:
    """Fold the WAL into the file and truncate it; True when a reader kept it."""
    backend = store.log.backend
    with backend.lock:
        return bool(backend.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])


def stats(store: ErasableStore) -> dict[str, Any]:
    """The `erasable` entry of `stats()` (empty for a plain store)."""
    sealer = store.log.sealer
    if not isinstance(sealer, Sealer):
        return {"erasable": None}
    with store.log.snapshot() as conn:
        (keys,) = conn.execute(f"SELECT count(*) FROM {KEYS}").fetchone()
        (erased,) = conn.execute("SELECT count(*) FROM events WHERE type = 'SubjectErased'"
                                 ).fetchone()
    return {"erasable": {"master_key": sealer.master.name, "data_keys": keys,
                         "subjects_erased": erased}}
