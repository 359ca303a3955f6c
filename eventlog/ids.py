"""Event ids: time-ordered UUIDs (RFC 9562 version 7), so new event ids land
at the end of the `event_id` index instead of on a random page."""

from __future__ import annotations

import os
import random
import time
import uuid

from .checks import uuid_from_int

# Version 7 in bits 79-76 and the RFC variant in bits 63-62 of the random tail.
_UUID7_MASK = ~(0xF << 76 | 0x3 << 62) & (1 << 80) - 1
_UUID7_BITS = 0x7 << 76 | 0x2 << 62
_random = random.Random()  # seeded from os.urandom; reseeded in forked children
os.register_at_fork(after_in_child=_random.seed)


def uuid7() -> uuid.UUID:
    """A new time-ordered UUID (RFC 9562 version 7)."""
    return uuid_from_int(uuid7_int(time.time_ns()))


def uuid7_int(ns: int) -> int:
    """The 128-bit value of a version 7 UUID for the moment `ns` (nanoseconds
    since the epoch), with 74 random bits (the write path formats it itself)."""
    return (ns // 1_000_000) << 80 | _random.getrandbits(80) & _UUID7_MASK | _UUID7_BITS
