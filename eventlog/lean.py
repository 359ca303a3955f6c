"""The write path's encoders, built for speed and proven equal to the
reference ones: event JSON text and chain bytes written directly with
f-strings, the clock read with a cached per-second prefix, event ids formatted
without a `uuid.UUID` round trip.

`codec.encode_event` + `codec.dumps` (cattrs) and `codec.chain_hash` stay the
reference; tests/eventlog/test_lean.py checks with Hypothesis that every function here
gives the very same bytes, for every event type.
"""

from __future__ import annotations

import enum
import hashlib
import time
import types
import typing
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from .checks import uuid_from_int
from .codec import SCHEMA_VERSION, converter, dumps, format_sortable, json_string
from .events import EVENT_TYPES

#: (data dict, canonical JSON text) of one event.
Encoded = tuple[dict[str, Any], str]
Encoder = Callable[[Any], Encoded]

_ENCODERS: dict[type, Encoder] = {}


def encode(event: Any) -> tuple[str, dict[str, Any], str]:
    """The event's type name, data dict and canonical JSON text: what
    `codec.encode_event` and `codec.dumps` give, without cattrs.

    Raises:
        TypeError: not a session event.
    """
    cls = type(event)
    fn = _ENCODERS.get(cls)
    if fn is None:
        name = cls.__name__
        if EVENT_TYPES.get(name) is not cls:
            raise TypeError(f"not a session event: {event!r}")
        fn = _ENCODERS[cls] = make_encoder(cls)
    data, text = fn(event)
    return cls.__name__, data, text


def _reference(event: Any) -> Encoded:
    data = converter.unstructure(event)
    return data, dumps(data)


def _kind(tp: Any) -> str | None:
    """How a field's value is written: by its (resolved) annotation."""
    if tp is uuid.UUID:
        return "uuid"
    if tp is datetime:
        return "time"
    if tp is str:
        return "str"
    if tp is int:
        return "int"
    if isinstance(tp, type) and issubclass(tp, enum.Enum) and issubclass(tp, str):
        return "enum"
    if typing.get_origin(tp) is dict:
        return "json"
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = set(typing.get_args(tp))
        if args == {str, type(None)}:
            return "optstr"
    return None


_SAMPLES = {
    "uuid": uuid.UUID(int=1), "time": datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC),
    "str": "s", "int": 1, "json": {}, "optstr": None,
}


def make_encoder(cls: type) -> Encoder:
    """Generate the direct encoder of an event class from its attrs fields.

    Which optional fields are left out when None is read from the reference
    converter itself (by encoding a probe), and the generated encoder is
    checked against it on that probe; a class with a field of an unknown type
    uses the reference encoder.
    """
    fields = attrs.fields(attrs.resolve_types(cls))
    found = {f.name: _kind(f.type) for f in fields}
    kinds = {name: kind for name, kind in found.items() if kind is not None}
    if len(kinds) != len(found):
        return _reference
    probe: Any = object.__new__(cls)
    for f in fields:
        kind = kinds[f.name]
        sample = next(iter(f.type)) if kind == "enum" else _SAMPLES[kind]
        object.__setattr__(probe, f.name, sample)
    omitted = {f.name for f in fields} - set(converter.unstructure(probe))
    lines, kept, optional, parts = ["def encode(e):"], [], [], []
    for i, name in enumerate(sorted(kinds)):
        kind, v = kinds[name], f"v{i}"
        get = {"uuid": "str(e.{})", "time": "_time(e.{})", "enum": "e.{}.value"}.get(kind, "e.{}")
        lines.append(f"    {v} = {get.format(name)}")
        literal = {
            "uuid": f'"{{{v}}}"', "time": f'"{{{v}}}"', "int": f"{{{v}}}",
            "json": f"{{_dumps({v})}}", "str": f"{{_s({v})}}", "enum": f"{{_s({v})}}",
            "optstr": f'{{"null" if {v} is None else _s({v})}}',
        }[kind]
        part = f"f',\"{name}\":{literal}'"
        if name in omitted:
            parts.append(f"('' if {v} is None else {part})")
            optional.append(f"    if {v} is not None:\n        d['{name}'] = {v}")
        else:
            parts.append(part)
            kept.append(f"'{name}': {v}")
    lines.append(f"    d = {{{', '.join(kept)}}}")
    lines += optional
    lines.append(f"    t = {' + '.join(parts)}")
    lines.append("    return d, '{' + t[1:] + '}'")
    source = "\n".join(lines)
    namespace: dict[str, Any] = {"_s": json_string, "_dumps": dumps, "_time": sortable}
    exec(compile(source, f"<lean encoder of {cls.__name__}>", "exec"), namespace)
    fn: Encoder = namespace["encode"]
    if fn(probe) != _reference(probe):
        return _reference
    return fn


def sortable(dt: datetime) -> str:
    """`codec.format_sortable`, with the text up to the second cached (one
    `isoformat` per second of timestamps, not per timestamp)."""
    if dt.tzinfo is not UTC:
        return format_sortable(dt)
    key = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
    prefix = _PREFIXES.get(key)
    if prefix is None:
        if len(_PREFIXES) >= 1024:
            _PREFIXES.clear()
        prefix = _PREFIXES[key] = dt.isoformat()[:19]
    return f"{prefix}.{dt.microsecond:06d}Z"


_PREFIXES: dict[tuple[int, ...], str] = {}


# -- the hash chain ---------------------------------------------------------

def chain_hash(prev_hash: str, position: int, event_id: str, stream_q: str, version: int,
               type_q: str, data: str, metadata_q: str, recorded_at: str) -> str:
    """`codec.chain_hash` of a current-schema row, from pre-quoted parts:
    `stream_q`, `type_q` and `metadata_q` are the JSON string literals of
    the stream id, type name and metadata text (`codec.json_string`), computed
    once per append; `event_id` (canonical UUID text) and `recorded_at`
    (`format_sortable`) need no escaping.

    Raises:
        ValueError: a text is not valid Unicode (a lone surrogate).
    """
    try:
        payload = (
            f"{prev_hash}[{position},\"{event_id}\",{stream_q},{version},{type_q},"
            f"{SCHEMA_VERSION},{json_string(data)},{metadata_q},\"{recorded_at}\"]"
        ).encode()
    except UnicodeEncodeError as e:
        raise ValueError(
            f"event text is not valid Unicode ({e.reason} at index {e.start}); "
            "lone surrogates cannot be stored"
        ) from None
    return hashlib.sha256(payload).hexdigest()


# -- clock and ids ----------------------------------------------------------

class Clock:
    """The time now as (`format_sortable` text, aware UTC datetime), with the
    text's per-second prefix cached: one `time_ns` call and an f-string."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._base = datetime(1970, 1, 1, tzinfo=UTC)

    def at(self, ns: int) -> tuple[str, datetime]:
        """The text and datetime of `ns` nanoseconds since the epoch."""
        second, micro = divmod(ns // 1000, 1_000_000)
        if second != self._second:
            base = datetime.fromtimestamp(second, UTC)
            self._prefix, self._base, self._second = base.isoformat()[:19], base, second
        return f"{self._prefix}.{micro:06d}Z", self._base.replace(microsecond=micro)

    def now(self) -> tuple[str, datetime]:
        return self.at(time.time_ns())


def uuid_text(value: int) -> str:
    """str(uuid.UUID(int=value)), formatted directly."""
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_id(value: int) -> tuple[str, uuid.UUID]:
    """The canonical text and the UUID object of a 128-bit id."""
    return uuid_text(value), uuid_from_int(value)
