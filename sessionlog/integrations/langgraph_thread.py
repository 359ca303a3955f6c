"""One LangGraph thread as the saver reads it: the fold of its session's
items into checkpoints, pending writes and messages, and the encoding of
channel values into item data and back.

A thread's session holds two kinds of items. Each message of the graph's
message channel is one item with its role ("user", "assistant", "tool",
"system"), its readable text and `message_to_dict` form as data, and an id
starting with `MESSAGE_ID` (its ordinal among the thread's message items is
how checkpoints name it). The bookkeeping items have roles starting with
"langgraph.": a checkpoint (id, parent, namespace, metadata, the checkpoint
without its values, and each channel value: the message channel as ranges of
message ordinals, anything else as JSON or the serde's typed bytes in
base64), the pending writes of a task, a fork (where a copied thread came
from) and a forget (the checkpoints a prune or `delete_for_runs` dropped from
the views; the log keeps them).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import Checkpoint, CheckpointTuple, DeltaChannelHistory

from projections import NewItem, Session, SessionSummary
from projections.frozen import thaw
from projections.stores.protocol import SessionId

from .langchain import message_role, message_text
from .langgraph_codec import (
    decode_value,
    diff,
    encode_value,
    expand,
    message_data,
    message_of,
    patch,
    plain_json,
    ranges,
    shallow,
)

__all__ = ["CHECKPOINT", "FORGET", "FORK", "MESSAGE_ID", "WRITES", "Draft", "Thread", "ThreadStore",
           "item_id"]

MESSAGE_ID = "lgm-"
CHECKPOINT = "langgraph.checkpoint"
WRITES = "langgraph.writes"
FORK = "langgraph.fork"
FORGET = "langgraph.forget"


def item_id() -> str:
    """A bookkeeping item's id: 64 random bits, unique within a thread."""
    return secrets.token_hex(8)

class ThreadStore(Protocol):
    """What the saver needs of a store: `EventSourcedSessionStore` and its
    `for_tenant` view (`TenantSessionStore`) both fit."""

    def get(self, id: SessionId, last_n: int | None = None) -> Session | None: ...
    def get_by_key(self, key: str, tenant_id: str | None = None) -> Session | None: ...
    def get_or_create(self, key: str, *, title: str | None = None, user_id: str | None = None,
                      tenant_id: str | None = None) -> Session: ...
    def add_items(self, id: SessionId, items: Sequence[NewItem | Mapping[str, Any]], *,
                  state_delta: Mapping[str, Any] | None = None,
                  user_state_delta: Mapping[str, Any] | None = None,
                  tenant_state_delta: Mapping[str, Any] | None = None,
                  expected_version: int | None = None) -> int: ...
    def delete(self, id: SessionId, *, expected_version: int | None = None) -> bool: ...
    def list_summaries(self, *, user_id: str | None = None, tenant_id: str | None = None,
                       limit: int | None = None,
                       before: SessionId | None = None) -> list[SessionSummary]: ...


class Thread:
    """The fold of one thread's items (its session's, oldest first): what
    the saver reads from. `version` and `seen` say how far it got."""

    def __init__(self, key: str, sid: Any) -> None:
        self.key, self.sid = key, sid
        self.version = 0
        self.seen = 0  # items folded
        self.unreadable = 0  # items passed over (see `fold_items`)
        self.last_id: str | None = None  # of the last item folded
        self.messages: list[tuple[Mapping[str, Any], str | None]] = []  # data, text by ordinal
        self.decoded: list[BaseMessage | None] = []
        self.by_id: dict[str, list[int]] = {}  # LangChain message id -> ordinals
        self.unassigned: list[int] = []  # messages stored without an id, none given yet
        self.assigned: dict[int, str] = {}  # ordinal -> the id given later
        self.checkpoints: dict[str, dict[str, Mapping[str, Any]]] = {}  # ns -> id -> data
        # (ns, checkpoint id) -> (task id, idx) -> (channel, encoded value, task path)
        self.writes: dict[tuple[str, str], dict[tuple[str, int], tuple[str, Any, str]]] = {}
        self.latest: dict[str, str] = {}
        # (ns, id) -> the checkpoint without its values (plain JSON), also
        # of forgotten ones: a later checkpoint is stored as a diff of its parent's
        self.cps: dict[tuple[str, str], dict[str, Any]] = {}

    # -- folding ------------------------------------------------------------

    def fold(self, role: str, item_id: str, data: Mapping[str, Any], text: str | None = None,
             message: BaseMessage | None = None) -> None:
        """Apply one item (`message`: the message it stores, when known)."""
        self.seen += 1
        if item_id.startswith(MESSAGE_ID):
            ordinal = len(self.messages)
            self.messages.append((data, text))
            self.decoded.append(message)
            mid = data.get("data", {}).get("id")
            if isinstance(mid, str):
                self.by_id.setdefault(mid, []).append(ordinal)
            else:
                self.unassigned.append(ordinal)
            return
        for ordinal, mid in data.get("ids", ()):  # ids LangGraph gave id-less messages
            self.assigned[ordinal] = mid
            self.by_id.setdefault(mid, []).append(ordinal)
            if ordinal in self.unassigned:
                self.unassigned.remove(ordinal)
            self.decoded[ordinal] = None
        if role == CHECKPOINT:
            ns, cid = data["ns"], data["id"]
            self.checkpoints.setdefault(ns, {})[cid] = data
            if "cpd" in data:
                base = self.cps.get((ns, data["parent"]))
                if base is not None:
                    self.cps[(ns, cid)] = patch(base, data["cpd"])
            elif "j" in data["cp"]:
                self.cps[(ns, cid)] = thaw(data["cp"]["j"])
            if cid > self.latest.get(ns, ""):
                self.latest[ns] = cid
        elif role == WRITES:
            held = self.writes.setdefault((data["ns"], data["cp"]), {})
            for idx, channel, enc in data["w"]:
                key = (data["task"], idx)
                if data.get("replace") or key not in held:
                    held[key] = (channel, enc, data.get("path", ""))
        elif role == FORGET:
            touched = set()
            for ns, cid in data["checkpoints"]:
                self.checkpoints.get(ns, {}).pop(cid, None)
                self.writes.pop((ns, cid), None)
                touched.add(ns)
            for ns in touched:
                left = self.checkpoints.get(ns)
                if left:
                    self.latest[ns] = max(left)
                else:
                    self.checkpoints.pop(ns, None)
                    self.latest.pop(ns, None)

    def fold_items(self, items: Iterable[Any]) -> None:
        """Apply `SessionItem`s. One the saver cannot read (another writer's
        item with a "langgraph." role and another shape, an erased one) is
        passed over and counted in `unreadable`."""
        for item in items:
            try:
                self.fold(item.role, item.id, item.data, item.text)
            except (KeyError, TypeError, ValueError, IndexError):
                self.unreadable += 1

    # -- reading ------------------------------------------------------------

    def message(self, ordinal: int) -> BaseMessage:
        """The stored message (shared: copy it before handing it out)."""
        found = self.decoded[ordinal]
        if found is None:
            found = message_of(*self.messages[ordinal])
            if ordinal in self.assigned:
                found.id = self.assigned[ordinal]
            self.decoded[ordinal] = found
        return found

    def find(self, ns: str, cid: str | None) -> Mapping[str, Any] | None:
        """A checkpoint's data: `cid`, or the latest of `ns`."""
        held = self.checkpoints.get(ns)
        if not held:
            return None
        return held.get(cid if cid is not None else self.latest[ns])

    def checkpoint_rest(self, data: Mapping[str, Any], serde: Any) -> dict[str, Any]:
        """A stored checkpoint without its values, as a fresh dict."""
        if "cpd" in data:
            return thaw(self.cps[(data["ns"], data["id"])])
        rest: dict[str, Any] = decode_value(serde, data["cp"])
        return rest

    def compact(self, ns: str, parent: str | None, rest: dict[str, Any],
                serde: Any) -> dict[str, Any]:
        """How a checkpoint without its values is stored: {"cpd": its diff
        from its parent's} when both are plain JSON, else {"cp": encoded}."""
        base = self.cps.get((ns, parent)) if parent else None
        if base is not None and plain_json(rest):
            return {"cpd": diff(base, rest)}
        return {"cp": encode_value(serde, rest)}

    def decode(self, enc: Mapping[str, Any], serde: Any) -> Any:
        """A stored value, as fresh objects (the messages copied)."""
        if "m" in enc:
            message = self.message
            return [shallow(message(o)) for o in expand(enc["m"])]
        return decode_value(serde, enc, self.resolve)

    def pending(self, ns: str, cid: str) -> list[tuple[str, int, str, Mapping[str, Any]]]:
        """A checkpoint's writes as (task, idx, channel, encoded value), in
        `writes_sort_key` order (task path, task id, index)."""
        held = self.writes.get((ns, cid), {})
        return [(task, idx, channel, enc) for (task, idx), (channel, enc, _) in
                sorted(held.items(), key=lambda kv: (kv[1][2], kv[0][0], kv[0][1]))]

    def as_tuple(self, data: Mapping[str, Any], serde: Any) -> CheckpointTuple:
        """A stored checkpoint as LangGraph's `CheckpointTuple`."""
        ns, cid = data["ns"], data["id"]
        checkpoint = self.checkpoint_rest(data, serde)
        checkpoint["id"] = cid
        checkpoint["channel_values"] = {ch: self.decode(enc, serde)
                                        for ch, enc in data["vals"].items()}
        writes = [(task, ch, self.decode(enc, serde)) for task, _, ch, enc in self.pending(ns, cid)]
        config: RunnableConfig = {"configurable": {"thread_id": self.key, "checkpoint_ns": ns,
                                                   "checkpoint_id": cid}}
        parent: RunnableConfig | None = None
        if data.get("parent"):
            parent = {"configurable": {"thread_id": self.key, "checkpoint_ns": ns,
                                       "checkpoint_id": data["parent"]}}
        return CheckpointTuple(config, cast(Checkpoint, checkpoint),
                               decode_value(serde, data["meta"]), parent, writes)

    def delta_history(self, ns: str, cid: str | None, channels: Sequence[str],
                      serde: Any) -> dict[str, DeltaChannelHistory]:
        """`BaseCheckpointSaver.get_delta_channel_history` over this fold."""
        collected: dict[str, list[Any]] = {ch: [] for ch in channels}
        seeds: dict[str, Any] = {}
        remaining = set(channels)
        target = self.find(ns, cid)
        cursor = target.get("parent") if target is not None else None
        while cursor and remaining:
            data = self.find(ns, cursor)
            if data is None:
                break
            for task, _, ch, enc in reversed(self.pending(ns, cursor)):
                if ch in remaining:
                    collected[ch].append((task, ch, self.decode(enc, serde)))
            for ch in [c for c in remaining if c in data["vals"]]:
                seeds[ch] = self.decode(data["vals"][ch], serde)
                remaining.discard(ch)
            cursor = data.get("parent")
        result: dict[str, DeltaChannelHistory] = {}
        for ch in channels:
            entry: DeltaChannelHistory = {"writes": list(reversed(collected[ch]))}
            if ch in seeds:
                entry["seed"] = seeds[ch]
            result[ch] = entry
        return result

    def is_empty(self) -> bool:
        return not self.checkpoints

    def same(self, m: BaseMessage) -> int | None:
        """The stored message equal to `m` (found by its id)."""
        for ordinal in reversed(self.by_id.get(m.id or "", ())):
            stored = self.message(ordinal)
            if type(stored) is type(m) and stored == m:
                return ordinal
        return None

    def idless(self, m: BaseMessage, exclude: Mapping[int, str], *, but_id: bool) -> int | None:
        """A stored message without an id that is `m` (`but_id`: but for
        `m`'s id, which LangGraph gave it since), not one of `exclude`."""
        want = {**m.__dict__, "id": None} if but_id else m.__dict__
        for ordinal in reversed(self.unassigned):
            if ordinal in exclude:
                continue
            stored = self.message(ordinal)
            if type(stored) is type(m) and stored.__dict__ == want:
                return ordinal
        if but_id:
            return None
        # One with an id but for that: a write of the graph's input names the
        # message without the id its checkpoint stored it with (a ref "n").
        for ordinal in range(len(self.messages) - 1, -1, -1):
            stored = self.message(ordinal)
            if type(stored) is type(m) and {**stored.__dict__, "id": None} == want:
                return ordinal
        return None

    def resolve(self, ref: Mapping[str, Any]) -> BaseMessage:
        """The message a {"$m": ordinal} names, as a fresh object."""
        m = shallow(self.message(ref["$m"]))
        if ref.get("n"):
            m.id = None
        return m


class Draft:
    """What one write adds to a thread: new message items, at ordinals past
    the stored ones, and the ids LangGraph gave stored messages that had
    none (the graph's input is stored before LangGraph gives its messages
    ids: the checkpoint that first holds them with an id names the item and
    records the id, so the input is not stored twice)."""

    def __init__(self, thread: Thread, allow_new: bool) -> None:
        self.t, self.allow_new = thread, allow_new
        self.new: list[tuple[dict[str, Any], BaseMessage]] = []
        self.assign: dict[int, str] = {}

    def message(self, ordinal: int) -> BaseMessage:
        """A message as the thread will hold it after this write (shared)."""
        base = len(self.t.messages)
        if ordinal >= base:
            return self.new[ordinal - base][1]
        m = self.t.message(ordinal)
        if ordinal in self.assign:
            m = shallow(m)
            m.id = self.assign[ordinal]
        return m

    def resolve(self, ref: Mapping[str, Any]) -> BaseMessage:
        m = shallow(self.message(ref["$m"]))
        if ref.get("n"):
            m.id = None
        return m

    def ordinal(self, m: BaseMessage) -> int | None:
        """The ordinal of the item holding `m`, a new item if need be and
        allowed (None: `m` is stored in the value itself)."""
        t = self.t
        if isinstance(m.id, str):
            found = t.same(m)
            if found is None:
                found = next((k for k, x in self.assign.items()
                              if x == m.id and self.message(k) == m), None)
            if found is None:
                found = self._among_new(m)
            if found is None:
                found = t.idless(m, self.assign, but_id=True)
                if found is not None:
                    self.assign[found] = m.id
        else:
            found = t.idless(m, self.assign, but_id=False)
            if found is None:
                found = self._among_new(m)
        if found is not None or not self.allow_new:
            return found
        made = message_data(m, message_text(m))
        if made is None:
            return None
        self.new.append(made)
        return len(t.messages) + len(self.new) - 1

    def items(self, data: dict[str, Any], role: str) -> list[tuple[NewItem, Any]]:
        """The items of a write: the new messages (each with the message it
        stores), then the item with `data` (and the ids given stored messages)."""
        if self.assign:
            data["ids"] = [[k, mid] for k, mid in self.assign.items()]
        made: list[tuple[NewItem, Any]] = [
            (NewItem(role=message_role(m), data=d, text=message_text(m),
                     id=MESSAGE_ID + secrets.token_hex(8)), m) for d, m in self.new]
        return [*made, (NewItem(role=role, data=data, id=item_id()), None)]

    def _among_new(self, m: BaseMessage) -> int | None:
        base = len(self.t.messages)
        return next((base + i for i, (_, b) in enumerate(self.new)
                     if type(b) is type(m) and b == m), None)

    def ref(self, m: BaseMessage) -> dict[str, Any] | None:
        """{"$m": ordinal} for a message inside another value (see `codec`).
        Read from a copy: LangGraph may give the graph's input messages their
        ids while a background save reads them."""
        m = shallow(m)
        found = self.ordinal(m)
        if found is None:
            return None
        return {"$m": found} if m.id is not None else {"$m": found, "n": 1}

    def runs(self, messages: Sequence[Any], parent: Mapping[str, Any] | None,
             channel: str) -> list[list[int]] | None:
        """A message channel's list of messages (each with an id) as runs of
        ordinals (`codec.ranges`), matching the parent checkpoint's messages
        first (the common case, a list that grew, costs one comparison per
        message and keeps the parent's runs); None when one cannot be named
        (the list is then stored as a value)."""
        known: list[int] = []
        base: list[list[int]] = []
        if parent is not None:
            enc = parent["vals"].get(channel)
            if enc is not None and "m" in enc:
                base = [list(run) for run in enc["m"]]
                known = expand(base)
        message = self.t.message
        same = 0
        for k, m in zip(known, messages, strict=False):
            stored = message(k)
            if type(stored) is not type(m) or stored.__dict__ != m.__dict__:
                break
            same += 1
        out: list[int] = []
        for m in messages[same:]:
            if not isinstance(m, BaseMessage) or not isinstance(m.id, str):
                return None
            found = self.ordinal(m)
            if found is None:
                return None
            out.append(found)
        if same < len(known):
            return ranges(known[:same] + out)
        tail = ranges(out)
        if base and tail and base[-1][1] == tail[0][0]:
            base[-1][1] = tail.pop(0)[1]
        return base + tail
