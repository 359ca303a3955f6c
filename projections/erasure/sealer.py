"""Erasure with the audit trail kept: crypto-shredding (issue #14).

An erasable store (`EventSourcedSessionStore(path, erasable=True)`) keeps
every personal field of an event encrypted in the log, under a data key per
data subject; erasing the subject destroys the key. The log stays whole:
the hash chain covers the ciphertext, which never changes.

Design (the decisions, in one place):

- Personal fields: `SessionCreated.title`, `MessageAdded.content`,
  `ItemAdded.data` and `.text`, `StateChanged.delta` (session state is
  whatever the agent keeps about the conversation: names, preferences), and
  the `delta` of a user's `ScopeStateChanged`. Kept in clear: ids, roles,
  timestamps, counts, `key`, `user_id`, `tenant_id`, metadata and tenant
  (app) state -- they route, index and check the log. Use pseudonymous
  user ids if the ids themselves identify a person.
- Subjects: a user within its tenant (`["user", tenant_id, user_id]`), and
  each session (`["session", id]`). A session's data key is wrapped by its
  user's key when it has a user (`parent` = the user's key id), else by the
  master key; a user's own state is sealed under the user's key. So
  `erase(id)` destroys one session's key (the user's other sessions and
  state stay readable), and erasing the user destroys the user's key with
  every session key under it (rows deleted together; without the user's key
  none of them could be unwrapped anyway). A session written by a release
  before per-session keys is mapped to its user's key directly: it is
  forgotten with its user only (`erase(id)` says so).
- Cipher: AES-256-GCM (`cryptography`), a fresh random 96-bit nonce per
  field, associated data = stream id, event type and field name (a
  ciphertext cannot be moved to another place). A sealed string field is
  stored as `"sealed:<key id>:<base64(nonce + ciphertext + tag)>"`, a
  sealed object field as `{"sealed": "<that string>"}`: the JSON keeps each
  field's type, so the stored text still decodes, the chain hashes it as
  any text, and the lean encoder (which encodes before sealing) is unchanged.
- Keys: table `erasure_keys` (key id, subject, the data key wrapped by the
  master key, or by the key `parent` names), beside the log, outside the
  chain; `erasure_streams` maps each session stream to its key id (and a
  user's state stream to the user's key, so a user erased earlier is
  found); `erasure_meta` marks the file erasable (`eventlog.sealing.MARKER`:
  a plain open refuses it, and an erasable open refuses a plain file that
  has events) and holds a check value wrapped by
  the master key (a wrong key is refused before anything is read). Master
  keys: see `projections.erasure.masterkey`; a new file never adopts a key
  file that was already there (it is made under the file's write lock).
- Views: they hold the personal fields sealed too, under the same data
  keys (`projections.erasure.sealed_views`: same format, a deterministic nonce), opened
  on read (`get`, `list`, search snippets); the search index is contentless
  and its terms are keyed hashes of the words under a per-file search key
  wrapped by the master key (`projections.erasure.search_terms`), so
  neither text nor words are in the file. What reads the log
  (`history`, `replay`, rebuild, verify) opens the sealed fields, one key
  look-up per batch read. A field whose key is gone reads as `[erased]`
  (an erased object field as `{}`).
- Erase: in one transaction, a `SessionDeleted` for each live session of
  the subject (a user's: every session under the user's key), a clearing
  `ScopeStateChanged` for a user's state, one
  `SubjectErased` (no personal data: key id, scope, count, who, why), the
  lazy views (search) caught up, then the key row deleted (a user's: with
  the session keys it wraps), and a purge
  marked pending. Then the purge: the FTS5 index merged (`optimize`, so no
  segment keeps the erased terms), the WAL checkpointed and truncated, and
  only then, in a second write, the mark cleared (so it is idempotent);
  every connection of an erasable store runs with `PRAGMA secure_delete =
  ON`, so deleted rows and freed pages are zeroed. A purge cut short (crash,
  a reader holding the WAL) runs whole again on the next open or erase. No
  VACUUM: with secure_delete no free page keeps old content, and VACUUM
  rewrites the whole file.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from binascii import a2b_base64, b2a_base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eventlog import RecordedEvent, state_stream
from eventlog.backends.urls import shown
from eventlog.codec import dumps
from eventlog.errors import ReadOnlyError, SealedFileError
from eventlog.sealing import MARKER, Encoded, is_sealed

from ..errors import ErasureError, MasterKeyError
from .masterkey import MasterKeyProvider, aesgcm

#: What a field whose key was destroyed reads as.
ERASED = "[erased]"
KEYS = "erasure_keys"
STREAMS = "erasure_streams"
_CHECK = b"sessionlog erasable v1"
#: Associated data of a session key wrapped by its user's key (+ its key id).
_CHILD_AAD = b"sessionlog session key v1\0"
#: What a sealed value starts with: `sealed:<key id>:<base64(nonce + ciphertext + tag)>`.
SEALED_PREFIX = "sealed:"
_SKIP = len(SEALED_PREFIX)
_UNKNOWN = object()

#: The sealed fields of each event type: name -> True when it is an object.
SEALED: dict[str, dict[str, bool]] = {
    "SessionCreated": {"title": False},
    "MessageAdded": {"content": False},
    "ItemAdded": {"data": True, "text": False},
    "StateChanged": {"delta": True},
    "ScopeStateChanged": {"delta": True},
}


def _ddl(postgres: bool) -> tuple[str, ...]:
    """The key tables (in a PostgreSQL log's schema, beside its events)."""
    blob, clustered = ("BYTEA", "") if postgres else ("BLOB", " WITHOUT ROWID")
    return (
        f"CREATE TABLE IF NOT EXISTS {MARKER} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {KEYS} (key_id TEXT PRIMARY KEY, subject TEXT NOT NULL "
        f"UNIQUE, wrapped {blob} NOT NULL, created_at TEXT NOT NULL, parent TEXT)",
        f"CREATE TABLE IF NOT EXISTS {STREAMS} (stream_id TEXT PRIMARY KEY, key_id TEXT NOT NULL)"
        + clustered,
    )


def mark(conn: Any, name: str, value: str, replace: bool = True) -> None:
    """Set (or, `replace` False, add if missing) a value of `erasure_meta`
    (SQL both databases take)."""
    conn.execute(f"INSERT INTO {MARKER} (name, value) VALUES (?, ?) ON CONFLICT (name) DO "
                 + ("UPDATE SET value = excluded.value" if replace else "NOTHING"), (name, value))


def subject_of(user_id: str | None, tenant_id: str | None, session_id: str) -> str:
    """The data subject a session's fields are sealed for."""
    if user_id is not None:
        return json.dumps(["user", tenant_id, user_id], ensure_ascii=False)
    return json.dumps(["session", session_id])


class Sealer:
    """The `eventlog.sealing.Sealer` of an erasable store."""

    def __init__(self, master: MasterKeyProvider) -> None:
        self.master = master
        self._ciphers: dict[str, Any] = {}  # key id -> AESGCM (ids are never reused)
        self._live: dict[str, Any] = {}  # key id -> cipher, None: erased; valid at _seen_at
        self._seen_at: Any = None
        self._search_keys: dict[str, bytes] = {}
        self._raw: dict[str, bytes] = {}  # key id -> data key (ids are never reused)
        #: The `parent` column of `erasure_keys` as SQL ("NULL" in a read-only
        #: file of before per-session keys, which has no such column).
        self.parent_sql = "parent"
        self.postgres = False
        self.log: Any = None

    # -- the file ---------------------------------------------------------

    def attach(self, log: Any) -> None:
        """Check the file is erasable and the master key opens it; make a
        new (event-less) file erasable. Raises before anything is written."""
        conn = log.connection
        self.postgres = log.backend.name == "postgres"
        if not is_sealed(conn):
            if conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None:
                where = shown(log.path)
                raise SealedFileError(
                    f"{where} is a plain {'log' if self.postgres else 'file'} (its events are "
                    "not encrypted), so it cannot be opened as erasable; move it: "
                    f"sessionlog --db {where} copy NEW --erasable")
            # Under the write lock: a peer that made the file meanwhile made
            # its key too (so it is adopted), and a key made here is made by
            # the one process that then marks the file.
            with log.transaction() as conn:
                if not is_sealed(conn):
                    create = getattr(self.master, "create", None)
                    if create is not None:
                        create()  # a key file it did not make is refused there
                    for ddl in _ddl(self.postgres):
                        conn.execute(ddl)
                    mark(conn, "check", base64.b64encode(self.master.wrap(_CHECK)).decode(),
                         replace=False)
                    mark(conn, "master_key", self.master.name, replace=False)
        row = conn.execute(f"SELECT value FROM {MARKER} WHERE name = 'check'").fetchone()
        if row is None or self.master.unwrap(base64.b64decode(row[0])) != _CHECK:
            raise MasterKeyError(f"wrong master key: {self.master.name} does not open "
                                 f"{shown(log.path)}; nothing was read or written")
        self.log = log
        if not self.postgres:
            conn.execute("PRAGMA secure_delete = ON")
            self._add_parent_column(log, conn)

    def _add_parent_column(self, log: Any, conn: Any) -> None:
        """A file of before per-session keys gets `erasure_keys.parent` on
        its first open with write access; read-only, it is read without one
        (it has no session key under a user then)."""
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({KEYS})")]
        if "parent" in columns:
            return
        try:
            if log.read_only:
                raise ReadOnlyError(log.path)
            with log.transaction() as db:
                if "parent" not in [r[1] for r in db.execute(f"PRAGMA table_info({KEYS})")]:
                    db.execute(f"ALTER TABLE {KEYS} ADD COLUMN parent TEXT")
        except ReadOnlyError:  # a read-only file or mount: read as it is
            self.parent_sql = "NULL"

    # -- keys -------------------------------------------------------------

    def search_key(self, conn: Any) -> bytes | None:
        """The file's search key (`projections.erasure.search_terms`); None
        when it has none yet (a file of before hashed search terms)."""
        row = conn.execute(f"SELECT value FROM {MARKER} WHERE name = 'search_key'").fetchone()
        if row is None:
            return None
        key = self._search_keys.get(row[0])  # by its wrapped form: a rolled back one is never used
        if key is None:
            key = self._search_keys[row[0]] = self.master.unwrap(base64.b64decode(row[0]))
        return key

    def make_search_key(self, conn: Any) -> bytes:
        """`search_key`, made now if the file has none (inside a write)."""
        key = self.search_key(conn)
        if key is None:
            mark(conn, "search_key", base64.b64encode(self.master.wrap(os.urandom(32))).decode(),
                 replace=False)
            key = self.search_key(conn)
            assert key is not None
        return key

    def data_key(self, conn: Any, key_id: str, wrapped: bytes, parent: str | None) -> bytes | None:
        """The raw data key of a key row (`wrapped` by the master key, or by
        the key `parent` names, looked up in `conn`); None when that parent
        is gone (erased). Unwrapped once per key id (ids are never reused)."""
        raw = self._raw.get(key_id)
        if raw is None:
            if parent is None:
                raw = self.master.unwrap(wrapped)
            else:
                row = conn.execute(f"SELECT wrapped, {self.parent_sql} FROM {KEYS} WHERE key_id = ?",
                                   (parent,)).fetchone()
                outer = None if row is None else self.data_key(conn, parent, row[0], row[1])
                if outer is None:
                    return None
                raw = bytes(aesgcm(outer).decrypt(wrapped[:12], wrapped[12:],
                                                  _CHILD_AAD + key_id.encode()))
            self._raw[key_id] = raw
        return raw

    def cipher_of(self, conn: Any, key_id: str, wrapped: bytes, parent: str | None = None) -> Any:
        """The AES-GCM cipher of a key row (see `data_key`); None when its
        parent is gone."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raw = self.data_key(conn, key_id, wrapped, parent)
            if raw is None:
                return None
            cipher = self._ciphers[key_id] = aesgcm(raw)
        return cipher

    def _key_of_subject(self, conn: Any, subject: str,
                        parent: tuple[str, bytes] | None = None) -> tuple[str, bytes, str | None]:
        """The key row (id, wrapped, parent) of a subject, made now if it has
        none: wrapped by the master key, or by `parent` = (key id, raw key)."""
        row = conn.execute(f"SELECT key_id, wrapped, {self.parent_sql} FROM {KEYS} WHERE subject = ?",
                           (subject,)).fetchone()
        if row is not None:
            return row[0], row[1], row[2]
        key_id, raw = os.urandom(12).hex(), os.urandom(32)
        if parent is None:
            wrapped = self.master.wrap(raw)
        else:
            nonce = os.urandom(12)
            wrapped = nonce + aesgcm(parent[1]).encrypt(nonce, raw, _CHILD_AAD + key_id.encode())
        conn.execute(f"INSERT INTO {KEYS} (key_id, subject, wrapped, created_at, parent) "
                     "VALUES (?, ?, ?, ?, ?)", (key_id, subject, wrapped,
                                               datetime.now(UTC).isoformat(),
                                               None if parent is None else parent[0]))
        self._raw[key_id] = raw
        return key_id, wrapped, None if parent is None else parent[0]

    def _user_key(self, conn: Any, tenant_id: str | None, user_id: str) -> tuple[str, bytes, None]:
        """A user's key row (made now if new), its state stream mapped to it."""
        key_id, wrapped, _ = self._key_of_subject(conn, subject_of(user_id, tenant_id, ""))
        conn.execute(f"INSERT INTO {STREAMS} (stream_id, key_id) VALUES (?, ?) "
                     "ON CONFLICT (stream_id) DO NOTHING",
                     (state_stream(tenant_id or "", user_id), key_id))
        return key_id, wrapped, None

    def _key_for(self, conn, stream_id: str, type_name: str, data: dict) -> tuple[str, Any]:
        if type_name == "ScopeStateChanged":
            found = self._user_key(conn, data["tenant_id"], data["user_id"])
            return found[0], self.cipher_of(conn, *found)
        if type_name == "SessionCreated":
            user_id = data.get("user_id")
            if user_id is None:
                row = self._key_of_subject(conn, subject_of(None, None, stream_id))
            else:
                user = self._user_key(conn, data.get("tenant_id"), user_id)
                raw = self.data_key(conn, *user)
                assert raw is not None  # a user key is wrapped by the master key
                row = self._key_of_subject(conn, json.dumps(["session", stream_id]),
                                           (user[0], raw))
            conn.execute(f"INSERT INTO {STREAMS} (stream_id, key_id) VALUES (?, ?) ON CONFLICT "
                         "(stream_id) DO UPDATE SET key_id = excluded.key_id", (stream_id, row[0]))
            return row[0], self.cipher_of(conn, *row)
        row = conn.execute(
            f"SELECT k.key_id, k.wrapped, {self.parent_sql} FROM {STREAMS} s "
            f"JOIN {KEYS} k USING (key_id) WHERE s.stream_id = ?", (stream_id,)).fetchone()
        cipher = None if row is None else self.cipher_of(conn, *row)
        if cipher is None:
            raise ErasureError(f"session {stream_id} has no data key (it was erased); "
                               "nothing was written")
        return row[0], cipher

    # -- sealing and opening ----------------------------------------------

    def seal(self, conn: sqlite3.Connection, stream_id: str,
             encoded: list[Encoded]) -> list[Encoded]:
        out = []
        for type_name, data, text in encoded:
            fields = SEALED.get(type_name)
            if fields is None or (type_name == "ScopeStateChanged" and data["scope"] != "user"):
                out.append((type_name, data, text))
                continue
            key_id, cipher = self._key_for(conn, stream_id, type_name, data)
            stored = dict(data)
            for name, is_object in fields.items():
                value = stored.get(name)
                if value is None:
                    continue
                plain = dumps(value) if is_object else value
                nonce = os.urandom(12)
                aad = f"{stream_id}\0{type_name}\0{name}".encode()
                blob = nonce + cipher.encrypt(nonce, plain.encode(), aad)
                token = f"{SEALED_PREFIX}{key_id}:{b2a_base64(blob, newline=False).decode('ascii')}"
                stored[name] = {"sealed": token} if is_object else token
            out.append((type_name, data, dumps(stored)))
        return out

    def reveal(self, events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        """Open the sealed fields of events just read, in place (the log
        hands over events no one else holds)."""
        live = self.known()
        for e in events:
            fields = SEALED.get(e.type)
            if fields is None:
                continue
            data, gone = e.data, False
            for name, is_object in fields.items():
                value = data.get(name)
                token = value.get("sealed") if is_object and type(value) is dict else value
                if type(token) is not str or not token.startswith(SEALED_PREFIX):
                    continue
                key_id, _, body = token[_SKIP:].partition(":")
                cipher = live.get(key_id, _UNKNOWN)
                if cipher is _UNKNOWN:
                    cipher = live[key_id] = self.look_up(key_id)
                if cipher is None:
                    data[name], gone = ({} if is_object else ERASED), True
                    continue
                blob = a2b_base64(body)
                plain = cipher.decrypt(blob[:12], blob[12:],
                                       f"{e.stream_id}\0{e.type}\0{name}".encode()).decode()
                data[name] = json.loads(plain) if is_object else plain
            if gone and e.type == "ItemAdded":
                data["text"] = ERASED
        return list(events)

    def known(self) -> dict[str, Any]:
        """Key id -> cipher (None: erased) of the keys looked up since the
        log's read stamp last moved (an erase is a commit, so it moves it);
        a fresh dict when there is no stamp (inside an older snapshot)."""
        stamp = self.log.read_stamp()
        if stamp is None:
            return {}
        if stamp != self._seen_at:
            self._live, self._seen_at = {}, stamp
        return self._live

    def look_up(self, key_id: str) -> Any:
        """The cipher of a key that still exists (and its parent, if it has
        one), else None."""
        with self.log.reader() as conn:  # this thread's snapshot, if it has one
            row = conn.execute(f"SELECT wrapped, {self.parent_sql} FROM {KEYS} WHERE key_id = ?",
                               (key_id,)).fetchone()
            if row is not None and row[1] is not None and conn.execute(
                    f"SELECT 1 FROM {KEYS} WHERE key_id = ?", (row[1],)).fetchone() is None:
                return None
            return None if row is None else self.cipher_of(conn, key_id, row[0], row[1])

    def forget(self, key_id: str) -> None:
        """Drop what is cached of a key just destroyed (an erase)."""
        self._ciphers.pop(key_id, None)
        self._raw.pop(key_id, None)
        self._live.clear()
