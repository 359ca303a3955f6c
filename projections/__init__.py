"""Session views folded from the event log, behind the SessionStore contract."""

from .errors import (
    DuplicateKeyError,
    ErasureError,
    MasterKeyError,
    ProjectionError,
    SessionDeletedError,
    SessionNotFoundError,
    SessionNotYetError,
    StaleViewWarning,
)
from .fold import fold, fold_all
from .models import (
    NewItem,
    Session,
    SessionItem,
    SessionMessage,
    SessionRole,
    SessionSummary,
    format_session_context,
)
from .runner import Projection, ProjectionRunner
from .serde import (
    session_from_dict,
    session_from_json,
    session_to_dict,
    session_to_json,
)
from .stores.eventsourced import EventSourcedSessionStore
from .stores.memory import InMemorySessionStore, SessionStore
from .stores.tenancy import TenantSessionStore
from .verify import Problem, VerifyReport, verify
from .views.search import SearchHit, SearchProjection
from .views.sessions import SessionsProjection, TenantIndexProjection

__all__ = [
    "DuplicateKeyError",
    "ErasureError",
    "EventSourcedSessionStore",
    "InMemorySessionStore",
    "MasterKeyError",
    "NewItem",
    "Problem",
    "Projection",
    "ProjectionError",
    "ProjectionRunner",
    "SearchHit",
    "SearchProjection",
    "Session",
    "SessionDeletedError",
    "SessionItem",
    "SessionMessage",
    "SessionNotFoundError",
    "SessionNotYetError",
    "SessionRole",
    "SessionStore",
    "SessionSummary",
    "SessionsProjection",
    "StaleViewWarning",
    "TenantIndexProjection",
    "TenantSessionStore",
    "VerifyReport",
    "fold",
    "fold_all",
    "format_session_context",
    "session_from_dict",
    "session_from_json",
    "session_to_dict",
    "session_to_json",
    "verify",
]
