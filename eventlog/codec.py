"""Encoding at the edge: one cattrs converter, RFC 3339 timestamps, and the
event <-> (type, JSON text) mapping, with upcasters for older event versions.

Storage deals in rows and text; nothing outside this module knows how an
event class becomes JSON.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter as _json_converter
from cattrs.v import format_exception

from .checks import to_uuid
from .errors import EventDecodeError
from .events import EVENT_TYPES, Event, ItemAdded, SessionCreated, SessionRole, to_role

#: The schema version new events are written with.
SCHEMA_VERSION = 1

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,  # \d is 0-9 only: "２０２０" is not a year
)


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with any offset and up to 9 fractional
    digits (truncated to microseconds) into an aware UTC datetime.

    Raises:
        ValueError: the text is not an RFC 3339 timestamp.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {type(text).__name__}")
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, frac, z, sign, oh, om = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    if z:
        tz = UTC
    else:
        offset = timedelta(hours=int(oh), minutes=int(om))
        if offset >= timedelta(hours=24):
            raise ValueError(f"offset out of range in {text!r}")
        tz = timezone(-offset if sign == "-" else offset)
    try:
        dt = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
        return dt.astimezone(UTC)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"invalid timestamp {text!r}: {e}") from None


def format_timestamp(dt: datetime) -> str:
    """Format as chrono's serde does: UTC, `Z`, no fraction when zero, else 3
    or 6 digits."""
    dt = dt.astimezone(UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    us = dt.microsecond
    if us == 0:
        return base + "Z"
    if us % 1000 == 0:
        return f"{base}.{us // 1000:03d}Z"
    return f"{base}.{us:06d}Z"


def format_sortable(dt: datetime) -> str:
    """Fixed-width UTC form (6 fractional digits) whose text order is time
    order: used in SQL columns that are compared or sorted."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return f"{dt.isoformat(timespec='microseconds')[:26]}Z"


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def make_converter() -> cattrs.Converter:
    """The converter for events and sessions: cattrs' JSON converter, strict.

    Datetimes are written fixed-width (`format_sortable`), so stored text
    sorts as time does; session JSON overrides that with chrono's format.

    Strings are not coerced from numbers, UUIDs and timestamps must be strings,
    and roles must be one of `SessionRole`.
    """
    conv = _json_converter()
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(uuid.UUID, lambda v, _: to_uuid(v))
    conv.register_unstructure_hook(uuid.UUID, str)
    conv.register_structure_hook(datetime, lambda v, _: parse_timestamp(v))
    conv.register_unstructure_hook(datetime, format_sortable)
    conv.register_structure_hook(SessionRole, lambda v, _: to_role(v))
    conv.register_unstructure_hook(SessionRole, lambda r: r.value)
    # Fields added after the first release are left out when None, so an
    # event of that release encodes to the very same bytes.
    conv.register_unstructure_hook(SessionCreated, make_dict_unstructure_fn(
        SessionCreated, conv, key=override(omit_if_default=True)))
    conv.register_unstructure_hook(ItemAdded, make_dict_unstructure_fn(
        ItemAdded, conv, text=override(omit_if_default=True)))
    return conv


converter = make_converter()


def _format_exception(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ValueError) and str(exc):
        return str(exc)
    return format_exception(exc, type_)


def describe_error(exc: BaseException) -> str:
    """One line naming each bad field of a failed structure, e.g.
    "messages[0].role: unknown role 'bot'"."""
    if isinstance(exc, cattrs.BaseValidationError):
        lines = cattrs.transform_error(exc, path="", format_exception=_format_exception)
        out = []
        for line in lines:
            msg, _, path = line.rpartition(" @ ")
            path = path.lstrip(".") or "(top level)"
            out.append(f"{path}: {msg}")
        return "; ".join(out)
    return str(exc)


# One encoder for the module: json.dumps would build a new one on every call.
# Its encode() runs the C encoder; NaN and infinities are refused (not JSON).
_canonical = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False, check_circular=False,
)
json_string = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept (C)


def dumps(obj: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 kept as is."""
    return _canonical.encode(obj)


def encode_event(event: Event) -> tuple[str, dict[str, Any]]:
    """Return the event's type name and its JSON-ready dict."""
    name = type(event).__name__
    if name not in EVENT_TYPES or EVENT_TYPES[name] is not type(event):
        raise TypeError(f"not a session event: {event!r}")
    return name, converter.unstructure(event)


# Upcasters turn the data of an older schema version into the next one.
# Keyed by (event type, version it reads); each returns the data of version+1.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _message_added_v0(data: dict[str, Any]) -> dict[str, Any]:
    # Version 0 (pre-release) stored the message text under "text".
    data = dict(data)
    data["content"] = data.pop("text")
    return data


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("MessageAdded", 0): _message_added_v0,
}


def upcast(type_name: str, data: dict[str, Any], schema_version: int) -> dict[str, Any]:
    """Bring `data` written at `schema_version` up to `SCHEMA_VERSION`."""
    while schema_version < SCHEMA_VERSION:
        step = UPCASTERS.get((type_name, schema_version))
        if step is not None:
            data = step(data)
        schema_version += 1
    return data


def decode_event(type_name: str, data: dict[str, Any], schema_version: int = SCHEMA_VERSION) -> Event:
    """Rebuild the event object of a stored row.

    Raises:
        EventDecodeError: unknown type, newer schema, or data that does not fit.
    """
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise EventDecodeError(f"unknown event type {type_name!r}")
    if schema_version > SCHEMA_VERSION:
        raise EventDecodeError(
            f"{type_name} has schema version {schema_version}; this release reads up to "
            f"{SCHEMA_VERSION}: upgrade sessionlog"
        )
    try:
        return converter.structure(upcast(type_name, data, schema_version), cls)
    except (cattrs.BaseValidationError, KeyError, ValueError, TypeError) as e:
        raise EventDecodeError(f"bad {type_name} data: {describe_error(e)}") from e


#: The `hash` the first event chains from.
GENESIS_HASH = "0" * 64


def chain_hash(
    prev_hash: str,
    position: int,
    event_id: str,
    stream_id: str,
    version: int,
    type_name: str,
    schema_version: int,
    data: str,
    metadata: str,
    recorded_at: str,
) -> str:
    """sha256 over the previous event's hash and this event's canonical bytes.

    The canonical bytes are the UTF-8 JSON array of the row's columns in a
    fixed order, with `data` and `metadata` as the exact stored text, so
    changing any column of any row breaks every later hash. Rows of schema
    version 0 (written before the column existed) leave it out.

    Raises:
        ValueError: a text column is not valid Unicode (a lone surrogate).
    """
    sv = "" if schema_version == 0 else f"{schema_version},"
    try:
        # The compact JSON array of the columns, written out (as json.dumps
        # would, non-ASCII kept) without building an encoder per row.
        payload = (
            f"[{position},{json_string(event_id)},{json_string(stream_id)},{version},"
            f"{json_string(type_name)},{sv}{json_string(data)},{json_string(metadata)},"
            f"{json_string(recorded_at)}]"
        ).encode()
    except UnicodeEncodeError as e:
        raise ValueError(
            f"event text is not valid Unicode ({e.reason} at index {e.start}); "
            "lone surrogates cannot be stored"
        ) from None
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()
