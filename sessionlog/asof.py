"""What `--as-of` (CLI) and `?as_of=` (viewer) take: a log position, or a
moment that counts to the end of its last digit, read one way for both."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from eventlog import parse_timestamp

__all__ = ["AS_OF_HELP", "as_of_value"]

AS_OF_HELP = ("Show the session as it stood at a log position, or at a moment (UTC if no offset). "
              "A moment counts to the end of its last digit: 17:05:20.548 takes in everything "
              "recorded in that millisecond, as `history` prints it.")
_FRACTION = re.compile(r"\d{2}:\d{2}:\d{2}[.,](\d+)", re.ASCII)
_HAS_SECONDS = re.compile(r"\d{2}:\d{2}:\d{2}", re.ASCII)
_HAS_MINUTES = re.compile(r"[Tt ]\d{2}:\d{2}", re.ASCII)


def as_of_value(text: str) -> int | datetime:
    """A position (ASCII digits) or a moment (RFC 3339 or ISO 8601; without
    an offset, UTC), widened to the end of its last digit (`AS_OF_HELP`).

    Raises:
        ValueError: neither, or out of range (the message says which, in one line).
    """
    if text.isascii() and text.isdigit():
        return int(text)
    bad = ValueError(f"{text!r} is neither a position nor a time like 2026-11-25T16:55:00Z")
    if not text.isascii():  # "２０２０-01-01" is not a year
        raise bad
    try:
        moment = parse_timestamp(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise bad from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if fraction := _FRACTION.search(text):
        unit = timedelta(microseconds=10 ** max(0, 6 - len(fraction.group(1))))
    elif _HAS_SECONDS.search(text):
        unit = timedelta(seconds=1)
    elif _HAS_MINUTES.search(text):
        unit = timedelta(minutes=1)
    else:
        unit = timedelta(days=1)
    try:
        return (moment + unit - timedelta(microseconds=1)).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range") from None
