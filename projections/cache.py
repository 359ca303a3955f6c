"""A bounded cache of the sessions `get` read, kept exact by the log's stamp.

`EventLog.stamp` changes whenever anything may have changed the file behind
this store's back: a commit by another connection or process (`PRAGMA
data_version` of the write connection), or an append or rollback through
this log object. The cache holds sessions read at one stamp; a read at
another stamp empties it first. The store's own writes move it along
(`wrote`): the written session is dropped, the others stay valid. A session
read is cached only if no write moved the stamp while it was read.

Callers get copies: a returned `Session` shares no mutable state with the
cache.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict

import attrs

from .models import Session, SessionItem

_new, _set = object.__new__, object.__setattr__

#: Every field of `Session`, from attrs: a new field cannot be dropped.
SESSION_FIELDS = tuple(f.name for f in attrs.fields(Session))
ITEM_FIELDS = tuple(f.name for f in attrs.fields(SessionItem))


_SCALARS = (str, int, float, bool, type(None))


def _copy_item(item: SessionItem) -> SessionItem:
    """An item with its own `data` (a flat dict, as a message's is, is copied
    shallowly: its values are immutable)."""
    data = item.data
    if all(type(v) in _SCALARS for v in data.values()):
        data = data.copy()
    else:
        data = copy.deepcopy(data)
    out = _new(SessionItem)
    for name in ITEM_FIELDS:
        _set(out, name, getattr(item, name))
    _set(out, "data", data)
    return out


def copy_session(session: Session) -> Session:
    """A copy that shares nothing mutable with `session`: lists are copied
    (their elements are frozen), dicts deeply; the other values are
    immutable and shared."""
    out = _new(Session)
    for name in SESSION_FIELDS:
        value = getattr(session, name)
        if name == "items":
            value = [_copy_item(i) for i in value]
        elif type(value) is list:
            value = value.copy()
        elif type(value) is dict:
            value = copy.deepcopy(value)
        _set(out, name, value)
    return out


class SessionCache:
    """Sessions by id, at most `size`, least recently used dropped first.
    Thread-safe: readers on pooled connections and the writer share it."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._at: tuple[int, int, int] | None = None
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stamp: tuple[int, int, int], sid: str) -> Session | None:
        """A copy of the session cached at `stamp` (the log's, before the
        read), or None. A new stamp empties the cache first."""
        with self._lock:
            if stamp != self._at:
                self._sessions.clear()
                self._at = stamp
                return None
            session = self._sessions.get(sid)
            if session is None:
                return None
            self._sessions.move_to_end(sid)
        return copy_session(session)

    def put(self, stamp: tuple[int, int, int], sid: str, session: Session) -> Session:
        """Cache `session`, read after `stamp` was taken, if the cache is
        still at that stamp; returns a copy for the caller."""
        with self._lock:
            if stamp == self._at:
                self._sessions[sid] = session
                self._sessions.move_to_end(sid)
                if len(self._sessions) > self.size:
                    self._sessions.popitem(last=False)
        return copy_session(session)

    def wrote(self, before: tuple[int, int, int], after: tuple[int, int, int], sid: str) -> None:
        """This store wrote to `sid`, moving the stamp from `before` to
        `after`: if the cache was current, it stays current without `sid`."""
        with self._lock:
            if before == self._at:
                self._at = after
                self._sessions.pop(sid, None)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._at = None
