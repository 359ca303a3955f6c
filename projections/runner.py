"""Projections as a mechanism: the `Projection` protocol and the runner that
keeps one checkpoint per projection and applies events inline, on catch-up
and on rebuild, always through the projection's own `apply`.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import ClassVar, Protocol, runtime_checkable

from eventlog import EventLog, RecordedEvent

from .errors import ProjectionError

CHECKPOINTS = "projection_checkpoints"
_REBUILD_MARK = "__rebuild_"

#: Called with the number of events just applied.
Progress = Callable[[int], None]


@runtime_checkable
class Projection(Protocol):
    """A read model built from the log.

    Attributes:
        name: unique, used for its checkpoint and on the command line.
        tables: the logical names of the tables it owns.
        inline: True to be updated in each write's own transaction; False to be
            caught up lazily, just before it is read.
    """

    name: str
    tables: ClassVar[tuple[str, ...]]
    inline: bool

    def create(self, conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
        """Create empty tables, named `names[logical]`. Explicit index names
        must include the table's name, which is unique per build."""
        ...

    def apply(self, conn: sqlite3.Connection, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        """Apply events (one, or a batch in log order) to the tables
        `names[logical]`. Runs inside the caller's transaction."""
        ...


def _identity(p: Projection) -> dict[str, str]:
    return {t: t for t in p.tables}


class ProjectionRunner:
    """Keeps projections in step with the log, one checkpoint each (the
    position of the last event applied), in the `projection_checkpoints`
    table."""

    def __init__(self, log: EventLog, projections: Iterable[Projection]) -> None:
        self.log = log
        self.projections: dict[str, Projection] = {}
        for p in projections:
            if not isinstance(p, Projection):
                raise ProjectionError(f"{p!r} does not implement the Projection protocol")
            if p.name in self.projections:
                raise ProjectionError(f"two projections are named {p.name!r}")
            self.projections[p.name] = p
        self._inline = [p for p in self.projections.values() if p.inline]
        marks = ",".join("?" * len(self._inline))
        self._inline_names = tuple(p.name for p in self._inline)
        # Is any inline projection behind the log? (A new one, or events
        # appended without the store.)
        self._sync_sql = (
            f"SELECT (SELECT max(position) FROM events) > min(position) FROM {CHECKPOINTS} "
            f"WHERE name IN ({marks})"
        )
        self._advance_sql = f"UPDATE {CHECKPOINTS} SET position = ? WHERE name IN ({marks})"
        self._names = {p.name: _identity(p) for p in self.projections.values()}

    def setup(self) -> None:
        """Create the checkpoint table and any projection whose tables are
        missing (at checkpoint 0, so catch-up fills it). Writes nothing when
        all are there."""
        with self.log.snapshot() as conn:
            existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            known = (dict(conn.execute(f"SELECT name, position FROM {CHECKPOINTS}").fetchall())
                     if CHECKPOINTS in existing else {})
        if all(p.name in known and all(t in existing for t in p.tables)
               for p in self.projections.values()):
            return
        with self.log.transaction() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS} ("
                "name TEXT PRIMARY KEY, position INTEGER NOT NULL)"
            )
            existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            known = dict(conn.execute(f"SELECT name, position FROM {CHECKPOINTS}").fetchall())
            for p in self.projections.values():
                if p.name in known and all(t in existing for t in p.tables):
                    continue
                for t in p.tables:
                    conn.execute(f"DROP TABLE IF EXISTS [{t}]")
                p.create(conn, self._names[p.name])
                conn.execute(
                    f"INSERT OR REPLACE INTO {CHECKPOINTS} (name, position) VALUES (?, 0)",
                    (p.name,),
                )

    def select(self, names: Iterable[str] | None = None) -> list[Projection]:
        """The named projections (all when `names` is empty or None)."""
        names = list(names or ())
        unknown = [n for n in names if n not in self.projections]
        if unknown:
            raise ProjectionError(
                f"unknown projection {unknown[0]!r} (known: {', '.join(self.projections)})"
            )
        return [self.projections[n] for n in names] if names else list(self.projections.values())

    def checkpoints(self) -> dict[str, int]:
        """Each projection's checkpoint."""
        with self.log.snapshot() as conn:
            return dict(conn.execute(f"SELECT name, position FROM {CHECKPOINTS}").fetchall())

    # -- inline -------------------------------------------------------------

    def sync_inline(self, conn: sqlite3.Connection) -> None:
        """Inside a write transaction: apply to the inline projections any
        events they have not seen (appended behind the store's back)."""
        if not self._inline:
            return
        (behind,) = conn.execute(self._sync_sql, self._inline_names).fetchone()
        if behind is None or behind:
            for p in self._inline:
                self.advance(conn, p)

    def apply_inline(self, conn: sqlite3.Connection, recorded: Sequence[RecordedEvent]) -> None:
        """Inside the write transaction that appended `recorded`: apply them to
        every inline projection and move their checkpoints."""
        for p in self._inline:
            p.apply(conn, recorded, self._names[p.name])
        conn.execute(self._advance_sql, (recorded[-1].position, *self._inline_names))

    # -- catch-up and rebuild -----------------------------------------------

    def advance(self, conn: sqlite3.Connection, p: Projection, limit: int | None = None) -> int:
        """Inside a write transaction: apply up to `limit` (default: all)
        events after p's checkpoint to its tables; return how many."""
        names = self._names[p.name]
        (checkpoint,) = conn.execute(
            f"SELECT position FROM {CHECKPOINTS} WHERE name = ?", (p.name,)
        ).fetchone()
        done = 0
        for batch in self.log.read_batches(checkpoint + 1, batch_size=limit or 5000):
            p.apply(conn, batch, names)
            conn.execute(f"UPDATE {CHECKPOINTS} SET position = ? WHERE name = ?",
                         (batch[-1].position, p.name))
            done += len(batch)
            if limit:
                break
        return done

    def catch_up(self, names: Iterable[str] | None = None, *, batch_size: int = 5000,
                 progress: Progress | None = None) -> dict[str, int]:
        """Apply the events after each projection's checkpoint, a batch per
        transaction. Returns the number of events applied per projection."""
        applied = {}
        chosen = self.select(names)
        last = self.log.last_position()
        marks = self.checkpoints()
        for p in chosen:
            applied[p.name] = 0
            if marks.get(p.name, -1) >= last:
                continue  # up to date: no write transaction at all
            while True:
                with self.log.transaction() as conn:
                    done = self.advance(conn, p, batch_size)
                if not done:
                    break
                applied[p.name] += done
                if progress:
                    progress(done)
        return applied

    def rebuild(self, names: Iterable[str] | None = None, *, batch_size: int = 5000,
                progress: Progress | None = None) -> int:
        """Refold the log from position 0 into fresh tables, then swap them in.

        Batches keep memory flat and let writers run in between; the writes
        that landed meanwhile are applied in the swap transaction, so readers
        never see a half-built view and nothing is missed. Returns the number
        of events folded.
        """
        def swap(conn, chosen, fresh, last):
            for p in chosen:
                for t in p.tables:
                    conn.execute(f"DROP TABLE IF EXISTS [{t}]")
                    conn.execute(f"ALTER TABLE [{fresh[p.name][t]}] RENAME TO [{t}]")
                conn.execute(
                    f"INSERT OR REPLACE INTO {CHECKPOINTS} (name, position) VALUES (?, ?)",
                    (p.name, last),
                )

        return self.build_fresh(names, swap, batch_size=batch_size, progress=progress)[0]

    def build_fresh(self, names: Iterable[str] | None, finish: Callable, *,
                    batch_size: int = 5000, progress: Progress | None = None) -> tuple[int, object]:
        """Fold the whole log into fresh copies of the named projections'
        tables, then call `finish(conn, projections, fresh_names, last_position)`
        inside the final write transaction, once every event up to
        `last_position` is in them. Fresh tables that `finish` leaves are
        dropped. Returns (events folded, what `finish` returned).
        """
        chosen = self.select(names)
        token = secrets.token_hex(4)
        fresh = {p.name: {t: f"{t}{_REBUILD_MARK}{token}" for t in p.tables} for p in chosen}
        with self.log.transaction() as conn:
            self._drop_leftovers(conn)
            for p in chosen:
                p.create(conn, fresh[p.name])
        end = self.log.last_position()
        last = done = 0
        try:
            for batch in self.log.read_batches(1, batch_size=batch_size, to_position=end):
                with self.log.transaction() as conn:
                    for p in chosen:
                        p.apply(conn, batch, fresh[p.name])
                last = batch[-1].position
                done += len(batch)
                if progress:
                    progress(len(batch))
            with self.log.transaction() as conn:
                for batch in self.log.read_batches(last + 1, batch_size=batch_size):
                    for p in chosen:
                        p.apply(conn, batch, fresh[p.name])
                    last = batch[-1].position
                    done += len(batch)
                result = finish(conn, chosen, fresh, last)
                self._drop_leftovers(conn)
        except BaseException:
            try:
                with self.log.transaction() as conn:
                    self._drop_leftovers(conn)
            except Exception:
                pass
            raise
        return done, result

    def _drop_leftovers(self, conn: sqlite3.Connection) -> None:
        """Drop the half-built tables of an interrupted rebuild."""
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND instr(name, ?) > 0 "
            "ORDER BY sql LIKE 'CREATE VIRTUAL%' DESC",  # an FTS table drops its shadows
            (_REBUILD_MARK,),
        ).fetchall()
        for (name,) in rows:
            conn.execute(f"DROP TABLE IF EXISTS [{name}]")
