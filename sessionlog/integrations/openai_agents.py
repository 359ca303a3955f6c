"""sessionlog as the session memory of the OpenAI Agents SDK.

`EventSourcedSession` is a drop-in for the SDK's `SQLiteSession`: pass it as
`Runner.run(..., session=...)`. Every item the SDK stores becomes one
`ItemAdded` event, a pop one `ItemsRemoved`, a clear one `SessionCleared`, all in
the stream of the session whose key is the SDK's `session_id`, so `sessionlog
history` and `show` print the conversation with its roles and readable text.

This module only translates: SDK items to our items and back, the SDK's async
calls to the store's sync ones (run in a worker thread), our errors to the ones
SDK users expect.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

try:
    from agents.items import TResponseInputItem
    from agents.memory import SessionABC, SessionSettings
    from agents.memory import session as _sdk_session
    from agents.memory.sqlite_session import SQLiteSession as _SQLiteSession
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sessionlog.integrations.openai_agents needs the OpenAI Agents SDK: "
        "pip install 'sessionlog[openai-agents]'"
    ) from e

from eventlog import ConcurrencyError
from projections import NewItem, SessionNotFoundError
from projections.frozen import thaw

from .bridge import in_thread, settled
from .opening import check_path, open_path

try:
    from agents.memory.session_settings import coerce_session_settings
except ImportError:  # openai-agents < 0.19 takes SessionSettings objects only
    def coerce_session_settings(value: SessionSettings | dict[str, Any]) -> SessionSettings:
        return value if isinstance(value, SessionSettings) else SessionSettings(**value)

__all__ = ["EventSourcedSession", "item_role", "item_text"]

# The compaction hook's snapshot (openai-agents >= 0.24).
# private: the SDK's compaction session builds this private type from what
# `_get_compaction_snapshot` returns; there is no public one.
_CompactionSnapshot = getattr(_sdk_session, "_CompactionSnapshot", None)

T = TypeVar("T")

#: How often a validated pop reads the latest item again when another write
#: got in between (then it gives up with ConcurrencyError).
_POP_ATTEMPTS = 100


# -- SDK item -> our item -------------------------------------------------------

def item_role(item: Mapping[str, Any]) -> str:
    """The role an SDK item is recorded under: a message's `role` ("user",
    "assistant", "system", "developer"), otherwise the item's `type`
    ("function_call", "function_call_output", "reasoning", ...)."""
    for field in ("role", "type"):
        value = item.get(field)
        if isinstance(value, str) and value:
            return value
    return "item"


def item_text(item: Mapping[str, Any]) -> str | None:
    """What `history` and `show` print for an SDK item: a message's text, a
    tool call as "name(arguments)", a tool output's text, a reasoning summary.
    None when the item has nothing readable (the renderer then falls back)."""
    kind = item.get("type")
    if "role" in item and kind in (None, "message"):
        return _content_text(item.get("content"))
    if kind == "reasoning":
        return _content_text(item.get("summary")) or _content_text(item.get("content"))
    if kind == "compaction":
        return "(earlier conversation, compacted)"
    if isinstance(item.get("name"), str):
        args = item.get("arguments", item.get("input", ""))
        name = item["name"]
        if isinstance(item.get("server_label"), str):  # a hosted MCP call
            name = f"{item['server_label']}.{name}"
        return f"{name}({args if isinstance(args, str) else _compact(args)})"
    if "output" in item:
        return _content_text(item["output"])
    if isinstance(kind, str) and kind.endswith("_call") and "action" in item:
        return f"{kind.removesuffix('_call')}({_compact(item['action'])})"
    return None


def _content_text(content: Any) -> str | None:
    """The text of a message's content: a string, or the parts of a list
    joined by newlines (images and files as placeholders)."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return _part_text(content)
    parts = [text for text in map(_part_text, content) if text is not None]
    return "\n".join(parts) if parts else None


def _part_text(part: Any) -> str | None:
    if isinstance(part, str):
        return part
    if not isinstance(part, Mapping):
        return None
    for field in ("text", "refusal"):
        if isinstance(part.get(field), str):
            return part[field]
    kind = part.get("type")
    if kind in ("input_file", "file") and part.get("filename"):
        return f"[file {part['filename']}]"
    if isinstance(kind, str):
        return f"[{kind.removeprefix('input_')}]"
    return None


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _new_item(item: Any) -> NewItem:
    """The item as `SQLiteSession` would store and return it: through
    `json.dumps` (so a tuple comes back a list, an int key a string, and an
    object that is not JSON raises its TypeError)."""
    if not isinstance(item, Mapping):
        raise TypeError(f"session item: expected a dict, got {type(item).__name__}")
    data = json.loads(json.dumps(item, allow_nan=False))
    return NewItem(role=item_role(data), data=data, text=item_text(data))


def _sdk_item(data: dict[str, Any]) -> TResponseInputItem:
    # Stored exactly as the SDK gave it; a plain copy, as the SDK changes
    # the items it reads (and items are shared read-only by the store).
    return cast(TResponseInputItem, thaw(data))


# -- the session ----------------------------------------------------------------

class EventSourcedSession(SessionABC):
    """An OpenAI Agents SDK session kept in a sessionlog event log.

    A drop-in for `SQLiteSession(session_id, db_path)`: same methods, same
    results. `session_id` is the sessionlog session's key (`get_or_create`, so
    several processes on one file share one session). The store opens lazily,
    in a worker thread, on first use; every store call runs in a worker thread,
    never in the event loop. A mutation the caller cancels still finishes, then
    the cancellation is raised (the SDK's rule: a write is never half-known).

    Errors are the ones `SQLiteSession`'s users handle: `RuntimeError` once
    closed, `TypeError` for an item that is not a JSON object; a session
    deleted meanwhile (`sessionlog delete`) reads as empty and the next write
    starts a new one under the same key; the store's own errors
    (`StorageError`, an `OSError`) pass through.

    Args:
        session_id: the SDK's session id; the sessionlog session's key.
        db_path: the SQLite file (created if missing) or ":memory:" (default).
        store: an open store to use instead of opening `db_path`; many
            sessions may share it. It is not closed by `close()`.
        session_settings: `SessionSettings` (or its dict); `limit` is the
            default for `get_items`.
    """

    def __init__(self, session_id: str, db_path: str | os.PathLike[str] = ":memory:", *,
                 store: Any = None,
                 session_settings: SessionSettings | dict[str, Any] | None = None) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"session_id: expected a non-empty string, got {session_id!r}")
        self.session_id = session_id
        self.session_settings = (SessionSettings() if session_settings is None
                                 else coerce_session_settings(session_settings))
        path = os.fspath(db_path) if store is not None else check_path(db_path)
        self.db_path = path if path == ":memory:" else os.path.expanduser(path)
        self._store = store
        self._owns_store = store is None
        self._sid: uuid.UUID | None = None  # the key's session, once looked up
        self._lock = threading.Lock()
        self._closed = False

    # -- the Session protocol -------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The session's items, oldest first; with `limit` (or, if None,
        `session_settings.limit`), only the latest `limit` of them. A negative
        limit means all, as in `SQLiteSession`."""
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        last_n = None if limit is None or limit < 0 else limit

        def read(store) -> list[TResponseInputItem]:
            session = self._on_session(store, lambda sid: _get(store, sid, last_n), create=False)
            return [] if session is None else [_sdk_item(item.data) for item in session.items]
        return await self._run(read)

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append `items` in order, in one transaction (one `ItemAdded` each)."""
        new = [_new_item(item) for item in items]
        self._check_open()
        if new:
            await self._settle(lambda store: self._on_session(
                store, lambda sid: store.add_items(sid, new), create=True))

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the latest item (one `ItemsRemoved`); None if
        there is none. (With openai-agents >= 0.24, SQLiteSession's own
        pop_item, which does the same: see the end of this module.)"""
        return await self._pop_item_with_validation()

    async def _pop_item_with_validation(
            self, validate: Callable[[TResponseInputItem], None] | None = None,
    ) -> TResponseInputItem | None:
        """Remove and return the latest item (one `ItemsRemoved`); None if
        there is none. `validate(item)` runs first, in the worker thread: if it
        raises, nothing is removed and its error propagates. The item removed
        is the one validated: a write in between makes it read and validate
        the new latest item again, up to `_POP_ATTEMPTS` times, then it raises
        `ConcurrencyError` having removed nothing (the SDK's EncryptedSession
        checks its key this way, as on SQLiteSession)."""
        def pop(store) -> TResponseInputItem | None:
            def latest(sid: uuid.UUID) -> TResponseInputItem | None:
                for attempt in range(_POP_ATTEMPTS):
                    session = _get(store, sid, 1)
                    if not session.items:
                        return None
                    item = _sdk_item(session.items[-1].data)
                    if validate is not None:
                        validate(_sdk_item(session.items[-1].data))
                    try:
                        store.pop_items(sid, 1, expected_version=session.version)
                    except ConcurrencyError:
                        if attempt == _POP_ATTEMPTS - 1:
                            raise  # writers never let up: nothing removed
                        continue  # another write got in: the latest item may differ
                    return item
                raise AssertionError("unreachable")
            return self._on_session(store, latest, create=False)
        return await self._settle(pop)

    async def clear_session(self) -> None:
        """Remove every item (one `SessionCleared`); the session and its
        history stay in the log."""
        await self._settle(lambda store: self._on_session(store, store.clear, create=False))

    def close(self) -> None:
        """Close the store this session opened (not one passed as `store=`).
        Later calls raise RuntimeError."""
        with self._lock:
            self._closed = True
            store, self._store = self._store, None
        if store is not None and self._owns_store:
            store.close()

    # -- the SDK's compaction hooks (OpenAIResponsesCompactionSession) ----------

    # private: the SDK calls its session backends' hooks by these underscore names
    # (as its own SQLAlchemy and Redis sessions define them); they are not ours to rename.
    async def _get_compaction_snapshot(self, limit: int, *, prune_prefix: Callable | None = None):
        """The latest `limit` items, and a `replace_suffix(start, output)` that
        replaces the snapshot's items from `start` on with `output` in one
        append if the session is still at the version read (else returns
        False: the SDK keeps the history as it is).

        `prune_prefix` (the SDK's `EncryptedSession`: is an item expired) is
        applied as `SQLiteSession` applies it: the run of expired items at the
        start of the session, before the replaced suffix, leaves the session in
        the same append (the items between are written again after it). The
        log keeps every item ever written."""
        if not self._hooks_apply() or _CompactionSnapshot is None:
            return None  # a subclass transforms items: don't bypass it

        def read(store) -> tuple[list[TResponseInputItem], int, bool]:
            session = self._on_session(store, lambda sid: _get(store, sid, limit + 1), create=False)
            if session is None:
                return [], 0, True
            tail = session.items[-limit:] if limit > 0 else []
            return [_sdk_item(i.data) for i in tail], session.version, len(tail) == len(session.items)

        items, version, complete = await self._run(read)

        async def replace_suffix(start: int, output: list[TResponseInputItem]) -> bool:
            count = len(items) - start
            if count <= 0 or version == 0:
                return False
            new = [_new_item(item) for item in output]
            return await self._settle(
                lambda store: self._replace(store, count, new, version, prune_prefix))

        return _CompactionSnapshot(items, complete, replace_suffix)

    async def _atomic_replace_items(self, items: list[TResponseInputItem]) -> bool:
        """Replace the whole history with `items` in one append (the SDK's
        manual compaction), instead of its clear-then-add."""
        if not self._hooks_apply():
            return False
        new = [_new_item(item) for item in items]

        def replace(store) -> bool:
            for _ in range(100):  # another writer got in between: read again
                session = self._on_session(store, lambda sid: _get(store, sid, None), create=True)
                if self._replace(store, len(session.items), new, session.version):
                    return True
            return False  # the SDK then clears and adds
        return await self._settle(replace)

    def _hooks_apply(self) -> bool:
        """Whether the compaction hooks may read and write the store directly:
        not for a subclass that changes how items are read or written."""
        cls = type(self)
        return all(getattr(cls, name) is getattr(EventSourcedSession, name)
                   for name in ("get_items", "add_items", "pop_item", "clear_session"))

    # -- store calls, in a worker thread ----------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("EventSourcedSession is closed")

    def _open(self):
        with self._lock:
            self._check_open()
            if self._store is None:
                self._store = open_path(self.db_path, "openai-agents")
            return self._store

    async def _run(self, fn: Callable[[Any], T]) -> T:
        self._check_open()
        return await in_thread(lambda: fn(self._open()))

    async def _settle(self, fn: Callable[[Any], T]) -> T:
        """`_run` for a write: a cancelled caller still waits for the outcome,
        so a write is never left half-known (then the cancellation is raised)."""
        return await settled(self._run(fn))

    def _on_session(self, store, fn: Callable[[uuid.UUID], Any], *, create: bool) -> Any:
        """`fn(id)` on the live session with this key (created first if
        `create`); None if there is none. The one place a session deleted
        meanwhile is handled: the id is looked up again once."""
        for attempt in range(2):
            if self._sid is None:
                session = (store.get_or_create(self.session_id, title=self.session_id) if create
                           else store.get_by_key(self.session_id))
                if session is None:
                    return None
                self._sid = session.id
            try:
                return fn(self._sid)
            except SessionNotFoundError:
                self._sid = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _replace(self, store, count: int, new: list[NewItem], version: int,
                 prune_prefix: Callable | None = None) -> bool:
        """Replace the last `count` items if the session is still at `version`;
        False if it moved on. `prune_prefix`: see `_get_compaction_snapshot`."""
        if prune_prefix is not None:
            session = self._on_session(store, lambda sid: _get(store, sid, None), create=False)
            if session is None or session.version != version:
                return False
            items, end = session.items, len(session.items) - count
            start = 0
            while start < end and prune_prefix(_sdk_item(items[start].data)):
                start += 1
            if start:  # all go; the items kept between are written again, as they were
                kept = [NewItem(role=i.role, data=thaw(i.data), text=i.text, id=i.id,
                                timestamp=i.timestamp) for i in items[start:end]]
                count, new = len(items), kept + new
        try:
            version_after = self._on_session(store, lambda sid: store.replace_last(
                sid, count, new, expected_version=version), create=False)
        except (ConcurrencyError, SessionNotFoundError):
            return False
        return version_after is not None


def _get(store, sid: uuid.UUID, last_n: int | None):
    """The session, with only its last `last_n` items; SessionNotFoundError if
    it was deleted (as the writes say it)."""
    session = store.get(sid, last_n=last_n)
    if session is None:
        raise SessionNotFoundError(sid)
    return session


def _sqlite_pop_delegates() -> bool:
    """Whether SQLiteSession's pop_item only returns what
    `self._pop_item_with_validation()` returns (openai-agents >= 0.24), run
    on a stand-in: then ours may share it."""
    class StandIn:
        async def _pop_item_with_validation(self, validate: Any = None) -> Any:
            return StandIn

    call = _SQLiteSession.pop_item(cast(Any, StandIn()))
    try:
        call.send(None)
    except StopIteration as done:
        return done.value is StandIn
    except Exception:  # it does more than delegate (an older SDK: SQL of its own)
        return False
    finally:
        call.close()
    return False


# The SDK's EncryptedSession (>= 0.24) authenticates the item a pop removes before it is
# removed, so a wrong key never loses history, only for `isinstance(session, SQLiteSession)`
# whose pop_item is SQLiteSession's, which calls `_pop_item_with_validation`. Ours has that
# validated pop, so it shares that pop_item and is registered as a SQLiteSession (nothing
# else in the SDK tests for the class).
if _sqlite_pop_delegates():
    setattr(EventSourcedSession, "pop_item", _SQLiteSession.pop_item)  # noqa: B010
    _SQLiteSession.register(EventSourcedSession)

