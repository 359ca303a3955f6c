"""The event-sourced SessionStore: every write appends one event to the log
and updates the inline projections in the same transaction (SQLite or
PostgreSQL); reads come from the projection tables, replay from the log."""

from __future__ import annotations

import builtins
import errno
import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from eventlog import (
    ChainBrokenError,
    ConcurrencyError,
    EventDecodeError,
    EventLog,
    ItemsRemoved,
    ReadOnlyError,
    RecordedEvent,
    SessionCleared,
    SessionDeleted,
    StorageError,
)
from eventlog.backends.dialect import Db
from eventlog.backends.factory import is_url, shown
from eventlog.checks import aware, bounded, to_uuid

from .. import commands
from ..erasure import sealer as erasure
from ..erasure.masterkey import MasterKeyProvider, default_provider
from ..erasure.sealed_views import SealedDialect
from ..errors import (
    DuplicateKeyError,
    ProjectionError,
    SessionDeletedError,
    SessionNotFoundError,
    SessionNotYetError,
    StaleViewWarning,
)
from ..fold import fold_all
from ..models import NewItem, Session, SessionItem, SessionMessage, SessionSummary, message_event
from ..runner import Progress, Projection, ProjectionRunner
from ..verify import VerifyReport
from ..verify import verify as _verify
from ..views import sessions as views
from ..views.search import SearchHit, SearchProjection
from ..views.search import search as _search
from ..views.sessions import SessionsProjection, TenantIndexProjection
from .cache import SessionCache
from .memory import _NO_SESSION, SessionId, check_message, check_owner
from .tenancy import TenantSessionStore

_UNKNOWN = object()
_T = TypeVar("_T")


def cannot_write(e: StorageError) -> bool:
    """Whether a write failed because the file cannot take one now (read-only,
    or a full disk), so a read may go on without it."""
    return isinstance(e, ReadOnlyError) or e.errno == errno.ENOSPC


class BulkWrite:
    """The writes of one `EventSourcedSessionStore.bulk()` transaction."""

    def __init__(self, store: EventSourcedSessionStore, db: Db) -> None:
        self._store, self._db = store, db

    def existing(self, stream_ids: Iterable[str]) -> set[str]:
        """Which of these streams have events (one index probe each)."""
        d = self._db.dialect
        return {r[0] for r in self._db.execute(
            f"SELECT value FROM {d.list_source()} WHERE EXISTS "
            "(SELECT 1 FROM events WHERE stream_id = value)", (d.list_param(stream_ids),))}

    def commit(self, batch: Sequence[tuple[str, builtins.list, int | None]],
               metadata: Mapping[str, Any] | None = None) -> builtins.list[RecordedEvent]:
        """Append (stream_id, events, expected_version) triples at once and
        apply them to the inline views, as every write of the store does."""
        store = self._store
        before = store.log.stamp()
        recorded = store.log.append_many_in(self._db.conn, batch, metadata)
        if recorded:
            store.runner.apply_inline(self._db, recorded)
            after = store.log.stamp()
            for stream in {r.stream_id for r in recorded}:
                store.cache.wrote(before, after, stream)
        return recorded


class EventSourcedSessionStore:
    """A SessionStore whose truth is an append-only event log in SQLite or
    PostgreSQL.

    Each successful create, create_with_user, add_message and delete appends
    exactly one event and updates the inline projections in the same
    transaction: a read right after a write sees it, and a crash never leaves
    views and log disagreeing. A delete is a tombstone: the session leaves
    the views, its events stay in the log.

    Args:
        path: the SQLite file (created if missing), ":memory:", or a
            PostgreSQL URL (`postgresql://user@host/db`; the schema is the
            connection's search path, e.g. `?options=-csearch_path%3Dmine`).
        synchronous: "normal" (default; a returned write survives a process
            crash) or "full" (it also survives a power cut).
        timeout: seconds to wait for another writer.
        projections: extra projections to keep beside the built-in ones.
        source: the `source` recorded in each write's metadata.
        catch_up: bring every projection up to the log on opening (default);
            `verify` of a damaged file opens without it.
        erasable: keep personal fields encrypted per data subject, so that
            `erase` and `erase_user` can forget a person (see
            `projections.erasure`). Recorded in the file: an erasable file
            must be opened with it, a plain one without it.
        master_key: what wraps the data keys of an erasable store (see
            `projections.erasure.masterkey`); default: $SESSIONLOG_MASTER_KEY if set,
            else the key file `<path>.key`, created with the file.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, synchronous: str = "normal",
                 timeout: float = 30.0, projections: Iterable[Projection] = (),
                 source: str = "api", catch_up: bool = True, erasable: bool = False,
                 master_key: MasterKeyProvider | None = None) -> None:
        sealer = None
        if erasable:
            target = os.fspath(path)
            if is_url(target):
                raise erasure.ErasureError("erasable stores are SQLite-only in this release; "
                                           "open the PostgreSQL log without erasable=True")
            sealer = erasure.Sealer(master_key or default_provider(target))
        self.log = EventLog(path, synchronous=synchronous, timeout=timeout, sealer=sealer)
        self.source = source
        # Write-side memory, exact while the log's stamp is `_synced_at`:
        # the inline views are current, and `_live` holds the owners of the
        # sessions this store saw (None: not live).
        self._synced_at: tuple[int, int, int] | None = None
        self._live: dict[str, tuple[str | None, str | None] | None] = {}
        self.cache = SessionCache()
        try:
            self.runner = ProjectionRunner(
                self.log,
                [SessionsProjection(), TenantIndexProjection(), SearchProjection(), *projections],
            )
            if sealer is not None:  # the views seal their personal fields too
                self.runner.dialect = SealedDialect(sealer)
            try:
                self.runner.setup()  # writes only for a new or older-layout view
            except StorageError as e:
                if not cannot_write(e):
                    raise
                warnings.warn(StaleViewWarning(
                    f"views not set up ({e}); reads show them as they are"), stacklevel=2)
            if catch_up:
                self._catch_up_for_reading()
                try:
                    self.runner.drop_leftovers()  # of a killed rebuild, if its process is gone
                except ReadOnlyError:
                    pass
            if sealer is not None and erasure.purge_pending(self):
                try:
                    erasure.purge(self)  # an erasure's purge was cut short
                except (erasure.ErasureError, ReadOnlyError) as e:
                    warnings.warn(f"{e}", RuntimeWarning, stacklevel=2)

        except BaseException:
            self.log.close()
            raise

    def _catch_up_for_reading(self, names: Iterable[str] | None = None, *,
                              setup: bool = False) -> None:
        """Bring projections up to the log before a read, as far as it goes:
        on a read-only file or a full disk the views stay as they are (with a
        `StaleViewWarning`; writes will say why); at a broken or unreadable
        event they stop before it, so reads that do not need it still work
        (`verify` points at it, writes refuse)."""
        try:
            if setup:
                self.runner.setup()
            self.runner.catch_up(names)
        except ChainBrokenError as e:
            warnings.warn(f"{shown(self.log.path)}: views stop before position {e.position} "
                          f"({e.reason}); run `sessionlog verify`", RuntimeWarning, stacklevel=3)
        except EventDecodeError as e:
            warnings.warn(f"{shown(self.log.path)}: views stop before an unreadable event: {e}",
                          RuntimeWarning, stacklevel=3)
        except StorageError as e:
            if not cannot_write(e):
                raise
            warnings.warn(StaleViewWarning(
                f"{', '.join(names) + ' view' if names else 'views'} not brought up to date "
                f"({e}); reads show them as they are"), stacklevel=3)
        except ProjectionError as e:
            warnings.warn(f"{self.log.path}: {e}", RuntimeWarning, stacklevel=3)

    # -- writes -------------------------------------------------------------

    @contextmanager
    def _snapshot(self) -> Iterator[Db]:
        """`EventLog.snapshot` of this store's log, as a `Db`."""
        with self.log.snapshot() as conn:
            yield self.runner.dialect.wrap(conn)

    @contextmanager
    def _transaction(self) -> Iterator[Db]:
        """`EventLog.transaction` of this store's log, as a `Db`."""
        with self.log.transaction() as conn:
            yield self.runner.dialect.wrap(conn)

    def _run(self, fn: Callable[[Db], _T]) -> _T:
        """`fn(db)` in a write transaction of the log (`EventLog.run`)."""
        wrap = self.runner.dialect.wrap
        return self.log.run(lambda conn: fn(wrap(conn)))

    def _meta(self, user_id: str | None, tenant_id: str | None) -> dict[str, str]:
        meta = {"source": self.source}
        if user_id is not None:
            meta["user_id"] = user_id
        if tenant_id is not None:
            meta["tenant_id"] = tenant_id
        return meta

    def _sync(self, db: Db) -> None:
        """Inside a write: unless nothing changed since this store's last
        write (`EventLog.stamp`), forget what was cached and bring the inline
        views up to the log."""
        stamp = self.log.stamp()
        if stamp != self._synced_at:
            self._live.clear()
            self.runner.sync_inline(db)
            self._synced_at = stamp

    def _commit(self, db: Db, stream_id: str, events: list, meta: dict,
                expected_version: int | None = None,
                live: tuple[str | None, str | None] | None = None) -> list[RecordedEvent]:
        """Append and apply inline, in the caller's transaction (after
        `_sync`); `live`: the session's owners after the write (None: gone)."""
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

    def create(self, title: str | None = None) -> Session:
        """Create an empty session; appends one `SessionCreated`."""
        return self._new_session(title, None, None)

    def create_with_user(self, title: str | None, user_id: str, tenant_id: str) -> Session:
        """Create an empty session owned by `user_id` of `tenant_id`; appends
        one `SessionCreated`."""
        check_owner(user_id, tenant_id)
        return self._new_session(title, user_id, tenant_id)

    def create_session(self, title: str | None = None, *, user_id: str | None = None,
                       tenant_id: str | None = None, key: str | None = None,
                       state: Mapping[str, Any] | None = None) -> Session:
        """Create a session; appends one `SessionCreated` (and one
        `StateChanged` when `state` is not empty), at version 1 (2).

        Raises:
            DuplicateKeyError: a live session of the tenant holds `key`.
            ValueError: a bad argument; nothing is written.
        """
        return self._new_session(title, user_id, tenant_id, key, state)

    def for_tenant(self, tenant_id: str) -> TenantSessionStore:
        """A SessionStore confined to `tenant_id` (see `TenantSessionStore`)."""
        return TenantSessionStore(self, tenant_id)

    def _tenant_of(self, sid: uuid.UUID) -> object:
        with self._snapshot() as db:
            row = views.tenant_of(db, sid)
        return _NO_SESSION if row is None else row[0]

    def _created_for(self, sid: uuid.UUID) -> object:
        """The tenant a session (live or deleted) was created for, from its
        first event alone; `_NO_SESSION` when the log has no such stream."""
        with self._snapshot() as db:
            row = db.execute(
                f"SELECT {db.dialect.json_text('data', 'tenant_id')} FROM events "
                "WHERE stream_id = ? AND version = 1 AND type = 'SessionCreated'",
                (str(sid),)).fetchone()
        return _NO_SESSION if row is None else row[0]

    def _new_session(self, title, user_id, tenant_id, key=None, state=None) -> Session:
        events = commands.created_events(title, user_id, tenant_id, key, state, datetime.now(UTC))

        def write(db) -> None:
            self._sync(db)
            if key is not None:
                holder = views.find_by_key(db, key, tenant_id)
                if holder is not None:
                    raise DuplicateKeyError(key, tenant_id, uuid.UUID(holder))
            self._commit(db, str(events[0].session_id), events,
                         self._meta(user_id, tenant_id), 0, (user_id, tenant_id))
        self._run(write)
        session = fold_all(events)
        assert session is not None
        return session

    @contextmanager
    def bulk(self) -> Iterator[BulkWrite]:
        """One write transaction for many appends (import): yields a
        `BulkWrite`. Everything commits at the end of the block, or nothing
        (an exception rolls it all back)."""
        with self._transaction() as db:
            self._sync(db)
            yield BulkWrite(self, db)
            self._synced_at = None  # the owners remembered start over
            self._live.clear()

    def get_or_create(self, key: str, *, title: str | None = None, user_id: str | None = None,
                      tenant_id: str | None = None) -> Session:
        """The live session of the tenant (None: no tenant) with this key, or
        a new one with it (one `SessionCreated`). Atomic across threads and
        processes: the look-up and the creation share one write transaction."""
        commands.check_key(key)
        commands.check_optional_owner(user_id, tenant_id)
        events = commands.created_events(title, user_id, tenant_id, key, None, datetime.now(UTC))

        def write(db) -> Session | None:
            self._sync(db)
            holder = views.find_by_key(db, key, tenant_id)
            if holder is not None:
                return views.read_session(db, holder)
            self._commit(db, str(events[0].session_id), events,
                         self._meta(user_id, tenant_id), 0, (user_id, tenant_id))
            return None
        found = self._run(write)
        if found is not None:
            return found
        session = fold_all(events)
        assert session is not None
        return session

    def get_by_key(self, key: str, tenant_id: str | None = None) -> Session | None:
        """The live session of the tenant (None: no tenant) with this key."""
        commands.check_key(key)
        commands.check_optional_owner(None, tenant_id)
        with self._snapshot() as db:
            holder = views.find_by_key(db, key, tenant_id)
            return None if holder is None else views.read_session(db, holder)

    def add_message(self, id: SessionId, message: SessionMessage, *,
                    expected_version: int | None = None) -> None:
        """Append a message; appends one `MessageAdded`.

        Raises:
            SessionNotFoundError: no live session has this id; nothing appended.
        """
        self.add_messages(id, [message], expected_version=expected_version)

    def add_messages(self, id: SessionId, messages: Iterable[SessionMessage], *,
                     expected_version: int | None = None) -> None:
        """Append several messages in one transaction, one `MessageAdded`
        each: all are recorded or none.

        Raises:
            SessionNotFoundError: no live session has this id; nothing appended.
        """
        sid = to_uuid(id)
        events = [message_event(sid, m) for m in map(check_message, messages)]
        commands.check_expected(expected_version)

        def write(db) -> None:
            self._write(db, sid, self._live_owners(db, sid), events, expected_version)
        self._run(write)

    def delete(self, id: SessionId, *, expected_version: int | None = None) -> bool:
        """Delete a live session (one `SessionDeleted`); False, and nothing
        appended, if there is none. Its key is free again."""
        sid = to_uuid(id)
        commands.check_expected(expected_version)

        def write(db) -> bool:
            owners = self._owners(db, sid)
            if owners is None:
                return False
            self._write(db, sid, owners, [SessionDeleted(sid, datetime.now(UTC))],
                        expected_version, live=None)
            return True
        return self._run(write)

    def _owners(self, db: Db, sid: uuid.UUID) -> tuple[str | None, str | None] | None:
        """Inside a write: bring the inline views up to the log, then the live
        session's (user_id, tenant_id), or None if there is no such session
        (remembered from this store's own writes while nothing else wrote)."""
        self._sync(db)
        key = str(sid)
        owners = self._live.get(key, _UNKNOWN)
        if owners is _UNKNOWN:
            owners = views.owners(db, key)
            self._live[key] = owners
        return owners  # type: ignore[return-value]

    def _live_owners(self, db: Db, sid: uuid.UUID) -> tuple[str | None, str | None]:
        owners = self._owners(db, sid)
        if owners is None:
            raise SessionNotFoundError(sid)
        return owners

    def _write(self, db: Db, sid: uuid.UUID, owners: tuple[str | None, str | None],
               events: Sequence, expected_version: int | None,
               scoped: Sequence[tuple[str, list]] = (), *,
               live: tuple[str | None, str | None] | object | None = _UNKNOWN) -> int:
        """Inside a write (after `_owners`): append the session's events
        (checking its version) and the state events of other streams, apply
        them inline, and return the session's new version. `live`: the
        session's owners after the write (default: unchanged)."""
        meta = self._meta(*owners)
        after = owners if live is _UNKNOWN else live
        if events:
            recorded = self._commit(db, str(sid), list(events), meta, expected_version,
                                    after)  # type: ignore[arg-type]
            version = recorded[-1].version
        else:
            version = views.stream_version(db, str(sid))
            if expected_version is not None and expected_version != version:
                raise ConcurrencyError(str(sid), expected_version, version)
        for stream, scope_events in scoped:
            self._commit(db, stream, scope_events, meta)
        return version

    def add_items(self, id: SessionId, items: Sequence[NewItem | Mapping[str, Any]], *,
                  state_delta: Mapping[str, Any] | None = None,
                  user_state_delta: Mapping[str, Any] | None = None,
                  tenant_state_delta: Mapping[str, Any] | None = None,
                  expected_version: int | None = None) -> int:
        """Append items (one `ItemAdded` each), then the session's state delta
        (one `StateChanged`), and the user's and tenant's (one
        `ScopeStateChanged` each, in their own streams), all in one
        transaction. Returns the session's new version (unchanged, and
        nothing written, when there is nothing to write).

        Raises:
            SessionNotFoundError: no live session has this id.
            ConcurrencyError: the session is not at `expected_version`.
            ValueError: a bad item or delta, or a user/tenant delta for a
                session without user/tenant; nothing is written.
        """
        sid = to_uuid(id)
        plan = commands.add_items_plan(
            sid, items, state_delta=state_delta, user_state_delta=user_state_delta,
            tenant_state_delta=tenant_state_delta, expected_version=expected_version)
        def write(db) -> int:
            owners = self._live_owners(db, sid)
            events, scoped = plan(owners[0], owners[1])
            return self._write(db, sid, owners, events, expected_version, scoped)
        return self._run(write)

    def pop_items(self, id: SessionId, count: int = 1, *,
                  expected_version: int | None = None) -> builtins.list[SessionItem]:
        """Remove the last `count` items (fewer if there are fewer) with one
        `ItemsRemoved`; return them, oldest first. [] and no event when the
        session has no items."""
        sid = to_uuid(id)
        commands.check_count(count, 1)
        commands.check_expected(expected_version)
        def write(db) -> builtins.list[SessionItem]:
            owners = self._live_owners(db, sid)
            popped = views.last_items(db, sid, count)
            events = [ItemsRemoved(sid, len(popped), datetime.now(UTC))] if popped else []
            self._write(db, sid, owners, events, expected_version)
            return popped
        return self._run(write)

    def clear(self, id: SessionId, *, expected_version: int | None = None) -> None:
        """Remove every item: one `SessionCleared`, even when already empty."""
        sid = to_uuid(id)
        commands.check_expected(expected_version)
        def write(db) -> None:
            owners = self._live_owners(db, sid)
            self._write(db, sid, owners, [SessionCleared(sid, datetime.now(UTC))],
                        expected_version)
        self._run(write)

    def replace_last(self, id: SessionId, count: int,
                     items: Sequence[NewItem | Mapping[str, Any]], *,
                     expected_version: int | None) -> int:
        """Replace the last `count` items with `items` in one append (one
        `ItemsRemoved` unless count is 0, then one `ItemAdded` each), if the
        session is still at `expected_version` (None: skip the check).
        Returns the new version.

        Raises:
            ValueError: count is more than the session's items; nothing written.
        """
        sid = to_uuid(id)
        commands.check_count(count, 0)
        new = commands.to_new_items(items)
        commands.check_expected(expected_version)
        now = datetime.now(UTC)
        def write(db) -> int:
            owners = self._live_owners(db, sid)
            held = views.item_count(db, sid)
            if count > held:
                raise ValueError(f"count {count} is more than the session's {held} items")
            events: builtins.list = [ItemsRemoved(sid, count, now)] if count else []
            return self._write(db, sid, owners, [*events, *commands.item_events(sid, new, now)],
                               expected_version)
        return self._run(write)

    def get_state(self, tenant_id: str, user_id: str | None = None) -> dict[str, Any]:
        """The tenant's (app) state, or with `user_id` that user's state."""
        commands.check_scope(tenant_id, user_id)
        with self._snapshot() as db:
            return views.read_scope_state(db, tenant_id, user_id)

    # -- reads --------------------------------------------------------------

    def get(self, id: SessionId, last_n: int | None = None) -> Session | None:
        """The live session, or None; with `last_n`, only its last n items
        (and the messages among them)."""
        sid = str(to_uuid(id))
        commands.check_limit("last_n", last_n)
        if last_n is not None:
            bounded(last_n, "last_n")
        stamp = self.log.read_stamp() if last_n is None else None
        if stamp is not None:
            hit = self.cache.get(stamp, sid)
            if hit is not None:
                return hit
        with self._snapshot() as db:
            found = views.read_session_rows(db, sid, last_n)
        if found is None:
            return None
        row, rows = found
        if last_n is not None:
            return views.session_from_rows(row, rows)
        lender = self.cache.reuse(sid, rows)
        session = views.session_from_rows(
            row, rows, None if lender is None else (lender.items, lender.messages))
        return self.cache.put(stamp, sid, session, rows, lender)

    def list(self, limit: int | None = None, before: SessionId | None = None) -> builtins.list[Session]:
        """Live sessions, newest first (ties: later-created first).

        Args:
            limit: at most this many (default: all).
            before: only those listed after this session (keyset pagination:
                pass the id of the last session of the previous page).

        Raises:
            SessionNotFoundError: `before` names no live session.
        """
        return self._list(None, limit, before)

    def list_for_tenant(self, tenant_id: str, limit: int | None = None,
                        before: SessionId | None = None) -> builtins.list[Session]:
        """The tenant's live sessions, ordered and paged as `list`."""
        if not isinstance(tenant_id, str):
            raise ValueError(f"tenant_id: expected a string, got {tenant_id!r}")
        return self._list(tenant_id, limit, before)

    def _list(self, tenant_id, limit, before) -> builtins.list[Session]:
        commands.check_limit("limit", limit)
        if limit is not None:
            bounded(limit, "limit")
        anchor = None if before is None else to_uuid(before)
        with self._snapshot() as db:
            try:
                return views.read_sessions(db, tenant_id, limit, anchor)
            except LookupError:
                raise SessionNotFoundError(str(before)) from None

    def list_summaries(self, *, tenant_id: str | None = None, user_id: str | None = None,
                       limit: int | None = None,
                       before: SessionId | None = None) -> builtins.list[SessionSummary]:
        """Live sessions without their items, newest first, of a tenant and a
        user when given, paged as `list`."""
        commands.check_optional_owner(user_id, tenant_id)
        commands.check_limit("limit", limit)
        anchor = None if before is None else to_uuid(before)
        with self._snapshot() as db:
            try:
                return views.read_summaries(db, tenant_id, user_id, limit, anchor)
            except LookupError:
                raise SessionNotFoundError(str(before)) from None

    # -- the log ------------------------------------------------------------

    def history(self, id: SessionId) -> builtins.list[RecordedEvent]:
        """The session's whole stream, deleted sessions included; [] if unknown."""
        return self.log.read_stream(str(to_uuid(id)))

    def replay(self, id: SessionId, as_of: int | datetime | None = None) -> Session | None:
        """The session as it stood at a global position (events with
        `position <= as_of`) or a moment (`recorded_at <= as_of`), folded from
        the log alone; None before its creation and from its deletion on."""
        if isinstance(as_of, bool) or not isinstance(as_of, int | datetime | None):
            raise ValueError(f"as_of must be a position (int) or an aware datetime, not {as_of!r}")
        if isinstance(as_of, datetime):
            as_of = aware(as_of)
        elif as_of is not None:
            bounded(as_of, "as_of position")
        return fold_all(self.log.read_stream(str(to_uuid(id)), until=as_of))

    def require(self, id: SessionId, *, as_of: int | datetime | None = None,
                tenant_id: str | None = None) -> Session:
        """The session (now, or as of a position or moment, see `replay`),
        or an error that says why there is none.

        Args:
            tenant_id: only a session of this tenant (another tenant's
                session behaves as one that never existed).

        Raises:
            SessionDeletedError: it was deleted (now: at any time; as of: by then).
            SessionNotYetError: as of then, it was not created yet.
            SessionNotFoundError: it never existed (or is another tenant's).
        """
        sid = to_uuid(id)
        session = self.get(sid) if as_of is None else self.replay(sid, as_of)
        if session is not None:
            if tenant_id is not None and session.tenant_id != tenant_id:
                raise SessionNotFoundError(sid)
            return session
        history = self.history(sid)
        if not history or (tenant_id is not None
                           and history[0].data.get("tenant_id") != tenant_id):
            raise SessionNotFoundError(sid)
        until = [e for e in history if as_of is None or (
            e.position <= as_of if isinstance(as_of, int) else e.recorded_at <= aware(as_of))]
        if until and until[-1].type == "SessionDeleted":
            raise SessionDeletedError(sid, until[-1].position)
        raise SessionNotYetError(sid, as_of)

    def search(self, query: str, tenant_id: str | None = None, limit: int = 20, *,
               syntax: str = "plain") -> builtins.list[SearchHit]:
        """Messages of live sessions matching `query`, best first, with a
        snippet (matches in [brackets]).

        The query is plain text by default: every word must match (the last
        one also as a prefix), punctuation only separates words (`R-88`,
        `e-mail`, `c++` work), and CJK text matches any substring. With
        `syntax="fts5"` it is an FTS5 query ("a phrase", prefix*, AND/OR/NOT).
        At most `fulltext.MAX_QUERY_CHARS` characters and
        `fulltext.MAX_QUERY_TERMS` words.

        The search projection is lazy: it is caught up here, so it sees every
        write, and writes never pay for it (on a read-only file or a full
        disk it is searched as it is, with a `StaleViewWarning`).

        Raises:
            ValueError: an empty, too long or (fts5) malformed query.
            ProjectionError: the search view has an older layout and the file
                cannot be written to upgrade it.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, not {limit!r}")
        bounded(limit, "limit")
        self._catch_up_for_reading(["search"], setup=True)
        projection = self.runner.projections["search"]
        with self._snapshot() as db:
            if not self.runner._ready(db, projection):
                raise ProjectionError(
                    "the search view has an older layout; it is rebuilt when the file is "
                    "opened with write access (or run `sessionlog rebuild search`)")
            return _search(db, query, tenant_id, limit, syntax)

    def catch_up(self, names: Iterable[str] | None = None,
                 progress: Progress | None = None) -> dict[str, int]:
        """Apply the events after each projection's checkpoint (all
        projections, or the named ones); returns how many each applied."""
        try:
            return self.runner.catch_up(names, progress=progress)
        finally:
            self._forget()

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None,
                batch_size: int = 5000, *, force: bool = False) -> int:
        """Refold the named projections (default: all) from position 0 into
        fresh tables and swap them in atomically; returns the events folded.

        The hash chain is checked as the log is folded: a broken one raises
        `ChainBrokenError` and leaves the views as they were, unless `force`
        (then what the log holds is folded, unreadable rows left out, and the
        forced rebuild is recorded in the log's notes).
        """
        try:
            return self.runner.rebuild(names, progress=progress, batch_size=batch_size,
                                       force=force)
        finally:
            self._forget()

    def repair_triggers(self) -> builtins.list[str]:
        """Reinstall the append-only triggers on `events` if any was dropped,
        recording it in the log's notes (shown by `verify` and `stats`).
        Returns the names reinstalled ([]: none was missing)."""
        return self.log.repair_triggers()

    def verify(self, progress: Progress | None = None, *,
               expect_hash: str | None = None) -> VerifyReport:
        """Recompute the hash chain, check positions and versions, and check
        each projection equals a fresh fold, all in one consistent snapshot
        (writers go on meanwhile). See `VerifyReport.summary()`.

        Args:
            expect_hash: a `last_hash` kept from an earlier verify: the log
                must still hold that event at its position, unchanged.
        """
        return _verify(self, progress, expect_hash)

    def stats(self) -> dict:
        """Counts, file size and checkpoints, for people and monitoring."""
        with self._snapshot() as db:
            counts = db.execute(
                "SELECT (SELECT count(*) FROM events), "
                "(SELECT count(DISTINCT stream_id) FROM events), "
                "(SELECT count(*) FROM events WHERE type = 'SessionDeleted')"
            ).fetchone()
            sessions, items, messages = views.counts(db)
        last = self.log.last_position()
        size = self.log.file_bytes()
        return {
            "path": shown(self.log.path), "events": counts[0], "streams": counts[1],
            "sessions": sessions, "messages": messages, "items": items,
            "deleted_sessions": counts[2],
            "last_position": last, "file_bytes": size,
            "checkpoints": {name: {"position": pos, "behind": last - pos}
                            for name, pos in self.runner.checkpoints().items()},
            "unfinished_builds": self.runner.builds(),
            "notes": self.log.notes(),
            **erasure.stats(self),
        }

    def erase(self, id: SessionId, *, reason: str | None = None,
              requested_by: str | None = None) -> erasure.Erasure:
        """Forget a session that has no user: destroy its data key (its
        text, title, items and state read as `[erased]` from then on),
        remove it from every view, and leave no plain copy in the file.
        Appends a `SessionDeleted` (if it was live) and one `SubjectErased`.
        A second erase writes nothing (`Erasure.already`).

        Raises:
            ErasureError: a plain file, or the session is a user's (its key
                is the user's: use `erase_user`). Nothing written.
            SessionNotFoundError: no such session.
        """
        return erasure.erase_session(self, to_uuid(id), reason=reason, requested_by=requested_by)

    def erase_user(self, user_id: str, tenant_id: str, *, reason: str | None = None,
                   requested_by: str | None = None) -> erasure.Erasure:
        """Forget a user of a tenant: every session of theirs and their user
        state, as `erase` does for one session (the same user id in another
        tenant is another person)."""
        return erasure.erase_user(self, user_id, tenant_id, reason=reason,
                                  requested_by=requested_by)

    def compact(self) -> dict[str, int]:
        """Give back the space of failed or killed rebuilds: drop the tables
        of builds whose process is gone, then `EventLog.vacuum()`.

        Returns:
            tables_dropped, bytes_before, bytes_after (file and WAL).
        """
        before = self.log.file_bytes()
        dropped = self.runner.drop_leftovers()
        self.log.vacuum()
        return {"tables_dropped": dropped, "bytes_before": before,
                "bytes_after": self.log.file_bytes()}

    def _forget(self) -> None:
        """The views were rewritten: what was cached about them starts over."""
        self.log.forget_cached()

    def close(self) -> None:
        """Close the database."""
        self.log.close()

    def __enter__(self) -> EventSourcedSessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
