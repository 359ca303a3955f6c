"""Where each projection stands: the `projection_checkpoints` table (the
position of the last event applied to each projection) and the derived
checkpoints of inline projections (`projection_derived`), read and written
here only."""

from __future__ import annotations

from eventlog.backends import schema as logschema
from eventlog.backends.dialect import Db

CHECKPOINTS = "projection_checkpoints"
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
DERIVED_DDL = f"CREATE TABLE IF NOT EXISTS {DERIVED} (name TEXT PRIMARY KEY)"
_SET_CHECKPOINT = (f"INSERT INTO {CHECKPOINTS} (name, position) VALUES (?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET position = excluded.position")


def has_table(db: Db, src: str, name: str) -> bool:
    """Whether the table exists (`src`: the schema prefix, as in `read_checkpoints`)."""
    if db.dialect.name == "sqlite":  # verify reads an attached schema (src)
        return db.execute(f"SELECT 1 FROM {src}sqlite_master WHERE name = ?",
                          (name,)).fetchone() is not None
    return name in db.dialect.tables(db)


def create_tables(db: Db) -> None:
    """Inside a write: the checkpoint tables, if missing."""
    db.execute(f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS} ("
               f"name TEXT PRIMARY KEY, position {db.dialect.int_type} NOT NULL)")
    db.execute(DERIVED_DDL)


def derived_position(db: Db, src: str = "") -> int:
    """Where a derived checkpoint stands: just before the first pending
    append, else the log's tail."""
    pending = None
    if has_table(db, src, logschema.PENDING):  # schema.pending_from, on either database
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
    if not has_table(db, src, DERIVED):
        return marks
    derived = [r[0] for r in db.execute(f"SELECT name FROM {src}{DERIVED}")]
    if derived:
        at = derived_position(db, src)
        for name in derived:
            if name in marks:
                marks[name] = max(marks[name], at)
    return marks


def has_checkpoint(db: Db, name: str) -> bool:
    """Whether the projection `name` has a checkpoint (the table must exist)."""
    return db.execute(f"SELECT 1 FROM {CHECKPOINTS} WHERE name = ?",
                      (name,)).fetchone() is not None


def set_checkpoint(db: Db, name: str, position: int) -> None:
    """Inside a write: an explicit checkpoint (no longer derived)."""
    db.execute(_SET_CHECKPOINT, (name, position))
    db.execute(f"DELETE FROM {DERIVED} WHERE name = ?", (name,))


class InlineSync:
    """The SQL with which a runner makes every checkpoint true for its writer
    before it appends (see `ProjectionRunner.sync_inline`), prepared once for
    its inline projections `names`."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        marks = ",".join("?" * len(names))
        # Anything to do before this runner's writer appends? Appends marked
        # pending, projections derived that this runner does not apply, or
        # its own not derived (new, rebuilt, or made explicit by another).
        self._check_sql = (
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

    def check(self, db: Db) -> tuple[bool, bool]:
        """(whether anything is to do, whether projections this runner does
        not apply are derived). Reads one row."""
        names = self.names
        pending, foreign, mine = db.execute(self._check_sql, names * 2).fetchone()
        return pending is not None or bool(foreign) or mine != len(names), bool(foreign)

    def make_foreign_explicit(self, db: Db) -> None:
        """The derived checkpoints of projections this runner does not apply
        become explicit, where they stand now."""
        at = derived_position(db)
        db.execute(self._explicit_sql, (at, at, *self.names))
        db.execute(self._undrive_sql, self.names)

    def derive_mine(self, db: Db) -> None:
        """This runner's inline projections (brought to the log's tail) become
        derived; the pending mark is cleared."""
        names = self.names
        if names:
            (tail,) = db.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            db.execute(self._floor_sql, (tail, *names))
            db.executemany(f"INSERT INTO {DERIVED} (name) VALUES (?) ON CONFLICT DO NOTHING",
                           [(n,) for n in names])
        logschema.clear_pending(db.conn)
