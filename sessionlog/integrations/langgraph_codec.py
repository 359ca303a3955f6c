"""How the LangGraph saver (`langgraph`) writes values into item data and
reads them back: plain JSON as it is, messages as their JSON (`message_to_dict`
without empty defaults), anything else as the serde's typed bytes in base64;
a checkpoint as a diff of its parent's; a list of message ordinals as runs.
Every encoding is checked to read back equal before it is used."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from projections.frozen import freeze, thaw

__all__ = ["Ref", "Resolve", "decode_value", "diff", "encode_value", "expand", "frozen", "message_data",
           "message_json", "message_of", "patch", "plain_json", "ranges", "same", "shallow", "snapshot"]

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


_REF = "$m"

#: Names a message already stored (`ref`): {"$m": ordinal}, with "n": 1 when
#: the value held it without its id (the graph's input, before LangGraph gave it one).
Ref = Callable[[BaseMessage], "dict[str, Any] | None"]
#: The message a {"$m": ...} names, as a fresh object.
Resolve = Callable[[Mapping[str, Any]], BaseMessage]


def _structured(value: Any, ref: Ref | None = None) -> Any:
    """`value` as JSON where LangChain messages are {"$m": ...} (one `ref`
    names) or {"$lc": their dict}; a TypeError for anything else that is not
    plain JSON."""
    cls = type(value)
    if cls in _SCALARS:
        if not plain_json(value):
            raise TypeError("not plain JSON")
        return value
    if cls is list:
        return [_structured(v, ref) for v in value]
    if cls is dict:
        if _LC in value or _REF in value or not all(type(k) is str for k in value):
            raise TypeError("not plain JSON")
        return {k: _structured(v, ref) for k, v in value.items()}
    if isinstance(value, BaseMessage):
        named = None if ref is None else ref(value)
        if named is not None:
            return named
        data = message_json(value)
        if data is None:
            raise TypeError("a message JSON does not give back")
        return {_LC: data}
    raise TypeError("not plain JSON")


def _unstructured(value: Any, resolve: Resolve | None = None) -> Any:
    if isinstance(value, list):
        return [_unstructured(v, resolve) for v in value]
    if isinstance(value, dict):
        if _LC in value:
            return messages_from_dict([thaw(value[_LC])])[0]
        if _REF in value and resolve is not None:
            return resolve(value)
        return {k: _unstructured(v, resolve) for k, v in value.items()}
    return value


def encode_value(serde: Any, value: Any, ref: Ref | None = None,
                 resolve: Resolve | None = None) -> dict[str, Any]:
    """A value as item data: {"j": value} when it is plain JSON, {"s": ...}
    when it is plain JSON holding LangChain messages (readable both; those
    `ref` names by ordinal, `resolve` reading them back), else {"t": type,
    "b": base64 of the serde's typed bytes}."""
    if plain_json(value):
        return {"j": value}
    try:
        shaped = _structured(value, ref)
        if same(_unstructured(shaped, resolve), value):
            return {"s": shaped}
    except (TypeError, ValueError):
        pass
    kind, blob = serde.dumps_typed(value)
    return {"t": kind, "b": base64.b64encode(blob).decode("ascii")}


def decode_value(serde: Any, enc: Mapping[str, Any], resolve: Resolve | None = None) -> Any:
    """The value `encode_value` encoded, as a fresh object."""
    if "j" in enc:
        return thaw(enc["j"])
    if "s" in enc:
        return _unstructured(enc["s"], resolve)
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


def frozen(data: dict[str, Any]) -> Mapping[str, Any]:
    """Item data as the store hands it out (read-only), for a local fold."""
    result: Mapping[str, Any] = freeze(data)
    return result


def snapshot(value: Any) -> Any:
    """`value` with each message in its lists and dicts copied (`shallow`),
    the rest shared: what it holds now, whatever changes the messages later."""
    if isinstance(value, BaseMessage):
        return shallow(value)
    if type(value) is list:
        return [snapshot(v) for v in value]
    if type(value) is dict:
        return {k: snapshot(v) for k, v in value.items()}
    return value
