"""Where a log is stored: the `Backend` seam, and the SQLite and PostgreSQL
backends behind it (`open_backend` picks one by the target's form)."""

from .base import Backend
from .factory import backend_over, open_backend
from .urls import is_url, shown

__all__ = ["Backend", "backend_over", "is_url", "open_backend", "shown"]
