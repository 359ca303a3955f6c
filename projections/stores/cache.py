"""A bounded cache of the sessions `get` read, kept exact by the log's stamp.

`EventLog.stamp` changes whenever anything may have changed the file behind
this store's back: a commit by another connection or process (`PRAGMA
data_version` of the write connection), or an append or rollback through
this log object. The cache holds sessions read at one stamp; a read at
another stamp empties it first. The store's own writes move it along
(`wrote`): the written session is dropped, the others stay valid. A session
read is cached only if no write moved the stamp while it was read; an
entry of an older stamp still lends its items to the next read.

Callers get copies that share no mutable state with the cache: the
`Session` and its lists are their own; the items are shared, being frozen
down to their data (`projections.frozen`), so a cached session is handed
out without copying any item.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict

import attrs

from ..builders import builder
from ..models import Session

#: Every field of `Session`, from attrs: a new field cannot be dropped from a
#: copy.
SESSION_FIELDS = tuple(f.name for f in attrs.fields(Session))
_build_session = builder(Session, SESSION_FIELDS)


def copy_session(session: Session) -> Session:
    """A copy that shares nothing mutable with `session`: lists are copied
    (their elements, items and messages, are frozen down to the items'
    data), dicts are copied deeply; the other values are immutable and
    shared."""
    values = []
    for name in SESSION_FIELDS:
        value = getattr(session, name)
        if type(value) is list:
            value = value.copy()
        elif type(value) is dict:
            value = copy.deepcopy(value) if value else {}
        values.append(value)
    return _build_session(*values)


class _Entry:
    __slots__ = ("epoch", "rows", "session")

    def __init__(self, epoch: int, session: Session, rows: list) -> None:
        self.epoch, self.session, self.rows = epoch, session, rows


class Lender:
    """What `SessionCache.reuse` found: the items and messages an earlier
    read built, to build on."""

    __slots__ = ("entry", "items", "messages")

    def __init__(self, entry: _Entry) -> None:
        self.entry = entry
        self.items, self.messages = entry.session.items, entry.session.messages


class SessionCache:
    """Sessions by id, at most `size`, least recently used dropped first.
    Thread-safe: readers on pooled connections and the writer share it.

    An entry read at an older stamp no longer answers `get`, but lends its
    items and messages to the next read of that session (`reuse`): rows
    equal to the ones it was built from give equal objects, so a session
    that grew by one item costs one new item, not all.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._at: tuple[int, int, int] | None = None
        self._epoch = 0  # entries of this epoch are current
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stamp: tuple[int, int, int], sid: str) -> Session | None:
        """A copy of the session cached at `stamp` (the log's, taken before
        the read), or None."""
        with self._lock:
            if stamp != self._at:
                self._at = stamp
                self._epoch += 1
            entry = self._entries.get(sid)
            if entry is None or entry.epoch != self._epoch:
                return None
            self._entries.move_to_end(sid)
        return copy_session(entry.session)

    def reuse(self, sid: str, rows: list) -> Lender | None:
        """An earlier read of this session whose item rows are the leading
        ones of `rows`, or None: its `items` and `messages` can be built on
        (never handed to callers as they are: `put` copies). Pass it to
        `put`."""
        with self._lock:
            entry = self._entries.get(sid)
        if entry is None:
            return None
        n = len(entry.rows)
        if n <= len(rows) and rows[:n] == entry.rows:
            return Lender(entry)
        return None

    def put(self, stamp: tuple[int, int, int] | None, sid: str, session: Session,
            rows: list, lender: Lender | None = None) -> Session:
        """Cache `session`, built from item `rows` after `stamp` was taken:
        current if the cache is still at that stamp, else only a lender for
        later reads. Returns a copy for the caller."""
        entry = _Entry(-1, session, rows)
        with self._lock:
            if stamp is not None and stamp == self._at:
                entry.epoch = self._epoch
            self._entries[sid] = entry
            self._entries.move_to_end(sid)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return copy_session(session)

    def wrote(self, before: tuple[int, int, int], after: tuple[int, int, int], sid: str) -> None:
        """This store wrote to `sid`, moving the stamp from `before` to
        `after`: if the cache was current, it stays current but for `sid`."""
        with self._lock:
            if before == self._at:
                self._at = after
                entry = self._entries.get(sid)
                if entry is not None:
                    entry.epoch = -1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._at = None
