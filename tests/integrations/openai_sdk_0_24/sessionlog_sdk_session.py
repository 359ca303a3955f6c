"""The one change made to the SDK's test files: `SQLiteSession` is this class,
our `EventSourcedSession` under the SDK's name and signature, on the backend
the test runs on (this folder's conftest: a SQLite file, PostgreSQL, an
erasable SQLite file).

Where SQLiteSession opens `db_path`, this opens the same database of the
test's backend: the same file, or on PostgreSQL one schema per `db_path`
(two sessions on one path share it, as they share the SQLite file). A
`":memory:"` session (SQLiteSession's default: a database of its own) gets a
new file or a new schema of its own. `sessions_table` / `messages_table` are
SQLiteSession's table names; an event log has no such tables, so they are
taken and ignored.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from helpers import store_on
from pg import Target
from sessionlog.integrations.openai_agents import EventSourcedSession

__all__ = ["Backend", "SQLiteSession", "use"]


class Backend:
    """The databases one test's sessions open: `kind` of `pg.TARGETS`, new
    files under `folder`, new PostgreSQL schemas from `new_schema()`; every
    store opened here is closed by `close()`."""

    def __init__(self, kind: str, folder: Path, new_schema: Any = None) -> None:
        self.kind, self.folder, self.new_schema = kind, folder, new_schema
        self.places: dict[str, Target] = {}
        self.stores: list[Any] = []
        self._count = itertools.count()

    def place(self, db_path: str | os.PathLike[str]) -> Target:
        """The database of this backend that stands for SQLiteSession's `db_path`."""
        path = os.fspath(db_path)
        if path != ":memory:" and path in self.places:
            return self.places[path]
        if self.kind == "postgres":
            where = Target(self.new_schema(), self.kind)
        elif path == ":memory:":
            where = Target(str(self.folder / f"memory-{next(self._count)}.db"), self.kind)
        else:
            where = Target(path, self.kind)
        if path != ":memory:":
            self.places[path] = where
        return where

    def open(self, db_path: str | os.PathLike[str]) -> Any:
        store = store_on(self.place(db_path), source="openai-agents")
        self.stores.append(store)
        return store

    def close(self) -> None:
        for store in reversed(self.stores):
            store.close()
        self.stores.clear()


_active: Backend | None = None


def use(backend: Backend | None) -> None:
    """Make `backend` the one new sessions open on (None: none, between tests)."""
    global _active
    _active = backend


class SQLiteSession(EventSourcedSession):
    """`EventSourcedSession` with SQLiteSession's constructor, on the test's backend."""

    def __init__(self, session_id: str, db_path: str | os.PathLike[str] = ":memory:",
                 sessions_table: str = "agent_sessions", messages_table: str = "agent_messages",
                 session_settings: Any = None) -> None:
        if _active is None:
            raise RuntimeError("no sessionlog backend: run these tests through their conftest")
        super().__init__(session_id, store=_active.open(db_path),
                         session_settings=session_settings)
