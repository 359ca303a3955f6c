"""Session views folded from the event log, behind the SessionStore contract."""

from .errors import ProjectionError, SessionNotFoundError
from .eventsourced import EventSourcedSessionStore
from .fold import fold, fold_all
from .models import Session, SessionMessage, SessionRole, format_session_context
from .runner import Projection, ProjectionRunner
from .search import SearchHit, SearchProjection
from .serde import (
    session_from_dict,
    session_from_json,
    session_to_dict,
    session_to_json,
)
from .store import InMemorySessionStore, SessionStore
from .tenancy import TenantSessionStore
from .verify import Problem, VerifyReport, verify
from .views import SessionsProjection, TenantIndexProjection

__all__ = [
    "EventSourcedSessionStore",
    "InMemorySessionStore",
    "Problem",
    "Projection",
    "ProjectionError",
    "ProjectionRunner",
    "SearchHit",
    "SearchProjection",
    "Session",
    "SessionMessage",
    "SessionNotFoundError",
    "SessionRole",
    "SessionStore",
    "SessionsProjection",
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
