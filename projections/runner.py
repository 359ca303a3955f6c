"""Projections as a mechanism: the `Projection` protocol and the runner that
keeps one checkpoint per projection and applies events inline, on catch-up
and on rebuild, always through the projection's own `apply`.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import ClassVar, Protocol, runtime_checkable

from eventlog import ChainBrokenError, EventLog, RecordedEvent
from eventlog import chain as chainlib
from eventlog.backends import schema as logschema
from eventlog.backends.dialect import Db

from .errors import ProjectionError

CHECKPOINTS = "projection_checkpoints"
_REBUILD_MARK = "__rebuild_"
#: Who is building which fresh tables: a build's tables are dropped by
#: another process only once their owner process is gone.
BUILDS = "projection_builds"
_SET_CHECKPOINT = (f"INSERT INTO {CHECKPOINTS} (name, position) VALUES (?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET position = excluded.position")
#: Inline projections whose checkpoint is derived rather than written on
#: every commit. The runner that took up the pending appends last brought
#: them to the log's tail, and every write since applied them in its own
#: transaction (a writer that does not apply one makes its checkpoint
#: explicit again first, see `ProjectionRunner.sync_inline`), so they stand
#: at the log's tail, or just before the first append the log marked pending
#: (`eventlog.backends.schema.PENDING`). Their stored position is then only a floor.
#: A projection not listed here (and every one in a file this table is not
#: in, such as a layout-1 file) has exactly its stored checkpoint.
DERIVED = "projection_derived"
_DERIVED_DDL = f"CREATE TABLE IF NOT EXISTS {DERIVED} (name TEXT PRIMARY KEY)"
_BUILDS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {BUILDS} (token TEXT PRIMARY KEY, pid INTEGER NOT NULL, "
    "started TEXT, host TEXT NOT NULL, created_at TEXT NOT NULL)"
)


def _start_time(pid: int) -> str | None:
    """When the process started (Linux: clock ticks after boot), to tell it
    from a later process that reuses its id; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None, host: str) -> bool:
    """Whether the process that owns a build still runs (True when this
    host cannot tell: another machine, or no way to ask)."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return started == _start_time(pid)
    if started is not None and os.path.isdir("/proc/self"):
        return _start_time(pid) == started
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True

#: Called with the number of events just applied.
Progress = Callable[[int], None]


def _has_table(db: Db, src: str, name: str) -> bool:
    if db.dialect.name == "sqlite":  # verify reads an attached schema (src)
        return db.execute(f"SELECT 1 FROM {src}sqlite_master WHERE name = ?",
                          (name,)).fetchone() is not None
    return name in db.dialect.tables(db)


def _derived_position(db: Db, src: str = "") -> int:
    """Where a derived checkpoint stands: just before the first pending
    append, else the log's tail."""
    pending = None
    if _has_table(db, src, logschema.PENDING):  # schema.pending_from, on either database
        row = db.execute(f"SELECT from_position FROM {src}{logschema.PENDING}").fetchone()
        pending = None if row is None else row[0]
    if pending is not None:
        return pending - 1
    return db.execute(f"SELECT coalesce(max(position), 0) FROM {src}events").fetchone()[0]


def read_checkpoints(db: Db, src: str = "") -> dict[str, int]:
    """Each projection's checkpoint (the position of the last event applied
    to it), derived ones included (see `DERIVED`), as `db` sees the file.
    `src`: the schema prefix of the store's tables ('"log".' in verify)."""
    marks = dict(db.execute(f"SELECT name, position FROM {src}{CHECKPOINTS}").fetchall())
    if not _has_table(db, src, DERIVED):
        return marks
    derived = [r[0] for r in db.execute(f"SELECT name FROM {src}{DERIVED}")]
    if derived:
        at = _derived_position(db, src)
        for name in derived:
            if name in marks:
                marks[name] = max(marks[name], at)
    return marks


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

    def create(self, db: Db, names: Mapping[str, str]) -> None:
        """Create empty tables, named `names[logical]` (quote them with
        `db.q`). Explicit index names must include the table's name, which
        is unique per build."""
        ...

    def apply(self, db: Db, events: Sequence[RecordedEvent],
              names: Mapping[str, str]) -> None:
        """Apply events (one, or a batch in log order) to the tables
        `names[logical]`. Runs inside the caller's transaction; `db.execute`
        takes `?` placeholders on every database, `db.dialect` says which."""
        ...


def _identity(p: Projection) -> dict[str, str]:
    return {t: t for t in p.tables}


class ProjectionRunner:
    """Keeps projections in step with the log, one checkpoint each (the
    position of the last event applied), in the `projection_checkpoints`
    table; inline projections derive theirs from the log (see `DERIVED`),
    so a write does not update it."""

    def __init__(self, log: EventLog, projections: Iterable[Projection]) -> None:
        self.log = log
        #: The SQL dialect of the log's database.
        self.dialect = log.backend.dialect
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
        # Anything to do before this runner's writer appends? Appends marked
        # pending, projections derived that this runner does not apply, or
        # its own not derived (new, rebuilt, or made explicit by another).
        self._sync_sql = (
            f"SELECT (SELECT from_position FROM {logschema.PENDING}), "
            f"(SELECT count(*) FROM {DERIVED} WHERE name NOT IN ({marks})), "
            f"(SELECT count(*) FROM {DERIVED} WHERE name IN ({marks}))"
        )
        self._explicit_sql = (
            f"UPDATE {CHECKPOINTS} SET position = CASE WHEN position > ? THEN position ELSE ? END "
            f"WHERE name IN (SELECT name FROM {DERIVED} WHERE name NOT IN ({marks}))"
        )
        self._undrive_sql = f"DELETE FROM {DERIVED} WHERE name NOT IN ({marks})"
        self._floor_sql = f"UPDATE {CHECKPOINTS} SET position = ? WHERE name IN ({marks})"
        self._names = {p.name: _identity(p) for p in self.projections.values()}
        # Whether `projection_derived` was seen (nothing drops it): then a
        # sync need not run its DDL. Files older than derived checkpoints
        # get the table in their first write, not when opened.
        self._derived_table = False

    def setup(self) -> None:
        """Create the checkpoint table and any projection whose tables are
        missing, or whose `is_current(db, names)` (optional) says they have
        an older layout: dropped and made anew at checkpoint 0, so catch-up
        refills them. Writes nothing when all are there and current."""
        with self.snapshot() as db:
            self._derived_table = _has_table(db, "", DERIVED)
            if all(self._ready(db, p) for p in self.projections.values()):
                return
        with self.transaction() as db:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS} ("
                f"name TEXT PRIMARY KEY, position {self.dialect.int_type} NOT NULL)"
            )
            db.execute(_DERIVED_DDL)
            for p in self.projections.values():
                if self._ready(db, p):
                    continue
                for t in (*p.tables, *getattr(p, "replaces", ())):
                    db.execute(f"DROP TABLE IF EXISTS {db.q(t)}")
                p.create(db, self._names[p.name])
                self._set_checkpoint(db, p.name, 0)
        self._derived_table = True

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """The log's write transaction, as a `Db`."""
        with self.log.transaction() as conn:
            yield self.dialect.wrap(conn)

    @contextmanager
    def snapshot(self) -> Iterator[Db]:
        """The log's read snapshot, as a `Db`."""
        with self.log.snapshot() as conn:
            yield self.dialect.wrap(conn)

    def _ready(self, db: Db, p: Projection) -> bool:
        """Whether p has a checkpoint and all its tables, in its current layout."""
        tables = self.dialect.tables(db)
        if CHECKPOINTS not in tables or not all(t in tables for t in p.tables):
            return False
        if db.execute(f"SELECT 1 FROM {CHECKPOINTS} WHERE name = ?", (p.name,)).fetchone() is None:
            return False
        is_current = getattr(p, "is_current", None)
        return is_current is None or is_current(db, self._names[p.name])

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
        with self.snapshot() as db:
            return read_checkpoints(db)

    @staticmethod
    def _set_checkpoint(db: Db, name: str, position: int) -> None:
        """Inside a write: an explicit checkpoint (no longer derived)."""
        db.execute(_SET_CHECKPOINT, (name, position))
        db.execute(f"DELETE FROM {DERIVED} WHERE name = ?", (name,))

    # -- inline -------------------------------------------------------------

    def sync_inline(self, db: Db) -> None:
        """Inside a write transaction, before this runner's writer appends
        (and applies with `apply_inline`): make every checkpoint true for it.

        Projections another runner derives but this one does not apply get
        an explicit checkpoint (where they stand now: they will miss what
        this writer appends); this runner's inline projections take up
        whatever they have not seen (events appended without projection,
        or all of them for a new one) and become derived; the pending mark
        is cleared. Reads one row and writes nothing when all is in step.
        """
        if not self._derived_table:
            db.execute(_DERIVED_DDL)
        names = self._inline_names
        pending, foreign, mine = db.execute(self._sync_sql, names * 2).fetchone()
        if pending is None and not foreign and mine == len(names):
            return
        if foreign:
            at = _derived_position(db)
            db.execute(self._explicit_sql, (at, at, *names))
            db.execute(self._undrive_sql, names)
        for p in self._inline:
            self.advance(db, p)
        if names:
            (tail,) = db.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            db.execute(self._floor_sql, (tail, *names))
            db.executemany(f"INSERT INTO {DERIVED} (name) VALUES (?) ON CONFLICT DO NOTHING",
                           [(n,) for n in names])
        logschema.clear_pending(db.conn)

    def apply_inline(self, db: Db, recorded: Sequence[RecordedEvent]) -> None:
        """Inside the write transaction that appended `recorded`, after
        `sync_inline`: apply them to every inline projection. Their
        checkpoints are derived from the log: nothing else is written."""
        for p in self._inline:
            p.apply(db, recorded, self._names[p.name])

    # -- catch-up and rebuild -----------------------------------------------

    def advance(self, db: Db, p: Projection, limit: int | None = None) -> int:
        """Inside a write transaction: apply up to `limit` (default: all)
        events after p's checkpoint to its tables; return how many."""
        names = self._names[p.name]
        db.execute(_DERIVED_DDL)
        checkpoint = read_checkpoints(db)[p.name]
        done = 0
        walk = self.log.walk_after(checkpoint)
        for batch in self.log.read_batches(checkpoint + 1, batch_size=limit or 5000, chain=walk):
            try:
                p.apply(db, batch, names)
            except self.dialect.integrity_errors as e:
                raise ProjectionError(
                    f"projection {p.name} cannot apply the events after its checkpoint "
                    f"{checkpoint} ({e}): its tables and checkpoint disagree; "
                    f"`sessionlog rebuild {p.name}` refolds it from the log") from e
            self._set_checkpoint(db, p.name, batch[-1].position)
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
                with self.transaction() as db:
                    done = self.advance(db, p, batch_size)
                if not done:
                    break
                applied[p.name] += done
                if progress:
                    progress(done)
        return applied

    def rebuild(self, names: Iterable[str] | None = None, *, batch_size: int = 5000,
                progress: Progress | None = None, force: bool = False) -> int:
        """Refold the log from position 0 into fresh tables, then swap them in.

        Batches keep memory flat and let writers run in between; the writes
        that landed meanwhile are applied in the swap transaction, so readers
        never see a half-built view and nothing is missed. The hash chain is
        checked as the log is folded. Returns the number of events folded.

        Args:
            force: fold a log whose chain is broken anyway (rows that cannot
                be read are left out), and record that in the log's notes.

        Raises:
            ChainBrokenError: the chain is broken and `force` is False; the
                views are left as they were.
        """
        def swap(db: Db, chosen, fresh, last):
            for p in chosen:
                for t in p.tables:
                    self.dialect.drop_table(db, t)
                    db.execute(f"ALTER TABLE {db.q(fresh[p.name][t])} RENAME TO {db.q(t)}")
                self._set_checkpoint(db, p.name, last)

        return self.build_fresh(names, swap, batch_size=batch_size, progress=progress,
                                force=force)[0]

    def build_fresh(self, names: Iterable[str] | None, finish: Callable, *,
                    batch_size: int = 5000, progress: Progress | None = None,
                    force: bool = False) -> tuple[int, object]:
        """Fold the whole log into fresh copies of the named projections'
        tables, checking the hash chain on the way, then call
        `finish(db, projections, fresh_names, last_position)` inside the
        final write transaction, once every event up to `last_position` is in
        them. Fresh tables that `finish` leaves are dropped. Returns (events
        folded, what `finish` returned).

        The build's tables are owned by this process (a row in
        `projection_builds`): other builds, and stores opening the file, drop
        them only once this process is gone.
        """
        chosen = self.select(names)
        token = secrets.token_hex(4)
        fresh = {p.name: {t: f"{t}{_REBUILD_MARK}{token}" for t in p.tables} for p in chosen}
        with self.transaction() as db:
            self._ensure_checkpoints(db)
            self._drop_leftovers(db)
            db.execute(
                f"INSERT INTO {BUILDS} (token, pid, started, host, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token, os.getpid(), _start_time(os.getpid()), socket.gethostname(),
                 datetime.now(UTC).isoformat()),
            )
            for p in chosen:
                p.create(db, fresh[p.name])
        end = self.log.last_position()
        last = done = 0
        walk = self.log.walk_after(0, strict=not force)
        try:
            for batch in self.log.read_batches(1, batch_size=batch_size, to_position=end,
                                               chain=walk):
                with self.transaction() as db:
                    for p in chosen:
                        p.apply(db, batch, fresh[p.name])
                last = walk.count
                done += len(batch)
                if progress:
                    progress(len(batch))
            with self.transaction() as db:
                for batch in self.log.read_batches(last + 1, batch_size=batch_size, chain=walk):
                    for p in chosen:
                        p.apply(db, batch, fresh[p.name])
                    last = walk.count
                    done += len(batch)
                if walk.problems:
                    pos, what = walk.problems[0]
                    chainlib.add_note(db.conn, chainlib.REBUILD_FORCED, pos, (
                        f"rebuild --force of {', '.join(p.name for p in chosen)} over a broken "
                        f"chain ({what}; {len(walk.problems)} bad row(s))"))
                result = finish(db, chosen, fresh, last)
                self._drop_leftovers(db, token)
        except ChainBrokenError as e:
            self._abandon(token)
            self.log.record_break(e.position, f"rebuild: {e.reason}")
            raise
        except BaseException:
            self._abandon(token)
            raise
        return done, result

    def _abandon(self, token: str) -> None:
        try:
            with self.transaction() as db:
                self._drop_leftovers(db, token)
        except Exception:
            pass

    def _ensure_checkpoints(self, db: Db) -> None:
        db.execute(_BUILDS_DDL)
        db.execute(f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS} ("
                   f"name TEXT PRIMARY KEY, position {self.dialect.int_type} NOT NULL)")
        db.execute(_DERIVED_DDL)

    def builds(self) -> list[dict]:
        """The fresh tables of builds that have not finished: each with its
        owner process, whether that still runs, and the bytes its tables use
        (None where the database cannot tell)."""
        with self.snapshot() as db:
            return self._builds(db)

    def _builds(self, db: Db) -> list[dict]:
        names = self.dialect.build_tables(db, _REBUILD_MARK)
        if not names:
            return []
        owners: dict[str, tuple[int, str | None, str]] = {}
        if BUILDS in self.dialect.tables(db):
            owners = {r[0]: (r[1], r[2], r[3]) for r in db.execute(
                f"SELECT token, pid, started, host FROM {BUILDS}")}
        found: dict[str, dict] = {}
        for name in names:
            token = name.split(_REBUILD_MARK, 1)[1][:8]
            owner = owners.get(token)
            b = found.setdefault(token, {
                "token": token, "tables": [], "pid": owner[0] if owner else None,
                "alive": owner is not None and _alive(*owner), "bytes": 0})
            b["tables"].append(name)
            size = self.dialect.table_bytes(db, name)
            if size is None:
                b["bytes"] = None
            elif b["bytes"] is not None:
                b["bytes"] += size
        return list(found.values())

    def drop_leftovers(self) -> int:
        """Drop the tables of builds whose process is gone (a killed rebuild);
        returns how many tables. Writes nothing when there are none."""
        with self.snapshot() as db:
            if not any(not b["alive"] for b in self._builds(db)):
                return 0
        with self.transaction() as db:
            return self._drop_leftovers(db)

    def _drop_leftovers(self, db: Db, token: str | None = None) -> int:
        """Drop the half-built tables of the build `token`, or of every build
        whose owner process is gone."""
        dropped = 0
        for b in self._builds(db):
            if b["token"] == token or (token is None and not b["alive"]):
                for name in b["tables"]:
                    db.execute(f"DROP TABLE IF EXISTS {db.q(name)}")
                    dropped += 1
        if token is not None or dropped:
            tables = self.dialect.tables(db)
            if BUILDS in tables:
                live = {n for n in tables if _REBUILD_MARK in n}
                for (t,) in db.execute(f"SELECT token FROM {BUILDS}").fetchall():
                    if t == token or not any(_REBUILD_MARK + t in n for n in live):
                        db.execute(f"DELETE FROM {BUILDS} WHERE token = ?", (t,))
        return dropped
