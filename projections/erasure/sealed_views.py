"""Sealed views of an erasable store: the personal fields the views hold
(a session's title and state, its items' data and text, a user's state, the
text the search view keeps for snippets) are stored sealed, under the same
per-subject data key as the log, so a copied file without its master key
shows no live session either (`projections.erasure` has the design).

Format: the log's, `"sealed:<key id>:<base64(nonce + ciphertext + tag)>"`,
AES-256-GCM with associated data = the row's session id (or state stream)
and column, so a value cannot be moved to another row or column. The nonce
is not random here: it is the first 96 bits of an HMAC-SHA256, under a key
derived from the data key, of that associated data and the plain text. So
the same text in the same place always seals the same (a rebuild, and
`verify`'s fresh fold, write the very bytes the view holds), and two
different texts share a nonce only by a 96-bit collision. What that shows
to someone without the key: that two cells of one session's column (two
equal messages, say) hold the same value.

The search index cannot hold ciphertext: an erasable store's `message_search`
is a contentless FTS5 table (`content=''`) whose terms are keyed hashes of
the words (`projections.erasure.search_terms`); the text itself is not there
(snippets are cut from the sealed copy in `search_messages`). Erasing a
subject removes its terms from the index before its key is destroyed.

Plain stores never reach this module: their runner's `cipher` (each `Db.cipher`)
is None.
"""

from __future__ import annotations

import hashlib
import hmac
from binascii import a2b_base64, b2a_base64
from collections.abc import Callable
from typing import Any

from ..errors import ProjectionError
from .sealer import ERASED, KEYS, SEALED_PREFIX, STREAMS, Sealer, mark, subject_of
from .search_terms import TermHasher

_NONCE_KEY = b"sessionlog view nonce v1"
#: A view value that needs no sealing (an empty state names nobody).
_EMPTY = "{}"
_SKIP = len(SEALED_PREFIX)
_UNKNOWN = object()


class ViewCipher:
    """Seals view values on write and opens them on read, for one store."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self._macs: dict[str, bytes] = {}  # key id -> nonce key (ids are never reused)
        self._hasher: tuple[bytes, TermHasher] | None = None

    # -- writing ----------------------------------------------------------

    def writer(self, conn: Any) -> ViewWriter:
        """A sealer for one projection batch, inside its write transaction."""
        return ViewWriter(self, conn)

    def keyed(self, conn: Any, key_id: str, wrapped: bytes,
              parent: str | None) -> tuple[Any, bytes] | None:
        """(the AES-GCM cipher, the nonce key) of a key row (see
        `Sealer.data_key`), each made once per key id; None when its parent
        key is gone."""
        cipher = self.sealer.cipher_of(conn, key_id, wrapped, parent)
        if cipher is None:
            return None
        mac = self._macs.get(key_id)
        if mac is None:
            raw = self.sealer.data_key(conn, key_id, wrapped, parent)
            assert raw is not None  # the cipher was made from it
            mac = self._macs[key_id] = hmac.new(raw, _NONCE_KEY, hashlib.sha256).digest()
        return cipher, mac

    # -- search terms -----------------------------------------------------

    def hasher(self, db: Any, make: bool = False) -> TermHasher:
        """The file's `TermHasher` (its search key made first when `make`,
        inside a write).

        Raises:
            ProjectionError: the file has no search key (rebuild the search view).
        """
        key = self.sealer.make_search_key(db) if make else self.sealer.search_key(db)
        if key is None:
            raise ProjectionError("the search view has no search key; "
                                  "`sessionlog rebuild search` rebuilds it")
        if self._hasher is None or self._hasher[0] != key:
            self._hasher = (key, TermHasher(key))
        return self._hasher[1]

    @property
    def read_only(self) -> bool:
        """Whether the store's file cannot be written (its views stay as they are)."""
        return bool(self.sealer.log.read_only)

    @staticmethod
    def purge_later(db: Any) -> None:
        """Inside a write: have the store purge the file (fold and truncate
        its WAL) once this write and the catch-up are done, as after an erase
        (a view that held words in clear was dropped)."""
        mark(db, "purge_pending", "1")

    # -- reading ----------------------------------------------------------

    def opener(self) -> Callable[[str, str, str | None], str | None]:
        """`open(owner, column, value)` for one read: the plain text of a view
        value (`owner`: the row's session id or state stream); a value that is
        not sealed is returned as it is, one whose key is gone reads as
        `[erased]`. Keys are looked up once per read (as the log's reveal)."""
        live = self.sealer.known()
        look_up = self.sealer.look_up

        def open_(owner: str, column: str, value: str | None) -> str | None:
            if value is None or not value.startswith(SEALED_PREFIX):
                return value
            key_id, _, body = value[_SKIP:].partition(":")
            cipher = live.get(key_id, _UNKNOWN)
            if cipher is _UNKNOWN:
                cipher = live[key_id] = look_up(key_id)
            if cipher is None:
                return ERASED
            blob = a2b_base64(body)
            return cipher.decrypt(blob[:12], blob[12:], f"{owner}\0{column}".encode()).decode()

        return open_

    def open(self, owner: str, column: str, value: str | None) -> str | None:
        """One value opened (see `opener`)."""
        return self.opener()(owner, column, value)


class ViewWriter:
    """Seals the values of one batch; keys looked up once per owner."""

    def __init__(self, views: ViewCipher, conn: Any) -> None:
        self._views, self._conn = views, conn
        self._keys: dict[str, tuple[str, Any, bytes] | None] = {}

    def session(self, session_id: str, column: str, plain: str | None) -> str | None:
        """`plain` sealed for a session's row (stored as `[erased]` when the
        session has no key: a rebuild passing through an erased session)."""
        if plain is None:
            return None
        key = self._keys.get(session_id, _UNKNOWN)
        if key is _UNKNOWN:
            key = self._keys[session_id] = self._find(
                f"SELECT k.key_id, k.wrapped, {self._views.sealer.parent_sql} FROM {STREAMS} s "
                f"JOIN {KEYS} k USING (key_id) WHERE s.stream_id = ?", session_id)
        return self._seal(key, session_id, column, plain)

    def user(self, tenant_id: str, user_id: str, stream: str, column: str,
             plain: str) -> str:
        """`plain` sealed for a user's state row (`stream`)."""
        key = self._keys.get(stream, _UNKNOWN)
        if key is _UNKNOWN:
            key = self._keys[stream] = self._find(
                f"SELECT key_id, wrapped, NULL FROM {KEYS} WHERE subject = ?",
                subject_of(user_id, tenant_id, ""))
        return self._seal(key, stream, column, plain) or _EMPTY

    def _find(self, sql: str, arg: str) -> tuple[str, Any, bytes] | None:
        row = self._conn.execute(sql, (arg,)).fetchone()
        keyed = None if row is None else self._views.keyed(self._conn, *row)
        return None if keyed is None else (row[0], *keyed)

    @staticmethod
    def _seal(key, owner: str, column: str, plain: str) -> str | None:
        if key is None:
            return _EMPTY if plain.startswith("{") else ERASED
        if plain == _EMPTY:
            return plain
        key_id, cipher, mac = key
        aad = f"{owner}\0{column}".encode()
        data = plain.encode()
        nonce = hmac.new(mac, aad + b"\0" + data, hashlib.sha256).digest()[:12]
        blob = nonce + cipher.encrypt(nonce, data, aad)
        return f"{SEALED_PREFIX}{key_id}:{b2a_base64(blob, newline=False).decode('ascii')}"


def must_open(cipher: ViewCipher, owner: str, column: str, value: str | None) -> str | None:
    """`cipher.open`, refusing a value whose key is gone (the search view
    needs the text to take a message's terms out of its index).

    Raises:
        ProjectionError: the key is gone (rebuild the search view).
    """
    plain = cipher.open(owner, column, value)
    if plain == ERASED and value != ERASED:
        raise ProjectionError(f"session {owner}: the key of a search row is gone; "
                              "`sessionlog rebuild search` rebuilds the index")
    return plain
