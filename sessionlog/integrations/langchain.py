"""sessionlog as a LangChain chat message history.

`EventSourcedChatMessageHistory` is a drop-in for langchain-community's
`SQLChatMessageHistory(session_id, connection)`: give it to
`RunnableWithMessageHistory` (or use it directly). Every message becomes one
`ItemAdded` event -- its `message_to_dict` form as the item's data, its role
(human -> "user", ai -> "assistant", system, tool, function, a `ChatMessage`'s
own role) and its text -- in the stream of the session whose key is LangChain's
`session_id`; a clear is one `SessionCleared`. So `sessionlog history` and
`show` print the conversation with its roles and readable text, and every
message type reads back equal to what was added.

This module only translates: LangChain messages to our items and back, its
async calls to the store's sync ones (run in a worker thread, so the event loop
never waits on SQLite), and bad messages to one clear error before anything is
written.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        ChatMessage,
        FunctionMessage,
        HumanMessage,
        SystemMessage,
        ToolMessage,
        message_to_dict,
        messages_from_dict,
    )
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sessionlog.integrations.langchain needs langchain-core: pip install 'sessionlog[langchain]'"
    ) from e

from projections import EventSourcedSessionStore, NewItem, Session, SessionItem, SessionNotFoundError
from projections.frozen import thaw

from .bridge import in_thread
from .opening import check_path, open_path

__all__ = ["EventSourcedChatMessageHistory", "message_role", "message_text"]


class ItemStore(Protocol):
    """What the history needs of a store: `EventSourcedSessionStore`,
    `InMemorySessionStore` and their `for_tenant` views all fit."""

    def get_or_create(self, key: str) -> Session: ...
    def get_by_key(self, key: str) -> Session | None: ...
    def add_items(self, id: uuid.UUID, items: Sequence[NewItem]) -> int: ...
    def clear(self, id: uuid.UUID) -> None: ...


# -- LangChain message -> our item ---------------------------------------------

_ROLES: tuple[tuple[type[BaseMessage], str], ...] = (
    (HumanMessage, "user"), (AIMessage, "assistant"), (SystemMessage, "system"),
    (ToolMessage, "tool"), (FunctionMessage, "function"),
)


def message_role(message: BaseMessage) -> str:
    """The role a message is recorded under: "user", "assistant", "system",
    "tool", "function", a `ChatMessage`'s own role; chunks as their message."""
    if isinstance(message, ChatMessage):
        return message.role or "chat"
    for cls, role in _ROLES:
        if isinstance(message, cls):
            return role
    return message.type


def message_text(message: BaseMessage) -> str:
    """What `history` and `show` print for a message: its text (the text
    blocks of a list content); for an AI message that only calls tools, each
    call as "name(arguments)", one per line."""
    raw: Any = message.text  # a property since langchain-core 1.0, a method before
    text = str(raw if isinstance(raw, str) else raw())
    if not text and isinstance(message, AIMessage) and message.tool_calls:
        text = "\n".join(f"{call['name']}({_compact(call['args'])})" for call in message.tool_calls)
    return text


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)


def _plain(value: Any) -> Any:
    # Tuples are JSON arrays, as LangChain's SQL history stores them.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _item(index: int, message: Any) -> NewItem:
    if not isinstance(message, BaseMessage):
        raise TypeError(f"messages[{index}]: expected a LangChain message (BaseMessage), "
                        f"got {type(message).__name__}")
    try:
        return NewItem(role=message_role(message), data=_plain(message_to_dict(message)),
                       text=message_text(message))
    except ValueError as e:
        raise ValueError(f"messages[{index}] ({type(message).__name__}) cannot be stored: {e}") from None


# -- our item -> LangChain message ---------------------------------------------

_FALLBACK: dict[str, type[BaseMessage]] = {
    "user": HumanMessage, "assistant": AIMessage, "system": SystemMessage,
}


def _message(item: SessionItem) -> BaseMessage:
    data = item.data
    if isinstance(data.get("type"), str) and isinstance(data.get("data"), dict):
        try:
            return messages_from_dict([thaw(data)])[0]  # a plain copy: its own lists
        except (TypeError, ValueError):  # pydantic's ValidationError is a ValueError
            pass
    # An item another writer added (`sessionlog add`, another framework): its role and text.
    content = item.text if item.text is not None else _compact(data)
    cls = _FALLBACK.get(item.role)
    if cls is None:
        return ChatMessage(role=item.role, content=content)
    return cls(content=content)


# -- the history ---------------------------------------------------------------

class EventSourcedChatMessageHistory(BaseChatMessageHistory):
    """A LangChain chat message history kept in a sessionlog event log.

    Args:
        session_id: LangChain's session id; the key of the sessionlog session
            (created by the first write, atomically: histories in several
            threads or processes with one id share one session).
        db_path: the SQLite file, or ":memory:" (the default). Opened on first
            use, not here (in a worker thread when that use is async).
        store: an open store to use instead of `db_path`, so many histories
            share one (an `EventSourcedSessionStore`, an `InMemorySessionStore`
            or a `for_tenant` view). The history never closes it.

    Raises:
        ValueError: `session_id` is not a non-empty string.

    A message that is not JSON (a `ToolMessage` artifact of bytes, say) is
    refused with a ValueError naming it, and nothing of that call is written.
    Tuples read back as lists, as with `SQLChatMessageHistory`.
    """

    def __init__(self, session_id: str, db_path: str | os.PathLike[str] = ":memory:", *,
                 store: ItemStore | None = None) -> None:
        super().__init__()
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"session_id: expected a non-empty string, got {session_id!r}")
        self.session_id = session_id
        self.db_path = db_path if store is not None else check_path(db_path)
        self._store: ItemStore | None = store
        self._owns_store = store is None
        self._opening = threading.Lock()
        self._id: uuid.UUID | None = None

    @property
    def store(self) -> ItemStore:
        """The store, opened on first use."""
        store = self._store
        if store is None:
            with self._opening:
                store = self._store
                if store is None:
                    store = self._store = open_path(self.db_path, "langchain")
        return store

    def close(self) -> None:
        """Close the store if this history opened it (a `store=` is left open)."""
        with self._opening:
            if self._owns_store and isinstance(self._store, EventSourcedSessionStore):
                self._store.close()
                self._store = None
            self._id = None

    def __enter__(self) -> EventSourcedChatMessageHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sync ---------------------------------------------------------------

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """Every message of the session, oldest first ([] before the first write)."""
        session = self.store.get_by_key(self.session_id)
        return [] if session is None else [_message(item) for item in session.items]

    def get_messages(self) -> list[BaseMessage]:
        """The messages (as `SQLChatMessageHistory.get_messages`)."""
        return self.messages

    def add_message(self, message: BaseMessage) -> None:
        """Append one message: one `ItemAdded` event."""
        self.add_messages([message])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append the messages in one transaction: all of them or, if any is
        refused, none. The first write creates the session.

        Raises:
            TypeError: an element is not a LangChain message.
            ValueError: a message cannot be stored as JSON.
        """
        items = [_item(i, m) for i, m in enumerate(messages)]
        if not items:
            return
        store = self.store
        for attempt in range(2):
            session_id = self._id if self._id is not None else self._resolve(store)
            try:
                store.add_items(session_id, items)
                return
            except SessionNotFoundError:
                # Deleted since we looked it up: nothing was written; the key is free again.
                self._id = None
                if attempt:
                    raise

    def clear(self) -> None:
        """Remove every message: one `SessionCleared` event (none if there is
        nothing to clear). The session and its history stay."""
        store = self.store
        session = store.get_by_key(self.session_id)
        if session is None or not session.items:
            return
        try:
            store.clear(session.id)
        except SessionNotFoundError:
            pass  # deleted meanwhile: nothing left to clear

    def _resolve(self, store: ItemStore) -> uuid.UUID:
        self._id = store.get_or_create(self.session_id).id
        return self._id

    # -- async: the same work in a worker thread --------------------------------

    async def aget_messages(self) -> list[BaseMessage]:
        """`messages`, without blocking the event loop."""
        return await in_thread(lambda: self.messages)

    async def aadd_message(self, message: BaseMessage) -> None:
        """`add_message`, without blocking the event loop."""
        await in_thread(self.add_messages, [message])

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """`add_messages`, without blocking the event loop. A cancelled call may
        still land: the thread finishes its transaction."""
        await in_thread(self.add_messages, list(messages))

    async def aclear(self) -> None:
        """`clear`, without blocking the event loop."""
        await in_thread(self.clear)
