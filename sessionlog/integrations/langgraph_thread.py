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

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from projections.frozen import freeze, thaw

from .langchain import message_text

__all__ = ["CHECKPOINT", "FORGET", "FORK", "MESSAGE_ID", "WRITES", "Thread", "decode_value",
           "encode_value", "plain_json", "shallow"]

MESSAGE_ID = "lgm-"
CHECKPOINT = "langgraph.checkpoint"
WRITES = "langgraph.writes"
FORK = "langgraph.fork"
FORGET = "langgraph.forget"

_SCALARS = (str, int, float, bool, type(None))


def plain_json(value: Any) -> bool:
    """Whether `value` reads back from JSON as an equal value of the same
    types (no tuple, subclass, non-string key, NaN...)."""
    cls = type(value)
    if cls in _SCALARS:
        return cls is not float or (value == value and value not in (float("inf"), float("-inf")))
    if cls is list:
        return all(plain_json(v) for v in value)
    if cls is dict:
        return all(type(k) is str and plain_json(v) for k, v in value.items())
    return False


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 is not 1.0 here)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


_LC = "$lc"


def _structured(value: Any) -> Any:
    """`value` as JSON where LangChain messages are {"$lc": their dict}; a
    TypeError for anything else that is not plain JSON."""
    cls = type(value)
    if cls in _SCALARS:
        if not plain_json(value):
            raise TypeError("not plain JSON")
        return value
    if cls is list:
        return [_structured(v) for v in value]
    if cls is dict:
        if _LC in value or not all(type(k) is str for k in value):
            raise TypeError("not plain JSON")
        return {k: _structured(v) for k, v in value.items()}
    if isinstance(value, BaseMessage):
        data = message_json(value)
        if data is None:
            raise TypeError("a message JSON does not give back")
        return {_LC: data}
    raise TypeError("not plain JSON")


def _unstructured(value: Any) -> Any:
    if type(value) is list or isinstance(value, list):
        return [_unstructured(v) for v in value]
    if isinstance(value, dict):
        if _LC in value:
            return messages_from_dict([thaw(value[_LC])])[0]
        return {k: _unstructured(v) for k, v in value.items()}
    return value


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, BaseMessage):
        return type(a) is type(b) and a == b
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same_value(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def encode_value(serde: Any, value: Any) -> dict[str, Any]:
    """A value as item data: {"j": value} when it is plain JSON, {"s": ...}
    when it is plain JSON holding LangChain messages (readable both), else
    {"t": type, "b": base64 of the serde's typed bytes}."""
    if plain_json(value):
        return {"j": value}
    try:
        shaped = _structured(value)
        if _same_value(_unstructured(shaped), value):
            return {"s": shaped}
    except (TypeError, ValueError):
        pass
    kind, blob = serde.dumps_typed(value)
    return {"t": kind, "b": base64.b64encode(blob).decode("ascii")}


def decode_value(serde: Any, enc: Mapping[str, Any]) -> Any:
    """The value `encode_value` encoded, as a fresh object."""
    if "j" in enc:
        return thaw(enc["j"])
    if "s" in enc:
        return _unstructured(enc["s"])
    return serde.loads_typed((enc["t"], base64.b64decode(enc["b"])))


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What turns `old` into `new` (`patch`), two levels deep: {"=": {key:
    new value}, "+": {key: {subkey: new value}} (a dict in both), "-": {key:
    [subkeys gone]}, "x": [keys gone]}, empty parts left out."""
    put: dict[str, Any] = {}
    grow: dict[str, Any] = {}
    cut: dict[str, Any] = {}
    for k, v in new.items():
        was = old.get(k, _MISSING)
        if was is not _MISSING and same(was, v):
            continue
        if type(v) is dict and type(was) is dict:
            changed = {sk: sv for sk, sv in v.items() if sk not in was or not same(was[sk], sv)}
            gone = [sk for sk in was if sk not in v]
            if changed:
                grow[k] = changed
            if gone:
                cut[k] = gone
        else:
            put[k] = v
    out: dict[str, Any] = {name: part for name, part in (("=", put), ("+", grow), ("-", cut))
                           if part}
    dropped = [k for k in old if k not in new]
    if dropped:
        out["x"] = dropped
    return out


def patch(old: Mapping[str, Any], d: Mapping[str, Any]) -> dict[str, Any]:
    """`old` changed by a `diff` (a new dict; `old` is left as it is)."""
    new = dict(old)
    for k in d.get("x", ()):
        new.pop(k, None)
    for k, v in d.get("=", {}).items():
        new[k] = thaw(v)
    for k, gone in d.get("-", {}).items():
        new[k] = {sk: sv for sk, sv in new[k].items() if sk not in gone}
    for k, changed in d.get("+", {}).items():
        new[k] = {**new[k], **thaw(changed)}
    return new


_MISSING = object()


def message_data(message: BaseMessage, text: str) -> tuple[dict[str, Any], BaseMessage] | None:
    """A message's JSON form and the message read back from it, or None when
    that does not give back an equal message (it is then stored as a blob).
    A content equal to the item's `text` is left out of the data (stored once)."""
    data = message_json(message)
    if data is None:
        return None
    back = messages_from_dict([data])[0]
    fields = data.get("data")
    if isinstance(fields, dict) and fields.get("content") == text and isinstance(text, str):
        del fields["content"]
    return data, back


_EMPTY: tuple[Any, ...] = ({}, [], None, False)


def message_json(message: BaseMessage) -> dict[str, Any] | None:
    """`message_to_dict` as JSON without the fields left at an empty default
    (what reading it back fills in again), or None when the JSON does not
    give back an equal message."""
    try:
        data = json.loads(json.dumps(message_to_dict(message), ensure_ascii=False))
        fields = data["data"]
        short = {**data, "data": {k: v for k, v in fields.items()
                                  if k in ("content", "id") or not any(
                                      type(v) is type(e) and v == e for e in _EMPTY)}}
        for candidate in (short, data):
            back = messages_from_dict([candidate])[0]
            if type(back) is type(message) and back == message:
                return candidate
    except (TypeError, ValueError, KeyError):
        pass
    return None


def message_of(data: Mapping[str, Any], text: str | None) -> BaseMessage:
    """The message a message item stores (its content the item's text when
    the data leaves it out)."""
    plain = thaw(data)
    fields = plain.get("data")
    if isinstance(fields, dict) and "content" not in fields:
        fields["content"] = text if text is not None else ""
    return messages_from_dict([plain])[0]


def ranges(ordinals: Sequence[int]) -> list[list[int]]:
    """Ordinals as [start, stop) runs: [0..199] is [[0, 200]]."""
    runs: list[list[int]] = []
    for o in ordinals:
        if runs and runs[-1][1] == o:
            runs[-1][1] = o + 1
        else:
            runs.append([o, o + 1])
    return runs


def expand(runs: Iterable[Sequence[int]]) -> list[int]:
    out: list[int] = []
    for start, stop in runs:
        out.extend(range(start, stop))
    return out


_set = object.__setattr__


def shallow(message: BaseMessage) -> BaseMessage:
    """A copy of a stored message to hand out: its own fields (setting one
    leaves the stored message as it was), their values shared; what
    pydantic's `model_copy` does, at a fifth of its cost (a checkpoint read
    copies every message of the thread)."""
    cls = type(message)
    new = cls.__new__(cls)
    _set(new, "__dict__", dict(message.__dict__))
    _set(new, "__pydantic_fields_set__", set(message.__pydantic_fields_set__))
    extra, private = message.__pydantic_extra__, message.__pydantic_private__
    _set(new, "__pydantic_extra__", None if extra is None else dict(extra))
    _set(new, "__pydantic_private__", None if private is None else dict(private))
    return new


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


def frozen(data: dict[str, Any]) -> Mapping[str, Any]:
    """Item data as the store hands it out (read-only), for a local fold."""
    result: Mapping[str, Any] = freeze(data)
    return result
