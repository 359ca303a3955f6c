"""Validators and converters for event fields: bad values fail at
construction with a `ValueError` that names what is wrong."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def to_uuid(value: Any) -> uuid.UUID:
    """Accept a `uuid.UUID` or its string form."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValueError(f"not a session id (UUID): {value!r}")


def aware(value: Any) -> datetime:
    """Accept a timezone-aware datetime and return it in UTC."""
    if not isinstance(value, datetime):
        raise ValueError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def text(_: Any, attribute: Any, value: Any) -> None:
    """attrs validator: a str."""
    if not isinstance(value, str):
        raise ValueError(f"{attribute.name}: expected a string, got {type(value).__name__}")


def text_or_none(_: Any, attribute: Any, value: Any) -> None:
    """attrs validator: a str or None."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{attribute.name}: expected a string or None, got {type(value).__name__}")
