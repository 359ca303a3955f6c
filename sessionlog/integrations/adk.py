"""Google ADK: `EventSourcedSessionService`, a `BaseSessionService` whose
sessions, events and state live in a sessionlog event log.

Mapping (the adapter only translates; atomicity is the store's):

- ADK `app_name` -> the session's `tenant_id`; `user_id` -> its `user_id`.
- ADK session id -> the session's key, `<user_id>/<session_id>` ("%" and "/"
  in the user id percent-escaped): ADK session ids are unique per app *and*
  user, store keys per tenant.
- Each ADK event -> one `ItemAdded`: `data` is the event's JSON form (it reads
  back equal through `Event.model_validate_json`), `role` is "user" for the
  user's events, "tool" for function responses, "assistant" otherwise, and
  `text` is what `sessionlog history` and `show` print: the text parts, or
  "function_call name(args)" / "function_response name".
- The event's state delta is written in the same transaction: plain keys to
  the session state, "app:" keys to the tenant (app) state, "user:" keys to the
  user's state. "temp:" keys reach the caller's session object only and are
  never stored, as ADK's own services do.
- Idempotent appends: an event whose id the stored session already holds is
  not written again (the store checks it in its write transaction, before the
  version: `add_items(unique_ids=True)`), and `append_event` returns it
  leaving the caller's session as it is, as ADK's InMemorySessionService does.
- Stale sessions: every session this service returns carries the stored
  session's id and version; `append_event` writes with that
  `expected_version` and raises ADK's `StaleSessionError` if another writer
  got there first. A session object without it (built by hand) is checked the
  way `DatabaseSessionService` checks one: by update time and last event id.

Every method runs its SQLite work in a worker thread, and the store opens
lazily on the first call (in that thread), so the event loop never blocks.
"""

from __future__ import annotations

import copy
import os
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Self

from eventlog import ConcurrencyError, DuplicateEventError
from projections import DuplicateKeyError, NewItem, SessionNotFoundError

try:
    from google.adk.errors.already_exists_error import AlreadyExistsError
    from google.adk.events.event import Event
    from google.adk.sessions.base_session_service import (
        BaseSessionService,
        GetSessionConfig,
        ListSessionsResponse,
    )
    from google.adk.sessions.session import Session
    from google.adk.sessions.state import State
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sessionlog.integrations.adk needs Google ADK: pip install 'sessionlog[adk]'"
    ) from e
try:
    # private: ADK exports StaleSessionError only from this private module; its own
    # DatabaseSessionService raises it, and callers catch that class.
    from google.adk.errors._stale_session_error import StaleSessionError
except ImportError:  # pragma: no cover - ADK before StaleSessionError raised ValueError
    StaleSessionError = ValueError  # type: ignore[assignment,misc]
try:
    from google.adk.errors.session_not_found_error import (
        SessionNotFoundError as AdkSessionNotFoundError,
    )
except ImportError:  # pragma: no cover - older ADK raised ValueError
    AdkSessionNotFoundError = ValueError  # type: ignore[assignment,misc]

from .adk_events import (
    event_role,
    event_text,
    filter_events,
    json_state,
    last_update_time,
    split_state,
    to_event,
)
from .bridge import in_thread
from .opening import check_path, open_path

__all__ = ["EventSourcedSessionService"]

STALE_MESSAGE = (
    "The session has been modified in storage since it was loaded. "
    "Please reload the session before appending more events."
)
_MARKER = "sessionlog:"  # prefix of the revision this service stamps on a Session


def session_key(user_id: str, session_id: str) -> str:
    """The store key of an ADK session: `<user_id>/<session_id>`, with "%" and
    "/" in the user id escaped so no two (user, session) pairs share a key."""
    return f"{user_id.replace('%', '%25').replace('/', '%2F')}/{session_id}"


def _adk_session_id(key: str | None, user_id: str | None) -> str | None:
    """The ADK session id behind a store key, or None if the key is not ours."""
    if key is None or user_id is None:
        return None
    prefix = session_key(user_id, "")
    return key[len(prefix):] if key.startswith(prefix) else None


def _marker(stored_id: uuid.UUID, version: int) -> str:
    return f"{_MARKER}{stored_id}@{version}"


def _parse_marker(marker: object) -> tuple[uuid.UUID, int] | None:
    if not isinstance(marker, str) or not marker.startswith(_MARKER):
        return None
    sid, _, version = marker.removeprefix(_MARKER).partition("@")
    try:
        return uuid.UUID(sid), int(version)
    except ValueError:
        return None


class EventSourcedSessionService(BaseSessionService):
    """An ADK session service on a sessionlog store: a drop-in for
    `DatabaseSessionService` / `SqliteSessionService`.

    Args:
        db_path: the SQLite file (created on first use) or ":memory:".
        store: an open store to use instead (an `EventSourcedSessionStore` or
            `InMemorySessionStore`), so several services share one; the
            service then never closes it.

    Example:
        service = EventSourcedSessionService("sessions.db")
        runner = Runner(agent=agent, app_name="shop", session_service=service)
    """

    def __init__(self, db_path: str | os.PathLike[str] = ":memory:", *, store: Any = None) -> None:
        self._db_path = check_path(db_path) if store is None else os.fspath(db_path)
        self._store = store
        self._owns_store = store is None
        self._open_lock = threading.Lock()

    @property
    def store(self) -> Any:
        """The underlying store, opened on first use (in the calling thread)."""
        store = self._store
        if store is None:
            with self._open_lock:
                if self._store is None:
                    self._store = open_path(self._db_path, "adk")
                store = self._store
        return store

    async def close(self) -> None:
        """Close the store if this service opened it (a later call reopens it)."""
        await in_thread(self._close)

    def _close(self) -> None:
        with self._open_lock:
            store, self._store = self._store, None if self._owns_store else self._store
            if self._owns_store and store is not None:
                store.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sessions -----------------------------------------------------------

    async def create_session(self, *, app_name: str, user_id: str,
                             state: dict[str, Any] | None = None,
                             session_id: str | None = None) -> Session:
        """Create a session; app:/user: keys of `state` go to app/user state.

        Raises:
            AlreadyExistsError: the user already has a live session `session_id`.
        """
        session_id = (session_id.strip() if session_id else None) or str(uuid.uuid4())
        scopes = {k: json_state(v) for k, v in split_state(state or {}).items()}
        return await in_thread(self._create, app_name, user_id, session_id, scopes)

    def _create(self, app_name: str, user_id: str, session_id: str,
                scopes: dict[str, dict[str, Any]]) -> Session:
        store = self.store
        try:
            stored = store.create_session(
                session_id, user_id=user_id, tenant_id=app_name,
                key=session_key(user_id, session_id), state=scopes["session"] or None,
            )
        except DuplicateKeyError:
            raise AlreadyExistsError(f"Session with id {session_id} already exists.") from None
        version = stored.version
        if scopes["app"] or scopes["user"]:
            version = store.add_items(
                stored.id, [], user_state_delta=scopes["user"] or None,
                tenant_state_delta=scopes["app"] or None, expected_version=version,
            )
        return self._adk_session(store, stored, session_id, [], version)

    def _adk_session(self, store: Any, stored: Any, session_id: str, events: list[Event],
                     version: int, user_states: dict[str, dict] | None = None,
                     app_state: dict | None = None) -> Session:
        """The ADK view of a stored session: app and user state merged in as
        "app:" / "user:" keys, as `DatabaseSessionService` does."""
        app_name, user_id = stored.tenant_id, stored.user_id
        state = copy.deepcopy(stored.state)
        if app_state is None:
            app_state = store.get_state(app_name)
        if user_states is None or user_id not in user_states:
            user_state = store.get_state(app_name, user_id)
            if user_states is not None:
                user_states[user_id] = user_state
        else:
            user_state = user_states[user_id]
        state.update({State.APP_PREFIX + k: copy.deepcopy(v) for k, v in app_state.items()})
        state.update({State.USER_PREFIX + k: copy.deepcopy(v) for k, v in user_state.items()})
        session = Session(id=session_id, app_name=app_name, user_id=user_id, state=state,
                          events=events, last_update_time=last_update_time(stored))
        # private: Session's PrivateAttr for a storage revision, which ADK's own services
        # stamp the same way; there is no public setter, and it travels with the object.
        session._storage_update_marker = _marker(stored.id, version)
        return session

    async def get_session(self, *, app_name: str, user_id: str, session_id: str,
                          config: GetSessionConfig | None = None) -> Session | None:
        """The session with its events (filtered by `config`), or None."""
        session_id = session_id.strip() if session_id else session_id
        return await in_thread(self._get, app_name, user_id, session_id, config)

    def _find(self, store: Any, app_name: str, user_id: str, session_id: str) -> Any:
        stored = store.get_by_key(session_key(user_id, session_id), tenant_id=app_name)
        return stored if stored is not None and stored.user_id == user_id else None

    def _get(self, app_name: str, user_id: str, session_id: str,
             config: GetSessionConfig | None) -> Session | None:
        store = self.store
        stored = self._find(store, app_name, user_id, session_id)
        if stored is None:
            return None
        events = filter_events([to_event(item) for item in stored.items], config)
        return self._adk_session(store, stored, session_id, events, stored.version)

    async def list_sessions(self, *, app_name: str,
                            user_id: str | None = None) -> ListSessionsResponse:
        """The app's sessions (one user's, or everyone's), oldest update first,
        without their events."""
        return await in_thread(self._list, app_name, user_id)

    def _list(self, app_name: str, user_id: str | None) -> ListSessionsResponse:
        store = self.store
        app_state = store.get_state(app_name)
        user_states: dict[str, dict] = {}
        sessions = []
        for summary in store.list_summaries(tenant_id=app_name, user_id=user_id):
            session_id = _adk_session_id(summary.key, summary.user_id)
            if session_id is None:
                continue  # a session not made through ADK
            stored = store.get(summary.id, last_n=1)  # state and last update, not the events
            if stored is None:
                continue  # deleted since the listing
            sessions.append(self._adk_session(store, stored, session_id, [], stored.version,
                                              user_states, app_state))
        sessions.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsResponse(sessions=sessions)

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        """Delete the session (its events stay in the log); no-op if missing."""
        session_id = session_id.strip() if session_id else session_id
        await in_thread(self._delete, app_name, user_id, session_id)

    def _delete(self, app_name: str, user_id: str, session_id: str) -> None:
        store = self.store
        stored = self._find(store, app_name, user_id, session_id)
        if stored is not None:
            store.delete(stored.id)

    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        """The user's state in the app, keys without the "user:" prefix."""
        return await in_thread(lambda: dict(self.store.get_state(app_name, user_id)))

    # -- events -------------------------------------------------------------

    async def append_event(self, session: Session, event: Event) -> Event:
        """Store `event` and its state delta in one transaction, then apply
        them to `session`.

        Raises:
            StaleSessionError: the stored session changed since `session` was read.
            SessionNotFoundError: (ADK's) no such session.
        """
        if event.partial:
            return event
        delta = event.actions.state_delta if event.actions else None
        if delta:  # temp: keys live on the caller's object only
            session.state.update({k: v for k, v in delta.items()
                                  if k.startswith(State.TEMP_PREFIX)})
            event.actions.state_delta = {k: v for k, v in delta.items()
                                         if not k.startswith(State.TEMP_PREFIX)}
        data = event.model_dump(mode="json", exclude_none=True)
        item = NewItem(role=event_role(event), data=data, text=event_text(event),
                       id=event.id or None,
                       timestamp=datetime.fromtimestamp(event.timestamp, UTC))
        scopes = split_state(data.get("actions", {}).get("state_delta") or {})
        marker = await in_thread(self._append, session, item, scopes)
        if marker is None:  # the session already holds this event id: a no-op
            return event
        session._storage_update_marker = marker  # private: as in _adk_session
        session.last_update_time = event.timestamp
        if event.actions and event.actions.state_delta:
            session.state.update(event.actions.state_delta)
        session.events.append(event)
        return event

    def _append(self, session: Session, item: NewItem,
                scopes: dict[str, dict[str, Any]]) -> str | None:
        """Write the event's item and deltas; the session's new revision, or
        None when it already holds an item with the event's id (an append
        retried, here or by another writer: ADK's services keep one copy)."""
        store = self.store
        # private: the revision _adk_session stamped (no public getter in ADK)
        revision = _parse_marker(getattr(session, "_storage_update_marker", None))
        if revision is None:  # a session object we did not hand out
            stored = self._find(store, session.app_name, session.user_id, session.id)
            if stored is None:
                raise AdkSessionNotFoundError(f"Session {session.id} not found.")
            if item.id is not None and any(i.id == item.id for i in stored.items):
                return None
            last = stored.items[-1].id if stored.items else None
            mine = session.events[-1].id if session.events else None
            if last_update_time(stored) > session.last_update_time and last != mine:
                raise StaleSessionError(STALE_MESSAGE)
            revision = stored.id, stored.version
        stored_id, expected = revision
        try:
            version = store.add_items(
                stored_id, [item], state_delta=scopes["session"] or None,
                user_state_delta=scopes["user"] or None,
                tenant_state_delta=scopes["app"] or None, expected_version=expected,
                unique_ids=True,
            )
        except DuplicateEventError:
            return None
        except ConcurrencyError:
            raise StaleSessionError(STALE_MESSAGE) from None
        except SessionNotFoundError:  # deleted since it was read; maybe re-created
            if self._find(store, session.app_name, session.user_id, session.id) is not None:
                raise StaleSessionError(STALE_MESSAGE) from None
            raise AdkSessionNotFoundError(f"Session {session.id} not found.") from None
        return _marker(stored_id, version)
