"""The reads of the event-sourced store: sessions and summaries from the
views (through the read cache), a session's history and replay from the log,
and search. `EventSourcedSessionStore` is made of these and its writes.

Reads run in a read snapshot of the log (`EventLog.snapshot`); a view that
is behind is caught up first where it is lazy (search).
"""

from __future__ import annotations

import builtins
import sqlite3
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from eventlog import (
    ChainBrokenError,
    EventDecodeError,
    EventLog,
    ReadOnlyError,
    RecordedEvent,
    StorageError,
)
from eventlog.backends.dialect import Db
from eventlog.backends.factory import shown
from eventlog.checks import aware, bounded, to_uuid
from eventlog.recorded import COLUMNS

from .. import commands
from ..checkpoints import read_checkpoints
from ..errors import (
    ProjectionError,
    SessionDeletedError,
    SessionNotFoundError,
    SessionNotYetError,
    StaleViewWarning,
)
from ..fold import fold_all
from ..models import Session, SessionSummary
from ..runner import ProjectionRunner
from ..views import session_reads as reads
from ..views import sessions as views
from ..views.search import SearchHit, SearchProjection
from ..views.search import search as search_view
from ..views.search_copy import TemporarySearchIndex
from .cache import SessionCache
from .protocol import SessionId
from .unit import cannot_write

_R = TypeVar("_R")


class SessionReads:
    """The read methods of `EventSourcedSessionStore` (a base class of it:
    one class to the caller, one module per job here)."""

    log: EventLog
    runner: ProjectionRunner
    cache: SessionCache
    #: A read-only file's temporary search index (see `search`), once made.
    _search_copy: TemporarySearchIndex | None = None


    @contextmanager
    def _snapshot(self) -> Iterator[Db]:
        """`EventLog.snapshot` of this store's log, as a `Db`."""
        runner = self.runner
        with self.log.snapshot() as conn:
            yield runner.dialect.wrap(conn, runner.cipher)

    def _catch_up_for_reading(self, names: Iterable[str] | None = None, *,
                              setup: bool = False) -> bool:
        """Bring projections up to the log before a read, as far as it goes:
        on a read-only file or a full disk the views stay as they are (with a
        `StaleViewWarning`; writes will say why); at a broken or unreadable
        event they stop before it, so reads that do not need it still work
        (`verify` points at it, writes refuse). False when the file turned
        out to be read-only (opened before its mount was, say)."""
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
            return not isinstance(e, ReadOnlyError)
        except ProjectionError as e:
            warnings.warn(f"{self.log.path}: {e}", RuntimeWarning, stacklevel=3)
        return True

    def _temporary_search_index(self) -> TemporarySearchIndex | None:
        """A read-only file's temporary search index (see `search`), made on
        the first search that needs it; None while the file's own search
        view is there, current and at the log's end."""
        index = self._search_copy
        if index is not None:
            return index
        projection = self.runner.projections.get("search")
        if not isinstance(projection, SearchProjection):
            return None
        with self._snapshot() as db:
            if self.runner.ready(db, projection) and \
                    read_checkpoints(db).get("search", 0) >= self.log.last_position():
                return None
        try:
            index = self._search_copy = TemporarySearchIndex(
                self.log, projection, self.runner.dialect, self.runner.cipher)
        except (sqlite3.Error, ProjectionError) as e:  # no temporary directory, or no search key
            warnings.warn(StaleViewWarning(
                f"the search view is not up to date and no temporary index could be made "
                f"({e}); it is searched as it is"), stacklevel=3)
            return None
        return index

    def close_search_copy(self) -> None:
        """Drop the temporary search index, if one was made (on close)."""
        index = self._search_copy
        if index is not None:
            self._search_copy = None
            index.close()

    # -- the views ----------------------------------------------------------

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
            found = reads.read_session_rows(db, sid, last_n)
        if found is None:
            return None
        row, rows = found
        if last_n is not None:
            return reads.session_from_rows(row, rows)
        lender = self.cache.reuse(sid, rows)
        session = reads.session_from_rows(
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
        return self._page(lambda db, anchor: reads.read_sessions(db, tenant_id, limit, anchor),
                          limit, before)

    def _page(self, read: Callable[[Db, uuid.UUID | None], _R], limit: int | None,
              before: SessionId | None) -> _R:
        """A page read in one snapshot, after the live session `before` (keyset
        pagination): the limit checked, an unknown `before` one clear error."""
        commands.check_limit("limit", limit)
        if limit is not None:
            bounded(limit, "limit")
        anchor = None if before is None else to_uuid(before)
        with self._snapshot() as db:
            try:
                return read(db, anchor)
            except LookupError:
                raise SessionNotFoundError(str(before)) from None

    def keyed_page(self, tenant_id: str | None, limit: int, after: tuple[str, int] | None,
                   ) -> tuple[builtins.list[tuple[tuple[str, int], Session]], int]:
        """A page of live sessions (of a tenant) as `list` orders them, after
        the key `after` (its session may be gone since), each with its key
        (created_at as stored, position of its SessionCreated); and the log's
        last position. One short snapshot: what a long read (`export`) takes
        page by page, so that no read transaction stays open between pages."""
        commands.check_limit("limit", limit)
        with self._snapshot() as db:
            sessions = reads.read_sessions(db, tenant_id, limit, after)
            keys = reads.session_keys(db, [s.id for s in sessions])
            head = self.log.last_position()
        return [(keys[str(s.id)], s) for s in sessions], head

    def list_summaries(self, *, user_id: str | None = None, tenant_id: str | None = None,
                       limit: int | None = None,
                       before: SessionId | None = None) -> builtins.list[SessionSummary]:
        """Live sessions without their items, newest first, of a tenant and a
        user when given, paged as `list`."""
        commands.check_optional_owner(user_id, tenant_id)
        return self._page(
            lambda db, anchor: reads.read_summaries(db, tenant_id, user_id, limit, anchor),
            limit, before)

    def find_keyed(self, key: str,
                   tenant_id: str | None = None) -> builtins.list[SessionSummary]:
        """Summaries of the live sessions with this key in any tenant (or only
        `tenant_id`'s), newest first: the key as stored, or `<user id>/key`
        for the session's own user, the form of per-user keys (ADK's session
        ids). What a person who knows a key but not its tenant looks up."""
        commands.check_key(key)
        commands.check_optional_owner(None, tenant_id)
        with self._snapshot() as db:
            return reads.read_keyed(db, key, tenant_id)

    def get_by_key(self, key: str, tenant_id: str | None = None) -> Session | None:
        """The live session of the tenant (None: no tenant) with this key."""
        commands.check_key(key)
        commands.check_optional_owner(None, tenant_id)
        with self._snapshot() as db:
            holder = views.find_by_key(db, key, tenant_id)
            return None if holder is None else reads.read_session(db, holder)

    def get_state(self, tenant_id: str, user_id: str | None = None) -> dict[str, Any]:
        """The tenant's (app) state, or with `user_id` that user's state."""
        commands.check_scope(tenant_id, user_id)
        with self._snapshot() as db:
            return views.read_scope_state(db, tenant_id, user_id)

    def tenant_of(self, id: SessionId) -> str | None:
        """The tenant of the live session; None when it has none, or there is
        no such session (what `TenantSessionStore` confines by)."""
        with self._snapshot() as db:
            row = views.tenant_of(db, to_uuid(id))
        return None if row is None else row[0]

    def created_for(self, id: SessionId) -> str | None:
        """The tenant a session (live or deleted) was created for, from its
        first event alone; None when it had none, or the log has no such
        stream (what `TenantSessionStore.history` confines by)."""
        with self._snapshot() as db:
            row = db.execute(
                f"SELECT {db.dialect.json_text('data', 'tenant_id')} FROM events "
                "WHERE stream_id = ? AND version = 1 AND type = 'SessionCreated'",
                (str(to_uuid(id)),)).fetchone()
        return None if row is None else row[0]

    # -- the log ------------------------------------------------------------

    def history(self, id: SessionId) -> builtins.list[RecordedEvent]:
        """The session's whole stream, deleted sessions included; [] if unknown."""
        return self.log.read_stream(str(to_uuid(id)))

    def history_batches(self, id: SessionId, *,
                        batch_size: int = 1000) -> Iterator[builtins.list[RecordedEvent]]:
        """The session's stream as `history` gives it, a list of up to
        `batch_size` events at a time: memory does not grow with the stream.
        Each batch is its own read (the stream only grows, so none is missed)."""
        sid = str(to_uuid(id))
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        last = 0
        while True:
            with self.log.reader() as conn:
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM events WHERE stream_id = ? AND version > ? "
                    "ORDER BY version LIMIT ?", (sid, last, batch_size)).fetchall()
            if not rows:
                return
            yield self.log.reveal([RecordedEvent.from_row(r) for r in rows])
            last = rows[-1][3]  # version (`COLUMNS`)

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
               syntax: str = "plain", offset: int = 0,
               progress: Callable[[int], Any] | None = None) -> builtins.list[SearchHit]:
        """Messages of live sessions matching `query`, best first, with a
        snippet (matches in [brackets]).

        The query is plain text by default: every word must match (the last
        one also as a prefix), punctuation only separates words (`R-88`,
        `e-mail`, `c++` work), and CJK text matches any substring. With
        `syntax="fts5"` it is an FTS5 query ("a phrase", prefix*, AND/OR/NOT).
        At most `fulltext.MAX_QUERY_CHARS` characters and
        `fulltext.MAX_QUERY_TERMS` words. `offset` skips that many of the
        best hits (page n of `limit` hits starts at (n - 1) * limit).

        The search projection is lazy: it is caught up here, so it sees every
        write, and writes never pay for it (on a full disk it is searched as
        it is, with a `StaleViewWarning`). On a SQLite file that cannot be
        written (read-only file or mount) whose search view is missing,
        behind the log or of an older layout, a temporary index is built from
        the log instead (`views.search_copy`; nothing is written to the
        file), kept while the store is open and caught up on each search;
        `progress` is called with the number of events it takes in.

        Raises:
            ValueError: an empty, too long or (fts5) malformed query.
            ProjectionError: the search view has an older layout and the file
                cannot be written to upgrade it.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, not {limit!r}")
        bounded(limit, "limit")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be a non-negative integer, not {offset!r}")
        bounded(offset, "offset")
        sqlite, read_only = self.runner.dialect.name == "sqlite", self.log.read_only
        if not read_only:
            read_only = not self._catch_up_for_reading(["search"], setup=True)
        if sqlite and read_only:
            index = self._temporary_search_index()
            if index is not None:
                index.catch_up(self.log, progress)
                return index.search(query, tenant_id, limit, syntax, offset)
        projection = self.runner.projections["search"]
        with self._snapshot() as db:
            if not self.runner.ready(db, projection):
                raise ProjectionError(
                    "the search view has an older layout; it is rebuilt when the file is "
                    "opened with write access (or run `sessionlog rebuild search`)")
            return search_view(db, query, tenant_id, limit, syntax, offset)
