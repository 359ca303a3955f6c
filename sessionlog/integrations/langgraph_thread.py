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

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import Checkpoint, CheckpointTuple, DeltaChannelHistory

from projections.frozen import thaw

from .langchain import message_text
from .langgraph_codec import (
    decode_value,
    diff,
    encode_value,
    expand,
    message_data,
    message_of,
    patch,
    plain_json,
    shallow,
)

__all__ = ["CHECKPOINT", "FORGET", "FORK", "MESSAGE_ID", "WRITES", "Thread"]

MESSAGE_ID = "lgm-"
CHECKPOINT = "langgraph.checkpoint"
WRITES = "langgraph.writes"
FORK = "langgraph.fork"
FORGET = "langgraph.forget"

class Thread:
    """The fold of one thread's items (its session's, oldest first): what
    the saver reads from. `version` and `seen` say how far it got."""

    def __init__(self, key: str, sid: Any) -> None:
        self.key, self.sid = key, sid
        self.version = 0
        self.seen = 0  # items folded
        self.last_id: str | None = None  # of the last item folded
        self.messages: list[tuple[Mapping[str, Any], str | None]] = []  # data, text by ordinal
        self.decoded: list[BaseMessage | None] = []
        self.by_id: dict[str, list[int]] = {}  # LangChain message id -> ordinals
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
        elif role == CHECKPOINT:
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
        """Apply `SessionItem`s."""
        for item in items:
            self.fold(item.role, item.id, item.data, item.text)

    # -- reading ------------------------------------------------------------

    def message(self, ordinal: int) -> BaseMessage:
        """The stored message (shared: copy it before handing it out)."""
        found = self.decoded[ordinal]
        if found is None:
            found = self.decoded[ordinal] = message_of(*self.messages[ordinal])
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
        return decode_value(serde, enc)

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

    def ordinals_of(self, messages: Sequence[Any], parent: Mapping[str, Any] | None,
                    channel: str) -> tuple[list[int], list[tuple[dict, BaseMessage]]] | None:
        """Each message's ordinal (a new one's past the stored ones; the new
        are listed second, with their data), matching the parent checkpoint's messages first, then any
        stored message with the same id; None when some message cannot be
        an item (no id, or not one JSON gives back)."""
        if not all(isinstance(m, BaseMessage) and isinstance(m.id, str) for m in messages):
            return None
        known: list[int] = []
        if parent is not None:
            enc = parent["vals"].get(channel)
            if enc is not None and "m" in enc:
                known = expand(enc["m"])
        out: list[int] = []
        new: list[tuple[dict, BaseMessage]] = []
        pending: dict[str, list[tuple[int, BaseMessage]]] = {}
        for i, m in enumerate(messages):
            if i < len(known):
                stored = self.message(known[i])
                if type(stored) is type(m) and stored.__dict__ == m.__dict__:
                    out.append(known[i])
                    continue
            found = self._same(m)
            if found is None:
                # The same message twice in one value is one item.
                twin = next((k for k, b in pending.get(m.id, ()) if b == m), None)
                if twin is not None:
                    out.append(-1 - twin)
                    continue
                made = message_data(m, message_text(m))
                if made is None:
                    return None
                pending.setdefault(m.id, []).append((len(new), made[1]))
                out.append(-1 - len(new))
                new.append(made)
                continue
            out.append(found)
        # Negative placeholders -> new ordinals, in order of first appearance.
        base = len(self.messages)
        return [o if o >= 0 else base + (-1 - o) for o in out], new

    def _same(self, m: BaseMessage) -> int | None:
        for ordinal in reversed(self.by_id.get(m.id or "", ())):
            stored = self.message(ordinal)
            if type(stored) is type(m) and stored == m:
                return ordinal
        return None
