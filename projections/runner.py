"""Projections as a mechanism: the `Projection` protocol and the runner that
keeps one checkpoint per projection and applies events inline, on catch-up
and on rebuild, always through the projection's own `apply`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol, runtime_checkable

from eventlog import ChainBrokenError, EventLog, RecordedEvent
from eventlog import chain as chainlib
from eventlog.backends.dialect import Db

from . import builds as buildlib
from .checkpoints import (
    CHECKPOINTS,
    DERIVED,
    DERIVED_DDL,
    InlineSync,
    create_tables,
    has_checkpoint,
    has_table,
    read_checkpoints,
    set_checkpoint,
)
from .errors import ProjectionError

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
    table; inline projections derive theirs from the log (see
    `checkpoints.DERIVED`), so a write does not update it.

    Args:
        cipher: seals and opens the views' personal fields (an erasable
            store's `ViewCipher`); handed to every projection as `db.cipher`.
    """

    def __init__(self, log: EventLog, projections: Iterable[Projection], *,
                 cipher: Any = None) -> None:
        self.log = log
        #: The SQL dialect of the log's database.
        self.dialect = log.backend.dialect
        #: What the views seal their personal fields with (None: plain text).
        self.cipher = cipher
        self.projections: dict[str, Projection] = {}
        for p in projections:
            if not isinstance(p, Projection):
                raise ProjectionError(f"{p!r} does not implement the Projection protocol")
            if p.name in self.projections:
                raise ProjectionError(f"two projections are named {p.name!r}")
            self.projections[p.name] = p
        self._inline = [p for p in self.projections.values() if p.inline]
        self._sync = InlineSync(tuple(p.name for p in self._inline))
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
            self._derived_table = has_table(db, "", DERIVED)
            if all(self.ready(db, p) for p in self.projections.values()):
                return
        with self.transaction() as db:
            create_tables(db)
            for p in self.projections.values():
                if self.ready(db, p):
                    continue
                for t in (*p.tables, *getattr(p, "replaces", ())):
                    db.execute(f"DROP TABLE IF EXISTS {db.q(t)}")
                p.create(db, self._names[p.name])
                set_checkpoint(db, p.name, 0)
        self._derived_table = True

    def wrap(self, conn: Any) -> Db:
        """A connection of the log as a `Db` of this runner's dialect and cipher."""
        return self.dialect.wrap(conn, self.cipher)

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """The log's write transaction, as a `Db`."""
        with self.log.transaction() as conn:
            yield self.dialect.wrap(conn, self.cipher)

    @contextmanager
    def snapshot(self) -> Iterator[Db]:
        """The log's read snapshot, as a `Db`."""
        with self.log.snapshot() as conn:
            yield self.dialect.wrap(conn, self.cipher)

    def ready(self, db: Db, p: Projection) -> bool:
        """Whether p has a checkpoint and all its tables, in its current
        layout (else `setup` makes them anew, and p cannot be read yet)."""
        tables = self.dialect.tables(db)
        if CHECKPOINTS not in tables or not all(t in tables for t in p.tables):
            return False
        if not has_checkpoint(db, p.name):
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
            db.execute(DERIVED_DDL)
        todo, foreign = self._sync.check(db)
        if not todo:
            return
        if foreign:
            self._sync.make_foreign_explicit(db)
        for p in self._inline:
            self.advance(db, p)
        self._sync.derive_mine(db)

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
        db.execute(DERIVED_DDL)
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
            set_checkpoint(db, p.name, batch[-1].position)
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
                set_checkpoint(db, p.name, last)

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
        with self.transaction() as db:
            create_tables(db)
            buildlib.drop_leftovers(db)
            token = buildlib.start(db)
            fresh = {p.name: buildlib.fresh_names(p.tables, token) for p in chosen}
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
                buildlib.drop_leftovers(db, token)
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
                buildlib.drop_leftovers(db, token)
        except Exception:
            pass

    def builds(self) -> list[dict]:
        """The fresh tables of builds that have not finished: each with its
        owner process, whether that still runs, and the bytes its tables use
        (None where the database cannot tell)."""
        with self.snapshot() as db:
            return buildlib.unfinished(db)

    def drop_leftovers(self) -> int:
        """Drop the tables of builds whose process is gone (a killed rebuild);
        returns how many tables. Writes nothing when there are none."""
        with self.snapshot() as db:
            if not any(not b["alive"] for b in buildlib.unfinished(db)):
                return 0
        with self.transaction() as db:
            return buildlib.drop_leftovers(db)
