"""Session views folded from the event log, behind the SessionStore contract."""

from .erasure.erase import Erasure
from .errors import (
    DuplicateKeyError,
    ErasureError,
    ImportConflictError,
    ImportFileError,
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
from .stores.memory import InMemorySessionStore
from .stores.protocol import FullSessionStore, SessionStore
from .stores.tenancy import TenantSessionStore
from .stores.unit import BulkWrite
from .verify import Problem, VerifyReport, verify
from .views.search import SearchHit, SearchProjection
from .views.sessions import SessionsProjection
from .views.tenants import TenantIndexProjection

__all__ = [
    "BulkWrite",
    "DuplicateKeyError",
    "Erasure",
    "ErasureError",
    "EventSourcedSessionStore",
    "FullSessionStore",
    "ImportConflictError",
    "ImportFileError",
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
