"""A recorded event: one row of the `events` table, decoded."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from .checks import uuid_from_text
from .codec import SCHEMA_VERSION, decode_event, upcast
from .errors import EventDecodeError
from .events import Event

#: The columns of `events`, in the order `RecordedEvent.from_row` reads them.
COLUMNS = (
    "position, event_id, stream_id, version, type, data, metadata, recorded_at, hash, schema_version"
)

_META_CACHE: dict[str, dict] = {}


def _metadata(text: str) -> dict[str, Any]:
    """json.loads of a metadata column; the few distinct texts are parsed
    once and copied (a copy per event, so callers may change theirs)."""
    cached = _META_CACHE.get(text)
    if cached is None:
        cached = json.loads(text)
        if not isinstance(cached, dict):
            raise ValueError("metadata is not a JSON object")
        if len(_META_CACHE) > 1024:
            _META_CACHE.clear()
        _META_CACHE[text] = cached
    return dict(cached)


@attrs.frozen
class RecordedEvent:
    """An event as stored: its place in the log and the chain, and its data.

    `data` is the decoded JSON of its column, upcast once, here, to the
    current schema version (`schema_version` keeps the version it was stored
    at; the chain covers the stored text). `metadata` is its column's JSON;
    `event` gives the event object.
    """

    position: int
    event_id: uuid.UUID
    stream_id: str
    version: int
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    hash: str
    schema_version: int = SCHEMA_VERSION

    @property
    def event(self) -> Event:
        """The event object this row records."""
        # `data` is already current (see `from_row`); a newer version is refused.
        return decode_event(self.type, self.data, max(self.schema_version, SCHEMA_VERSION))

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> RecordedEvent:
        """Build from a row of the `events` table, in `_COLUMNS` order."""
        pos, eid, stream, ver, typ, data, meta, at, h, sv = row
        try:
            decoded = json.loads(data)
            if sv < SCHEMA_VERSION:
                decoded = upcast(typ, decoded, sv)
            return cls(
                pos, uuid_from_text(eid), stream, ver, typ, decoded, _metadata(meta),
                datetime.fromisoformat(at), h, sv,
            )
        except (ValueError, TypeError, KeyError) as e:
            raise EventDecodeError(
                f"event at position {pos} is unreadable ({e}); run `sessionlog verify`"
            ) from None


