"""The PostgreSQL backend (psycopg 3): it stores, reads and locks;
`EventLog` does the rest, exactly as on SQLite.

Writers serialise on one row lock, taken as the first statement of every
write transaction (`UPDATE log_head ... RETURNING`, at READ COMMITTED): the
tail a writer reads after it is the committed one, so positions are gapless
in commit order and the chain links as on SQLite. The UNIQUE constraints stay
as backstops. The tables are in `pgschema`, the connection wrapper in
`pgconnection`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ConnectionLostError, LayoutError, ReadOnlyError, StorageError
from .base import Backend
from .connection import SYNCHRONOUS
from .dialect import PostgresDialect, dialect_named
from .pgconnection import Listener, PgConnection, convert, psycopg  # (says which extra is missing)
from .pgschema import (
    BEGIN_AND_LOCK,
    CHANNEL,
    DDL,
    LAYOUT,
    MARK_PENDING,
    TRIGGER_NAMES,
    TRIGGERS,
    VERSIONS,
)
from .pool import ReaderPool
from .schema import DB_VERSION
from .urls import shown

__all__ = ["PgConnection", "PostgresBackend", "TRIGGER_NAMES", "VERSIONS", "convert", "redact"]


def redact(url: str) -> str:
    """The URL with its password hidden (for messages)."""
    return shown(url)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PostgresBackend:
    """Storage, reads and the writer lock of a log in a PostgreSQL schema
    (the URL's `search_path`, else the server's default).

    Args:
        url: a libpq URL (`postgresql://user@host/db`,
            `postgresql:///db?host=/socket/dir`; pick a schema with
            `options=-csearch_path%3Dname`).
        synchronous: accepted for symmetry with SQLite ("normal"/"full");
            a commit returns once the server has flushed it, as the server
            is configured (`synchronous_commit`).
        timeout: seconds to wait for another writer's lock (`lock_timeout`)
            and for a connection.
    """

    name = "postgres"
    versions_sql = VERSIONS
    group_commit = False
    read_only = False
    current = True

    @property
    def dialect(self) -> PostgresDialect:
        """The SQL that views write on this database (`eventlog.backends.dialect`)."""
        return dialect_named("postgres")  # type: ignore[return-value]

    def __init__(self, url: str, synchronous: str = "normal", timeout: float = 30.0) -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, not {synchronous!r}")
        self.url, self.shown, self.timeout = url, redact(url), timeout
        self.lock = threading.RLock()
        self.shared = False
        self.pool: ReaderPool[PgConnection] = ReaderPool(self.connect)
        self._last_w: int | None = None  # log_head.writes after our last write transaction
        self._top = 0  # the log's last position, as the current write transaction's lock read it
        self._dv = 0
        self.conn = self.connect()
        try:
            self.schema = self._setup()
        except BaseException:
            self.conn.close()
            raise

    @classmethod
    def over(cls, conn: PgConnection, url: str) -> PostgresBackend:
        """A backend reading through a connection the caller opened, owns,
        and holds a transaction on. Not for writes."""
        backend = cls.__new__(cls)
        backend.url, backend.shown, backend.timeout = url, redact(url), 30.0
        backend.lock, backend.shared = threading.RLock(), True
        backend.pool = ReaderPool(backend.connect)
        backend._last_w, backend._dv, backend.conn = None, 0, conn
        backend.read_only = True
        backend.schema = ""
        return backend

    def connect(self) -> PgConnection:
        """A new connection to the log's database, in autocommit mode (BEGIN
        and COMMIT are issued explicitly)."""
        try:
            raw = psycopg.connect(self.url, autocommit=True,
                                  connect_timeout=max(1, round(self.timeout)))
            raw.execute(f"SET lock_timeout = {int(self.timeout * 1000)}")
        except psycopg.Error as e:
            raise self.translate(e) or e from e
        return PgConnection(raw)

    def _setup(self) -> str:
        """Create the log's tables if missing (once, under a lock keyed by
        the schema, so processes opening a new log at once do not race);
        refuse a newer layout. Returns the schema."""
        conn = self.conn
        try:
            (schema,) = conn.execute("SELECT current_schema()").fetchone()
            if schema is None:
                (path,) = conn.execute("SHOW search_path").fetchone()
                raise StorageError(f"{self.shown}: no schema of search_path ({path}) exists; "
                                   "create it first (CREATE SCHEMA name)")
            if self._layout(conn) == DB_VERSION:
                return schema
            conn.execute("BEGIN")
            try:
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('sessionlog:' || ?))",
                             (schema,))
                self._layout(conn)
                for statement in DDL:
                    conn.raw.execute(statement)
                self.install_triggers(conn)
                conn.raw.execute("INSERT INTO log_meta (key, value) VALUES ('layout', %s) "
                                 "ON CONFLICT (key) DO NOTHING", (str(DB_VERSION),))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return schema
        except psycopg.Error as e:
            raise self.translate(e) or e from e

    def _layout(self, conn: PgConnection) -> int | None:
        (exists,) = conn.execute("SELECT to_regclass('log_meta') IS NOT NULL").fetchone()
        if not exists:
            return None
        row = conn.execute(LAYOUT).fetchone()
        found = int(row[0]) if row else None
        if found is not None and found > DB_VERSION:
            raise LayoutError(self.shown, found, DB_VERSION)
        return found

    # -- errors -------------------------------------------------------------

    def translate(self, exc: BaseException) -> Exception | None:
        """The error to raise for a psycopg error, by its SQLSTATE (None: not
        one to translate; integrity errors pass as they are)."""
        if not isinstance(exc, psycopg.Error) or isinstance(exc, psycopg.IntegrityError):
            return None
        state = exc.sqlstate or ""
        where = self.shown
        if state == "53100":
            full = StorageError(f"{where}: the database server's disk is full; nothing was written")
            full.errno = 28  # ENOSPC, as for any OSError
            return full
        if state == "25006":
            return ReadOnlyError(f"{where}: the database is read-only; nothing was written")
        if state in ("55P03", "57014", "40P01", "40001"):
            return StorageError(f"{where}: database stayed locked by another writer; try again")
        if state.startswith("22"):
            return ValueError(f"text PostgreSQL cannot store ({_first_line(exc)}); "
                              "nothing was written")
        if not state and not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return None  # a client-side mistake (ours): keep its traceback
        if not state or state.startswith("08") or state.startswith("57P"):
            # a new connection may succeed, except on a connection lent to us (`over`)
            lost = StorageError if self.shared else ConnectionLostError
            return lost(f"{where}: cannot reach the PostgreSQL server ({_first_line(exc)})")
        return StorageError(f"{where}: {_first_line(exc)}")

    @staticmethod
    def is_unique_violation(exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.UniqueViolation)

    # -- writes -------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[PgConnection]:
        """The write connection inside a READ COMMITTED transaction whose
        first statement took the writer lock: committed on success, rolled
        back on exception. Driver errors leave untranslated."""
        with self.lock:
            conn = self._writer()
            try:
                # One round trip: BEGIN and the lock, sent as one simple query.
                cur = conn.raw.execute(BEGIN_AND_LOCK)
                row = cur.fetchone() if cur.nextset() else None
                if row is None:
                    raise psycopg.InterfaceError("no result for the writers' lock")
                w, self._top = int(row[0]), int(row[1] or 0)
                if self._last_w is None or w != self._last_w + 1:
                    self._dv = w  # another writer came in between
                self._last_w = w
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                self._last_w = None  # our increment is rolled back: judge afresh
                self._rollback(conn)
                raise

    def _writer(self) -> PgConnection:
        """The write connection, reopened if the last one broke."""
        if self.conn.broken:
            self.conn.close()
            self.conn = self.connect()
        return self.conn

    @staticmethod
    def _rollback(conn: PgConnection) -> None:
        try:
            if not conn.raw.closed and conn.in_transaction:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            conn.close()  # broken: reopened on next use

    def is_writer(self, conn: object) -> bool:
        return conn is self.conn

    def data_version(self) -> int:
        """Inside a write transaction: a number that moves whenever another
        writer committed since this object's last write transaction (from
        `log_head.writes`, which every write transaction bumps)."""
        return self._dv

    def log_top(self) -> int | None:
        """Inside a write transaction: the log's last position as the
        writers' lock read it. `data_version` counts only the writers that
        take the lock; a row another program inserted without it moves this."""
        return self._top

    def peek_data_version(self) -> int | None:
        """`data_version` outside a transaction, or None when a write of
        this object is under way."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            (w,) = self._writer().execute("SELECT writes FROM log_head").fetchone()
            return self._dv if w == self._last_w else w
        except psycopg.Error:
            return None
        finally:
            self.lock.release()

    def migrate(self, conn: PgConnection) -> str | None:
        """Nothing to do: the tables are set up when the log opens."""
        return None

    def mark_pending(self, conn: PgConnection, position: int) -> None:
        conn.execute(MARK_PENDING, (position,))

    def missing_triggers(self, conn: PgConnection) -> list[str]:
        have = {r[0] for r in conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('events') "
            "AND NOT tgisinternal")}
        return [t for t in TRIGGER_NAMES if t not in have]

    def install_triggers(self, conn: PgConnection) -> None:
        (exists,) = conn.execute("SELECT to_regclass('events') IS NOT NULL").fetchone()
        if exists:
            for statement in TRIGGERS:
                conn.raw.execute(statement)

    # -- reads --------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[PgConnection]:
        """A REPEATABLE READ, read-only transaction: one snapshot for every
        query inside."""
        with self.reader() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            except BaseException:
                self._rollback(conn)
                raise
            conn.execute("COMMIT")

    @contextmanager
    def reader(self) -> Iterator[PgConnection]:
        """A pooled connection in autocommit mode, for reads outside any
        transaction."""
        if self.shared:
            with self.lock:
                yield self.conn
            return
        with self.pool.lend(lambda c: not c.broken and not c.in_transaction) as conn:
            yield conn

    @property
    def default_connection(self) -> PgConnection:
        """The connection `EventLog.connection` gives outside a transaction:
        the write connection, where each statement commits on its own."""
        return self._writer()

    @contextmanager
    def watcher(self) -> Iterator[Listener]:
        """Something to wait on for commits (see `EventLog.subscribe`): a
        connection of its own that LISTENs on the log's channel, which a
        statement trigger on `events` notifies at each commit that adds
        events. A wake-up only: the follower always reads from its position."""
        listener = Listener(self._listen)
        try:
            yield listener
        finally:
            listener.close()

    def _listen(self) -> PgConnection:
        """A new connection that LISTENs on the log's channel."""
        conn = self.connect()
        try:
            (channel,) = conn.execute(f"SELECT {CHANNEL}", (self.schema,)).fetchone()
            conn.raw.execute(f'LISTEN "{channel.replace(chr(34), chr(34) * 2)}"')
        except psycopg.Error as e:
            conn.close()
            raise self.translate(e) or e from e
        except BaseException:
            conn.close()
            raise
        return conn

    # -- upkeep -------------------------------------------------------------

    def vacuum(self) -> None:
        """VACUUM FULL the schema's tables: each is rewritten without its dead
        rows, and the space goes back to the disk, as SQLite's VACUUM does
        (a plain VACUUM only adds free-space and visibility maps: the schema
        grew). Each table is locked while it is rewritten."""
        with self.lock:
            conn = self._writer()
            try:
                tables = [r[0] for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
                for table in tables:
                    conn.raw.execute(f'VACUUM (FULL) "{table}"')
            except psycopg.Error as e:
                raise self.translate(e) or e from e

    def file_bytes(self) -> int:
        """Bytes the schema's tables use, with their indexes and TOAST."""
        with self.reader() as conn:
            (size,) = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')").fetchone()
        return int(size)

    def close(self) -> None:
        with self.lock:
            self.pool.close()
            self.conn.close()


_check: type[Backend] = PostgresBackend  # mypy: the class does all a backend must
