"""Moving a plain log into an erasable one: every event appended again, in
the same order, through the erasable store's sealer (`copy --erasable`);
and `copy_keys`, with which an erasable log is copied row for row into
another erasable one (a SQLite file to PostgreSQL, say) and stays erasable.

A plain log cannot become erasable in place: its personal fields are in
clear in rows the chain covers. So the events are re-encrypted into a new
log: same streams, versions, positions, event ids and metadata; new
`recorded_at` and hashes (the chain is over the new ciphertext). The new
log's first event carries the old log's lineage in its metadata,
`copied_from` = {"last_hash", "events"}, so `verify --expect-hash` of the
old file against that hash still checks the old file was not changed since.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from eventlog import EventLog
from eventlog.backends.urls import shown
from eventlog.copy import DestinationNotEmptyError
from eventlog.errors import ChainBrokenError

from ..errors import ErasureError
from .erase import sealer_of
from .sealer import KEYS, STREAMS, Sealer


@attrs.frozen
class Resealed:
    """What `reseal_copy` did: events copied, the old log's last hash, and
    the new log's."""

    events: int
    source_last_hash: str | None
    last_hash: str | None


def reseal_copy(source: EventLog, store: Any, *, batch_size: int = 1000,
                progress: Callable[[int], None] | None = None) -> Resealed:
    """Append every event of the plain `source` to the empty erasable
    `store`, in one transaction of the store (joined if the caller opened
    one), checking the source's chain on the way; then bring the views up.

    Raises:
        ErasureError: `store` is not erasable.
        DestinationNotEmptyError: `store` already holds events.
        ChainBrokenError: a row of `source` does not link (nothing written).
    """
    sealer_of(store)
    last = source.last_position()
    walk = source.walk_after(0)
    copied, new_hash = 0, None
    with store.log.transaction() as conn:
        (held,) = conn.execute("SELECT count(*) FROM events").fetchone()
        if held:
            raise DestinationNotEmptyError(shown(store.log.path), held)
        lineage: dict[str, Any] | None = {"events": last, "last_hash": _last_hash(source, last)}
        for batch in source.read_batches(0, batch_size=batch_size, to_position=last, chain=walk):
            groups: list[tuple[dict, list]] = []
            for e in batch:
                meta = dict(e.metadata)
                if lineage is not None:
                    meta["copied_from"], lineage = lineage, None
                if not groups or groups[-1][0] != meta:
                    groups.append((meta, []))
                groups[-1][1].append(e)
            for meta, events in groups:
                recorded = store.log.append_many(
                    [(e.stream_id, [e.event], None) for e in events], meta)
                new_hash = recorded[-1].hash
            copied += len(batch)
            if progress:
                progress(len(batch))
        if copied != last:
            raise ChainBrokenError(copied + 1, "this event is missing")
        store.catch_up()
    return Resealed(copied, walk.last_hash, new_hash)


def copy_keys(source: EventLog, store: Any) -> int:
    """Inside `store`'s transaction, after its events were copied from the
    erasable `source` row for row (`eventlog.copy.copy_log`): the data keys
    of `source` that still exist, re-wrapped from its master key to
    `store`'s (a session key wrapped by its user's key is copied as it is),
    and which key seals which stream. Destroyed keys stay destroyed: their
    fields read `[erased]` in `store` too. Returns how many keys.

    Raises:
        ErasureError: `source` or `store` is not erasable.
        MasterKeyError: `source`'s master key does not open its keys.
    """
    target = sealer_of(store)
    origin = source.sealer
    if not isinstance(origin, Sealer):
        raise ErasureError(f"{shown(source.path)} is not erasable: it has no keys to copy")
    with source.snapshot() as conn:
        keys = conn.execute(f"SELECT key_id, subject, wrapped, created_at, {origin.parent_sql} "
                            f"FROM {KEYS} ORDER BY key_id").fetchall()
        streams = conn.execute(f"SELECT stream_id, key_id FROM {STREAMS} ORDER BY stream_id"
                               ).fetchall()
    rows = [(key_id, subject,
             bytes(wrapped) if parent is not None
             else target.master.wrap(origin.master.unwrap(bytes(wrapped))), created, parent)
            for key_id, subject, wrapped, created, parent in keys]
    with store.log.transaction() as conn:
        conn.executemany(f"INSERT INTO {KEYS} (key_id, subject, wrapped, created_at, parent) "
                         "VALUES (?, ?, ?, ?, ?)", rows)
        conn.executemany(f"INSERT INTO {STREAMS} (stream_id, key_id) VALUES (?, ?)",
                         [tuple(r) for r in streams])
    return len(rows)


def _last_hash(source: EventLog, last: int) -> str | None:
    with source.snapshot() as conn:
        row = conn.execute("SELECT hash FROM events WHERE position = ?", (last,)).fetchone()
    return None if row is None else row[0]
