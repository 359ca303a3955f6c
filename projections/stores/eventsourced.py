"""The event-sourced SessionStore: every write appends to the log and
updates the inline projections in the same transaction (SQLite or
PostgreSQL); reads come from the projection tables, replay from the log."""

from __future__ import annotations

import builtins
import contextlib
import os
import sqlite3
import urllib.parse
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from eventlog import (
    ConcurrencyError,
    EventLog,
    ItemAdded,
    ItemsRemoved,
    ReadOnlyError,
    SealedFileError,
    SessionCleared,
    SessionDeleted,
    StorageError,
    sealing,
)
from eventlog.backends.dialect import Db
from eventlog.backends.factory import is_url
from eventlog.checks import to_uuid

from .. import commands
from ..erasure import erase as erasure
from ..erasure.masterkey import MasterKeyProvider, default_provider
from ..erasure.sealed_views import ViewCipher
from ..erasure.sealer import Sealer
from ..errors import DuplicateKeyError, ErasureError, StaleViewWarning
from ..fold import fold_all
from ..models import NewItem, Session, SessionItem, SessionMessage, message_event
from ..runner import Projection, ProjectionRunner
from ..views import session_reads as reads
from ..views import sessions as views
from ..views.search import SearchProjection
from ..views.sessions import SessionsProjection
from ..views.tenants import TenantIndexProjection
from .cache import SessionCache
from .protocol import FullSessionStore, SessionId, TenantedSessionStore
from .tenancy import TenantSessionStore
from .unit import BulkWrite, UnitOfWork, cannot_write
from .upkeep import StoreUpkeep


class EventSourcedSessionStore(StoreUpkeep):
    """A SessionStore whose truth is an append-only event log in SQLite or
    PostgreSQL.

    Each successful create, create_with_user, add_message and delete appends
    exactly one event and updates the inline projections in the same
    transaction: a read right after a write sees it, and a crash never leaves
    views and log disagreeing. A delete is a tombstone: the session leaves
    the views, its events stay in the log.

    Its writes are here, over a unit of work (`stores.unit`); its reads
    (`stores.reads`) and upkeep (`stores.upkeep`) are its base classes.

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
            must be opened with it, a plain one without it. None: as the
            file says (an existing erasable SQLite file or PostgreSQL log is
            opened erasable, anything else plain), which is what the CLI and
            the framework adapters do.
        master_key: what wraps the data keys of an erasable store (see
            `projections.erasure.masterkey`); default: $SESSIONLOG_MASTER_KEY if set,
            else the key file `<path>.key`, created with the file (a
            PostgreSQL log: $SESSIONLOG_MASTER_KEY or this, else refused).
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, synchronous: str = "normal",
                 timeout: float = 30.0, projections: Iterable[Projection] = (),
                 source: str = "api", catch_up: bool = True, erasable: bool | None = False,
                 master_key: MasterKeyProvider | None = None) -> None:
        sealer, as_it_says = None, erasable is None
        if erasable is None:
            erasable = is_erasable_file(os.fspath(path))
        if erasable:
            sealer = Sealer(master_key or default_provider(os.fspath(path)))
        try:
            self.log = EventLog(path, synchronous=synchronous, timeout=timeout, sealer=sealer)
        except SealedFileError:
            if sealer is not None or not as_it_says or not is_url(os.fspath(path)):
                raise
            # erasable=None on an erasable PostgreSQL log: open it as it says
            sealer = Sealer(master_key or default_provider(os.fspath(path)))
            self.log = EventLog(path, synchronous=synchronous, timeout=timeout, sealer=sealer)
        self.cache = SessionCache()
        try:
            self.runner = ProjectionRunner(
                self.log,
                [SessionsProjection(), TenantIndexProjection(), SearchProjection(), *projections],
                # the views seal their personal fields too
                cipher=None if sealer is None else ViewCipher(sealer),
            )
            self._unit = UnitOfWork(self.log, self.runner, self.cache, source)
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
            if sealer is not None and erasure.purge_pending(self._unit):
                try:
                    erasure.purge(self._unit)  # an erasure's purge was cut short
                except (ErasureError, ReadOnlyError) as e:
                    warnings.warn(f"{e}", RuntimeWarning, stacklevel=2)

        except BaseException:
            self.log.close()
            raise

    @property
    def source(self) -> str:
        """The `source` recorded in each write's metadata."""
        return self._unit.source

    @source.setter
    def source(self, value: str) -> None:
        self._unit.source = value

    def bulk(self) -> AbstractContextManager[BulkWrite]:
        """One write transaction for many appends (import): yields a
        `BulkWrite` (`projections.stores.unit`). Everything commits at the
        end of the block, or nothing (an exception rolls it all back)."""
        return self._unit.bulk()

    # -- creating -----------------------------------------------------------

    def create_session(self, title: str | None = None, *, user_id: str | None = None,
                       tenant_id: str | None = None, key: str | None = None,
                       state: Mapping[str, Any] | None = None) -> Session:
        """Create a session: THE way (`create` and `create_with_user` are its
        aliases). Appends one `SessionCreated` (and one `StateChanged` when
        `state` is not empty), at version 1 (2).

        Raises:
            DuplicateKeyError: a live session of the tenant holds `key`.
            ValueError: a bad argument; nothing is written.
        """
        events = commands.created_events(title, user_id, tenant_id, key, state, datetime.now(UTC))
        unit = self._unit

        def write(db: Db) -> None:
            unit.sync(db)
            if key is not None:
                holder = views.find_by_key(db, key, tenant_id)
                if holder is not None:
                    raise DuplicateKeyError(key, tenant_id, uuid.UUID(holder))
            unit.commit(db, str(events[0].session_id), events,
                        unit.meta(user_id, tenant_id), 0, (user_id, tenant_id))
        unit.run(write)
        session = fold_all(events)
        assert session is not None
        return session

    def create(self, title: str | None = None) -> Session:
        """Create an empty session (the seed's; `create_session(title)`)."""
        return self.create_session(title)

    def create_with_user(self, title: str | None, user_id: str, tenant_id: str) -> Session:
        """Create an empty session owned by `user_id` of `tenant_id` (the
        seed's; `create_session` with both owners, which must be strings)."""
        commands.check_owner(user_id, tenant_id)
        return self.create_session(title, user_id=user_id, tenant_id=tenant_id)

    def get_or_create(self, key: str, *, title: str | None = None, user_id: str | None = None,
                      tenant_id: str | None = None) -> Session:
        """The live session of the tenant (None: no tenant) with this key, or
        a new one with it (one `SessionCreated`). Atomic across threads and
        processes: the look-up and the creation share one write transaction."""
        commands.check_key(key)
        commands.check_optional_owner(user_id, tenant_id)
        events = commands.created_events(title, user_id, tenant_id, key, None, datetime.now(UTC))
        unit = self._unit

        def write(db: Db) -> Session | None:
            unit.sync(db)
            holder = views.find_by_key(db, key, tenant_id)
            if holder is not None:
                return reads.read_session(db, holder)
            unit.commit(db, str(events[0].session_id), events,
                        unit.meta(user_id, tenant_id), 0, (user_id, tenant_id))
            return None
        found = unit.run(write)
        if found is not None:
            return found
        session = fold_all(events)
        assert session is not None
        return session

    def for_tenant(self, tenant_id: str) -> TenantSessionStore:
        """A SessionStore confined to `tenant_id` (see `TenantSessionStore`)."""
        return TenantSessionStore(self, tenant_id)

    # -- writing ------------------------------------------------------------

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
        events = [message_event(sid, m) for m in map(commands.check_message, messages)]
        commands.check_expected(expected_version)
        unit = self._unit

        def write(db: Db) -> None:
            unit.write(db, sid, unit.live_owners(db, sid), events, expected_version)
        unit.run(write)

    def delete(self, id: SessionId, *, expected_version: int | None = None) -> bool:
        """Delete a live session (one `SessionDeleted`); False, and nothing
        appended, if there is none. Its key is free again."""
        sid = to_uuid(id)
        commands.check_expected(expected_version)
        unit = self._unit

        def write(db: Db) -> bool:
            owners = unit.owners(db, sid)
            if owners is None:
                return False
            unit.write(db, sid, owners, [SessionDeleted(sid, datetime.now(UTC))],
                       expected_version, live=None)
            return True
        return unit.run(write)

    def add_items(self, id: SessionId, items: Sequence[NewItem | Mapping[str, Any]], *,
                  state_delta: Mapping[str, Any] | None = None,
                  user_state_delta: Mapping[str, Any] | None = None,
                  tenant_state_delta: Mapping[str, Any] | None = None,
                  expected_version: int | None = None, unique_ids: bool = False) -> int:
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
            DuplicateEventError: (`unique_ids` True) the session already
                holds an item with one of these ids (`event_id`: that id);
                nothing is written. Checked in the write, before
                `expected_version`, so an append retried after it succeeded
                (here or in another process) is told apart from a conflict.
        """
        sid = to_uuid(id)
        plan = commands.add_items_plan(
            sid, items, state_delta=state_delta, user_state_delta=user_state_delta,
            tenant_state_delta=tenant_state_delta, expected_version=expected_version)
        unit = self._unit

        def write(db: Db) -> int:
            owners = unit.live_owners(db, sid)
            events, scoped = plan(owners[0], owners[1])
            if unique_ids:
                ids = [e.item_id for e in events if isinstance(e, ItemAdded)]
                held = reads.held_item_ids(db, sid, ids)
                if held:
                    raise reads.duplicate_item(sid, next(i for i in ids if i in held))
            return unit.write(db, sid, owners, events, expected_version, scoped)
        return unit.run(write)

    def pop_items(self, id: SessionId, count: int = 1, *,
                  expected_version: int | None = None) -> builtins.list[SessionItem]:
        """Remove the last `count` items (fewer if there are fewer) with one
        `ItemsRemoved`; return them, oldest first. [] and no event when the
        session has no items."""
        sid = to_uuid(id)
        commands.check_count(count, 1)
        commands.check_expected(expected_version)
        unit = self._unit

        def write(db: Db) -> builtins.list[SessionItem]:
            owners = unit.live_owners(db, sid)
            popped = reads.last_items(db, sid, count)
            events = [ItemsRemoved(sid, len(popped), datetime.now(UTC))] if popped else []
            unit.write(db, sid, owners, events, expected_version)
            return popped
        return unit.run(write)

    def clear(self, id: SessionId, *, expected_version: int | None = None) -> None:
        """Remove every item: one `SessionCleared`, even when already empty."""
        sid = to_uuid(id)
        commands.check_expected(expected_version)
        unit = self._unit

        def write(db: Db) -> None:
            owners = unit.live_owners(db, sid)
            unit.write(db, sid, owners, [SessionCleared(sid, datetime.now(UTC))],
                       expected_version)
        unit.run(write)

    def replace_last(self, id: SessionId, count: int,
                     items: Sequence[NewItem | Mapping[str, Any]], *,
                     expected_version: int | None) -> int:
        """Replace the last `count` items with `items` in one append (one
        `ItemsRemoved` unless count is 0, then one `ItemAdded` each), if the
        session is still at `expected_version` (None: skip the check).
        Returns the new version.

        Raises:
            ConcurrencyError: the session is not at `expected_version`
                (checked first).
            ValueError: count is more than the session's items; nothing written.
        """
        sid = to_uuid(id)
        commands.check_count(count, 0)
        new = commands.to_new_items(items)
        commands.check_expected(expected_version)
        now = datetime.now(UTC)
        unit = self._unit

        def write(db: Db) -> int:
            owners = unit.live_owners(db, sid)
            held = views.item_count(db, sid)
            if count > held:
                version = views.stream_version(db, str(sid))
                if expected_version is not None and expected_version != version:
                    raise ConcurrencyError(str(sid), expected_version, version)  # as memory's
                raise ValueError(f"count {count} is more than the session's {held} items")
            events: builtins.list = [ItemsRemoved(sid, count, now)] if count else []
            return unit.write(db, sid, owners, [*events, *commands.item_events(sid, new, now)],
                              expected_version)
        return unit.run(write)

    def close(self) -> None:
        """Close the database."""
        self.close_search_copy()
        self.log.close()

    def __enter__(self) -> EventSourcedSessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# mypy checks the store against the whole common surface (see `protocol`).
_FULL: type[FullSessionStore] = EventSourcedSessionStore
_TENANTED: type[TenantedSessionStore] = EventSourcedSessionStore


def is_erasable_file(path: str) -> bool:
    """Whether `path` is an existing SQLite file made erasable (it holds the
    erasure marker table), read without changing it; False for anything else
    (a missing or unreadable file, ":memory:", a PostgreSQL URL)."""
    if is_url(path) or not os.path.isfile(path):
        return False
    try:
        uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return sealing.is_sealed(conn)
    except sqlite3.Error:
        return False  # the store then says what is wrong with the file
