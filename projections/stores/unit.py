"""The unit of work of the event-sourced store: the write pipeline.

Every write runs in one write transaction of the log (`run`): it brings the
inline views up to the log if anything else wrote (`sync`), appends its
events into that transaction (`EventLog.append_in`) and applies them to the
inline views (`commit`), so views and log commit together or not at all.
A `BulkWrite` does the same for many streams at once (import, erase).

It keeps the write-side memory, exact while the log's stamp is the one it
last saw: the inline views are current, and the owners of the sessions this
store wrote are known without a read (`owners`).
"""

from __future__ import annotations

import builtins
import errno
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from eventlog import ConcurrencyError, EventLog, ReadOnlyError, RecordedEvent, StorageError
from eventlog.backends.dialect import Db

from ..errors import SessionNotFoundError
from ..runner import ProjectionRunner
from ..views import sessions as views
from .cache import SessionCache

_T = TypeVar("_T")
#: (user_id, tenant_id) of a live session.
Owners = tuple[str | None, str | None]
_UNKNOWN: Any = object()


def cannot_write(e: StorageError) -> bool:
    """Whether a write failed because the file cannot take one now (read-only,
    or a full disk), so a read may go on without it."""
    return isinstance(e, ReadOnlyError) or e.errno == errno.ENOSPC


class BulkWrite:
    """The writes of one `EventSourcedSessionStore.bulk()` transaction.

    Attributes:
        db: the transaction, as a `Db`: what the caller reads or writes
            there commits (or rolls back) with the appends.
    """

    def __init__(self, unit: UnitOfWork, db: Db) -> None:
        self._unit, self.db = unit, db

    def existing(self, stream_ids: Iterable[str]) -> set[str]:
        """Which of these streams have events (one index probe each)."""
        d = self.db.dialect
        return {r[0] for r in self.db.execute(
            f"SELECT value FROM {d.list_source()} WHERE EXISTS "
            "(SELECT 1 FROM events WHERE stream_id = value)", (d.list_param(stream_ids),))}

    def commit(self, batch: Sequence[tuple[str, builtins.list, int | None]],
               metadata: Mapping[str, Any] | None = None) -> builtins.list[RecordedEvent]:
        """Append (stream_id, events, expected_version) triples at once and
        apply them to the inline views, as every write of the store does."""
        unit = self._unit
        before = unit.log.stamp()
        recorded = unit.log.append_many_in(self.db.conn, batch, metadata)
        if recorded:
            unit.runner.apply_inline(self.db, recorded)
            after = unit.log.stamp()
            for stream in {r.stream_id for r in recorded}:
                unit.cache.wrote(before, after, stream)
                before = after  # the cache, if it was current, now is at `after`
        return recorded


class UnitOfWork:
    """The write pipeline of one store over its log, runner and read cache.

    Args:
        source: the `source` recorded in each write's metadata.
    """

    def __init__(self, log: EventLog, runner: ProjectionRunner, cache: SessionCache,
                 source: str) -> None:
        self.log, self.runner, self.cache, self.source = log, runner, cache, source
        # Exact while the log's stamp is `_synced_at`: the inline views are
        # current, and `_live` holds the owners of the sessions this store
        # saw (None: not live).
        self._synced_at: tuple[int, int, int] | None = None
        self._live: dict[str, Owners | None] = {}

    def run(self, fn: Callable[[Db], _T]) -> _T:
        """`fn(db)` in a write transaction of the log (`EventLog.run`)."""
        dialect, cipher = self.runner.dialect, self.runner.cipher
        return self.log.run(lambda conn: fn(dialect.wrap(conn, cipher)))

    @contextmanager
    def bulk(self) -> Iterator[BulkWrite]:
        """One write transaction for many appends (see `BulkWrite`)."""
        with self.runner.transaction() as db:
            self.sync(db)
            yield BulkWrite(self, db)
            self._synced_at = None  # the owners remembered start over
            self._live.clear()

    def meta(self, user_id: str | None, tenant_id: str | None) -> dict[str, str]:
        """The metadata of a write for a session of these owners."""
        meta = {"source": self.source}
        if user_id is not None:
            meta["user_id"] = user_id
        if tenant_id is not None:
            meta["tenant_id"] = tenant_id
        return meta

    def sync(self, db: Db) -> None:
        """Inside a write: unless nothing changed since this store's last
        write (`EventLog.stamp`), forget what was remembered and bring the
        inline views up to the log."""
        stamp = self.log.stamp()
        if stamp != self._synced_at:
            self._live.clear()
            self.runner.sync_inline(db)
            self._synced_at = stamp

    def commit(self, db: Db, stream_id: str, events: builtins.list, meta: dict,
               expected_version: int | None = None,
               live: Owners | None = None) -> builtins.list[RecordedEvent]:
        """Append and apply inline, in the caller's transaction (after
        `sync`); `live`: the session's owners after the write (None: gone)."""
        before = self.log.stamp()
        recorded = self.log.append_in(db.conn, stream_id, events, expected_version, meta)
        self.runner.apply_inline(db, recorded)
        after = self.log.stamp()
        if before == self._synced_at:  # still exact: it only missed this write
            self._synced_at = after
            if len(self._live) >= 10_000:
                self._live.clear()
            self._live[stream_id] = live
        self.cache.wrote(before, after, stream_id)
        return recorded

    def owners(self, db: Db, sid: uuid.UUID) -> Owners | None:
        """Inside a write: bring the inline views up to the log, then the live
        session's (user_id, tenant_id), or None if there is no such session
        (remembered from this store's own writes while nothing else wrote)."""
        self.sync(db)
        key = str(sid)
        owners = self._live.get(key, _UNKNOWN)
        if owners is _UNKNOWN:
            owners = views.owners(db, key)
            self._live[key] = owners
        return owners

    def live_owners(self, db: Db, sid: uuid.UUID) -> Owners:
        """`owners`, or `SessionNotFoundError` when the session is not live."""
        owners = self.owners(db, sid)
        if owners is None:
            raise SessionNotFoundError(sid)
        return owners

    def write(self, db: Db, sid: uuid.UUID, owners: Owners, events: Sequence,
              expected_version: int | None, scoped: Sequence[tuple[str, builtins.list]] = (),
              *, live: Owners | None = _UNKNOWN) -> int:
        """Inside a write (after `owners`): append the session's events
        (checking its version) and the state events of other streams, apply
        them inline, and return the session's new version. `live`: the
        session's owners after the write (default: unchanged)."""
        meta = self.meta(*owners)
        after = owners if live is _UNKNOWN else live
        if events:
            recorded = self.commit(db, str(sid), list(events), meta, expected_version, after)
            version = recorded[-1].version
        else:
            version = views.stream_version(db, str(sid))
            if expected_version is not None and expected_version != version:
                raise ConcurrencyError(str(sid), expected_version, version)
        for stream, scope_events in scoped:
            self.commit(db, stream, scope_events, meta)
        return version
