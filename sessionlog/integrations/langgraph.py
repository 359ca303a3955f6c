"""sessionlog as the checkpointer of LangGraph graphs and LangChain agents.

`EventSourcedCheckpointSaver` is a `BaseCheckpointSaver`: pass it as
`checkpointer=` to `StateGraph.compile` or `langchain.agents.create_agent`
where `SqliteSaver`/`PostgresSaver` would go. A LangGraph thread is a
sessionlog session whose key is the `thread_id`; each message of the graph's
message channel is one `ItemAdded` with its role and text (so `sessionlog
show --key THREAD`, `history --key` and `search` read the conversation), and
the checkpoints, pending writes, forks and prunes are items with roles
starting with "langgraph." (see `langgraph_thread`). A checkpoint names the
messages of its value by their ordinals, so each message is stored once, not
once per checkpoint.

Writes go through the store's unit of work with `expected_version` and are
retried on `ConcurrencyError`: the new messages are found against what is
stored, also with other writers on the thread. Reads come from a fold of the
thread's items kept in the saver, brought up to the session's version by a
cheap version check (the thread is read again only when another writer moved
it); what still grows with the thread is handing LangGraph its list of
messages (a copy of each) and comparing a grown list with its parent's.
Async methods run the same work in a worker thread (`bridge`).
"""

from __future__ import annotations

import builtins
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

try:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import (
        WRITES_IDX_MAP,
        BaseCheckpointSaver,
        ChannelVersions,
        Checkpoint,
        CheckpointMetadata,
        CheckpointTuple,
        DeltaChannelHistory,
        get_checkpoint_id,
        get_checkpoint_metadata,
    )
    from langgraph.checkpoint.serde.base import SerializerProtocol
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("sessionlog.integrations.langgraph needs langgraph: "
                      "pip install 'sessionlog[langgraph]'") from e

from eventlog import ConcurrencyError
from projections import EventSourcedSessionStore, NewItem, SessionNotFoundError

from .langgraph_async import WAIT, AsyncMethods, Landings, Numbered, Opening, numbered_writes
from .langgraph_codec import decode_value, encode_value, frozen, snapshot
from .langgraph_thread import (
    CHECKPOINT,
    FORGET,
    FORK,
    WRITES,
    Draft,
    Thread,
    ThreadStore,
    item_id,
)
from .opening import check_path, open_path

__all__ = ["EventSourcedCheckpointSaver"]

_RETRIES = 50
_KEEP_THREADS = 128  # threads whose fold the saver keeps in memory
# A new file's SQLite page: a thread's messages are often over 1 KB, which in 4 KB pages spill
# into a mostly empty overflow page each (200 turns of 1 KB: 4.2 MB; in 8 KB pages 2.7-3.0 MB).
# Not the store's default: 8 KB pages cost small add_message writes ~30% (measured interleaved).
_PAGE_SIZE = 8192


class EventSourcedCheckpointSaver(AsyncMethods, BaseCheckpointSaver[int]):
    """A LangGraph checkpointer kept in a sessionlog event log.

    Args:
        db_path: a SQLite file (created if missing; an erasable file opens
            erasable), ":memory:" (the default) or a `postgresql://` URL.
        store: an open `EventSourcedSessionStore` (or its `for_tenant`
            view) to use instead of `db_path`; never closed by the saver.
        serde: LangGraph's serializer for the values that are not plain
            JSON (default: `JsonPlusSerializer`). Messages of the message
            channel are stored as readable JSON whatever the serde.
        messages_channel: the channel whose messages become the session's
            items ("messages", as in `MessagesState` and `create_agent`).
        tenant_id, user_id: the owners of the sessions the saver creates
            (threads are looked up by key within `tenant_id`).

    Raises:
        ValueError: `db_path` is a SQLAlchemy URL (the message says what to pass).
    """

    def __init__(self, db_path: str | os.PathLike[str] = ":memory:", *,
                 store: ThreadStore | None = None, serde: SerializerProtocol | None = None,
                 messages_channel: str = "messages", tenant_id: str | None = None,
                 user_id: str | None = None) -> None:
        super().__init__(serde=serde)
        self.db_path = check_path(db_path) if store is None else db_path
        self._owns = store is None
        self.store: ThreadStore = (open_path(self.db_path, "langgraph", _PAGE_SIZE)
                                   if store is None else store)
        self.messages_channel = messages_channel
        self.tenant_id, self.user_id = tenant_id, user_id
        self._lock = threading.RLock()
        self._threads: OrderedDict[str, Thread] = OrderedDict()
        self._landings = Landings()  # checkpoints stored, which early writes wait on

    # -- opening and closing --------------------------------------------------

    @classmethod
    def from_conn_string(cls, conn_string: str, **kwargs: Any) -> Opening:
        """`with` or `async with EventSourcedCheckpointSaver.from_conn_string(path)
        as saver:` a saver on `conn_string` (a SQLite path or a PostgreSQL
        URL), closed at the end of the block."""
        return Opening(lambda: cls(conn_string, **kwargs))

    def close(self) -> None:
        """Close the store if the saver opened it (a `store=` stays open)."""
        with self._lock:
            self._threads.clear()
            if self._owns and isinstance(self.store, EventSourcedSessionStore):
                self.store.close()

    def __enter__(self) -> EventSourcedCheckpointSaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the thread fold ----------------------------------------------------

    def _thread(self, thread_id: Any, create: bool = False) -> Thread | None:
        """The thread's fold, brought up to its session's version (None: no
        such thread and `create` is False)."""
        key = str(thread_id)
        store = self.store
        t = self._threads.get(key)
        if t is not None:
            head = store.get(t.sid, last_n=0)
            if head is not None and head.version == t.version:
                self._threads.move_to_end(key)
                return t
            if head is None:
                t = None
        if t is None:
            session = store.get_by_key(key, self.tenant_id) if self.tenant_id is not None \
                else store.get_by_key(key)
            if session is None:
                if not create:
                    self._threads.pop(key, None)
                    return None
                session = store.get_or_create(key, user_id=self.user_id, tenant_id=self.tenant_id)
            t = Thread(key, session.id)
        else:
            session = store.get(t.sid)
            if session is None:
                self._threads.pop(key, None)
                return self._thread(thread_id, create)
        items = session.items
        if len(items) < t.seen or (t.seen and items[t.seen - 1].id != t.last_id):
            t = Thread(key, session.id)  # items were removed behind us: fold again
        t.fold_items(items[t.seen:])
        t.version = session.version
        t.last_id = items[-1].id if items else None
        self._threads[key] = t
        self._threads.move_to_end(key)
        while len(self._threads) > _KEEP_THREADS:
            self._threads.popitem(last=False)
        return t

    def _append(self, thread_id: Any, build: Callable[[Thread], list[tuple[NewItem, Any]]],
                create: bool = True) -> Thread | None:
        """Append what `build` makes of the current thread (items, each with
        the message it stores or None), at the version it was built on;
        built again on a conflict. Returns the thread (None: none, nothing
        written)."""
        last: Exception | None = None
        with self._lock:
            for _ in range(_RETRIES):
                t = self._thread(thread_id, create)
                if t is None:
                    return None
                made = build(t)
                if not made:
                    return t
                items = [item for item, _ in made]
                try:
                    version = self.store.add_items(t.sid, items, expected_version=t.version)
                except ConcurrencyError as e:
                    last = e  # another writer moved the thread: build on what it wrote
                    continue
                except SessionNotFoundError as e:
                    last = e  # deleted meanwhile: look it up (or create it) again
                    self._threads.pop(str(thread_id), None)
                    continue
                if version == t.version + len(items):
                    for item, message in made:
                        t.fold(item.role, str(item.id), frozen(item.data), item.text, message)
                    t.version, t.last_id = version, items[-1].id
                else:
                    self._threads.pop(str(thread_id), None)
                return t
            assert last is not None
            raise last

    # -- encoding -------------------------------------------------------------

    def _encode(self, draft: Draft, channel: str, value: Any,
                parent: Mapping[str, Any] | None) -> dict[str, Any]:
        """A channel value as item data: the message channel's list of
        messages as runs of ordinals, messages inside other values by
        ordinal; the new ones go into `draft`."""
        if channel == self.messages_channel and type(value) is list:
            runs = draft.runs(value, parent, channel)
            if runs is not None:
                return {"m": runs}
        return encode_value(self.serde, value, draft.ref, draft.resolve)

    # -- BaseCheckpointSaver, sync ---------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names (its `checkpoint_id`, else the
        thread's latest in `checkpoint_ns`), with its pending writes; None
        if there is none."""
        conf = config["configurable"]
        with self._lock:
            t = self._thread(conf["thread_id"])
            if t is None:
                return None
            data = t.find(conf.get("checkpoint_ns", ""), get_checkpoint_id(config))
            return None if data is None else t.as_tuple(data, self.serde)

    def list(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
             before: RunnableConfig | None = None,
             limit: int | None = None) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first (by id): of the thread in `config`
        (every thread if None), of its `checkpoint_ns` if it names one,
        whose metadata has every key-value of `filter`, before `before`'s
        checkpoint id, at most `limit`."""
        if limit is not None and limit <= 0:
            return iter(())
        return iter(self._list(config, filter, before, limit))

    def _list(self, config: RunnableConfig | None, filter: dict[str, Any] | None,
              before: RunnableConfig | None, limit: int | None) -> builtins.list[CheckpointTuple]:
        conf = {} if config is None else config["configurable"]
        keys = [str(conf["thread_id"])] if "thread_id" in conf else self._thread_keys()
        ns_wanted = conf.get("checkpoint_ns")
        cid_wanted = conf.get("checkpoint_id")
        upto = get_checkpoint_id(before) if before is not None else None
        found: builtins.list[CheckpointTuple] = []
        with self._lock:
            for key in keys:
                t = self._thread(key)
                if t is None:
                    continue
                rows = [d for ns, held in t.checkpoints.items()
                        if ns_wanted is None or ns == ns_wanted for d in held.values()]
                rows.sort(key=lambda d: d["id"], reverse=True)
                for d in rows:
                    if (cid_wanted and d["id"] != cid_wanted) or (upto and d["id"] >= upto):
                        continue
                    if filter:
                        meta = decode_value(self.serde, d["meta"])
                        if any(meta.get(k) != v for k, v in filter.items()):
                            continue
                    found.append(t.as_tuple(d, self.serde))
                    if limit is not None and len(found) >= limit:
                        return found
        return found

    def _thread_keys(self) -> builtins.list[str]:
        """The keys of every live session of the store (or of the tenant)."""
        keys, before = [], None
        while True:
            page = self.store.list_summaries(tenant_id=self.tenant_id, limit=500, before=before) \
                if self.tenant_id is not None else self.store.list_summaries(limit=500,
                                                                             before=before)
            keys += [s.key for s in page if s.key is not None]
            if len(page) < 500:
                return keys
            before = page[-1].id

    def get_delta_channel_history(self, *, config: RunnableConfig,
                                  channels: Sequence[str]) -> Mapping[str, DeltaChannelHistory]:
        """LangGraph's walk up the parent chain for `DeltaChannel`s (each
        channel's writes oldest first, and the nearest stored value as its
        seed), read from the thread's fold: only the channels asked for are
        decoded."""
        conf = config["configurable"]
        with self._lock:
            t = self._thread(conf["thread_id"]) if channels else None
            if t is None:
                return {ch: {"writes": []} for ch in channels}
            return t.delta_history(conf.get("checkpoint_ns", ""), get_checkpoint_id(config),
                                   channels, self.serde)

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        """Store a checkpoint: one item, after one item per new message of
        the message channel, in one transaction. Returns its config."""
        conf = config["configurable"]
        thread_id, ns = conf["thread_id"], conf.get("checkpoint_ns", "")
        parent_id = conf.get("checkpoint_id")
        rest = {k: v for k, v in checkpoint.items() if k not in ("channel_values", "id")}
        meta = encode_value(self.serde, get_checkpoint_metadata(config, metadata))
        # LangGraph saves in the background and meanwhile gives the input's
        # messages their ids, in place: encode a copy taken now.
        values = {ch: v if ch == self.messages_channel else snapshot(v)
                  for ch, v in checkpoint["channel_values"].items()}

        def build(t: Thread) -> builtins.list[tuple[NewItem, Any]]:
            parent = t.find(ns, parent_id) if parent_id else None
            draft = Draft(t, allow_new=True)
            vals = {ch: self._encode(draft, ch, v, parent) for ch, v in values.items()}
            data = {"ns": ns, "id": checkpoint["id"], "parent": parent_id, "meta": meta,
                    **t.compact(ns, parent_id, rest, self.serde), "vals": vals}
            return draft.items(data, CHECKPOINT)
        self._append(thread_id, build)
        self._landings.mark()
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                                 "checkpoint_id": checkpoint["id"]}}

    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                   task_id: str, task_path: str = "") -> None:
        """Store a task's writes to a checkpoint: one item (none when every
        write is already stored), after an item per new message if the
        checkpoint is stored (`Landings`: waited for up to `WAIT` s). A (task,
        index) stored is kept, unless every write is a special one, which replaces."""
        numbered = numbered_writes(writes)
        self._landings.wait_while(lambda: self._early(config, numbered), WAIT)
        self._write(config, numbered, task_id, task_path)

    def _early(self, config: RunnableConfig, numbered: Sequence[Numbered]) -> bool:
        """Whether the writes hold a new message and their checkpoint is not stored yet."""
        conf = config["configurable"]
        ns, cid = conf.get("checkpoint_ns", ""), conf["checkpoint_id"]
        with self._lock:
            t = self._threads.get(key := str(conf["thread_id"]))  # known stored: no store read
            if t is None or t.find(ns, cid) is None:
                t = self._thread(key) or Thread(key, None)
            if t.find(ns, cid) is not None:
                return False
            draft = Draft(t, allow_new=True)
            for _, channel, value in numbered:
                self._encode(draft, channel, value, None)
            return bool(draft.new)

    def _write(self, config: RunnableConfig, numbered: Sequence[Numbered], task_id: str,
               task_path: str) -> None:
        conf = config["configurable"]
        ns, cid = conf.get("checkpoint_ns", ""), conf["checkpoint_id"]
        replace = all(channel in WRITES_IDX_MAP for _, channel, _ in numbered)

        def build(t: Thread) -> builtins.list[tuple[NewItem, Any]]:
            held = t.writes.get((ns, cid), {})
            todo = [w for w in numbered if replace or (task_id, w[0]) not in held]
            if not todo:
                return []
            # New messages become items only once their checkpoint is stored:
            # the items then follow the conversation's order.
            draft = Draft(t, allow_new=t.find(ns, cid) is not None)
            w = [[idx, channel, self._encode(draft, channel, value, None)]
                 for idx, channel, value in todo]
            data = {"ns": ns, "cp": cid, "task": task_id, "path": task_path, "w": w,
                    **({"replace": True} if replace else {})}
            return draft.items(data, WRITES)
        self._append(conf["thread_id"], build)

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread: its session is deleted (one `SessionDeleted`;
        the log keeps its events, `erase` removes them for good)."""
        key = str(thread_id)
        with self._lock:
            t = self._thread(key)
            self._threads.pop(key, None)
            if t is not None:
                try:
                    self.store.delete(t.sid)
                except SessionNotFoundError:
                    pass

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Drop the checkpoints (and their writes) whose metadata `run_id`
        is one of `run_ids`, in every thread: one forget item per thread
        that has any. Looks at every thread of the store."""
        runs = set(run_ids)
        if not runs:
            return
        for key in self._thread_keys():
            self._forget(key, "delete_for_runs",
                         lambda t: [(ns, cid) for ns, held in t.checkpoints.items()
                                    for cid, d in held.items()
                                    if decode_value(self.serde, d["meta"]).get("run_id") in runs])

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """"keep_latest": drop every checkpoint but the latest of each
        namespace (one forget item per thread); "delete": delete the
        threads. The log keeps what was dropped."""
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"strategy must be 'keep_latest' or 'delete', not {strategy!r}")
        for thread_id in thread_ids:
            if strategy == "delete":
                self.delete_thread(thread_id)
            else:
                self._forget(str(thread_id), "prune",
                             lambda t: [(ns, cid) for ns, held in t.checkpoints.items()
                                        for cid in held if cid != t.latest[ns]])

    def _forget(self, key: str, reason: str,
                which: Callable[[Thread], builtins.list[tuple[str, str]]]) -> None:
        def build(t: Thread) -> builtins.list[tuple[NewItem, Any]]:
            gone = which(t)
            if not gone:
                return []
            data = {"reason": reason, "checkpoints": [list(g) for g in gone]}
            return [(NewItem(role=FORGET, data=data, id=item_id()), None)]
        self._append(key, build, create=False)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Fork: the target thread gets a fork item (the source thread, its
        session and version) and a copy of every item of the source, in one
        transaction. Nothing happens if the source has no checkpoint.

        Raises:
            ValueError: the target thread already has checkpoints.
        """
        with self._lock:
            src = self._thread(source_thread_id)
            if src is None or src.is_empty():
                return
            session = self.store.get(src.sid)
            if session is None:
                return
            copied = [(NewItem(role=i.role, data=i.data, text=i.text, id=i.id), None)
                      for i in session.items]
            fork = {"thread": str(source_thread_id), "session": str(session.id),
                    "version": session.version, "items": len(copied)}

            def build(t: Thread) -> builtins.list[tuple[NewItem, Any]]:
                if not t.is_empty():
                    raise ValueError(f"copy_thread: thread {str(target_thread_id)!r} already "
                                     "has checkpoints; copy to a new thread")
                return [(NewItem(role=FORK, data=fork, id=item_id()), None), *copied]
            self._append(target_thread_id, build)
