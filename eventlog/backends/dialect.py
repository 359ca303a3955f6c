"""The SQL that differs between databases, in one place: projections write
and read through a `Db` (a connection and its dialect), so a view is written
once for SQLite and PostgreSQL. Each backend hands out its dialect
(`backend.dialect`).

SQL handed to `Db.execute` uses `?` placeholders and names quoted by
`Db.q`; the few constructs that differ (a list parameter, a JSON field, the
catalog, table sizes) are the dialect's methods.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any


class SQLiteDialect:
    """SQLite: the SQL is run as written."""

    name = "sqlite"
    #: The type of a log position; on SQLite `INTEGER PRIMARY KEY` is the rowid.
    int_type = "INTEGER"
    #: Text compared and sorted byte by byte (timestamps, keys).
    sorted_text = "TEXT"
    #: Appended to CREATE TABLE of a table clustered on its primary key.
    clustered = " WITHOUT ROWID"
    #: A LIMIT parameter meaning "no limit".
    no_limit: int | None = -1
    #: The driver's error for a broken constraint.
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    #: The driver's errors (any).
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def q(self, name: str) -> str:
        """A quoted identifier."""
        return '"' + name.replace('"', '""') + '"'

    def in_list(self, expr: str) -> str:
        """`expr IN` one parameter holding a list (see `list_param`)."""
        return f"{expr} IN (SELECT value FROM json_each(?))"

    def list_source(self) -> str:
        """A FROM source of one parameter holding a list of strings: one row
        per element, in a column named `value`."""
        return "json_each(?)"

    def list_param(self, values: Iterable[Any]) -> Any:
        """The parameter of `in_list` and `list_source`."""
        return json.dumps(list(values))

    def json_text(self, column: str, key: str) -> str:
        """The text of a top-level field of a JSON text column (NULL if absent)."""
        return f"json_extract({column}, '$.{key}')"

    def tables(self, db: Db) -> set[str]:
        """The names of the tables (and other schema objects) of the database."""
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master")}

    def build_tables(self, db: Db, mark: str) -> list[str]:
        """Tables whose name contains `mark`, in the order they can be
        dropped (a full-text table before its shadow tables)."""
        return [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND instr(name, ?) > 0 "
            "ORDER BY sql LIKE 'CREATE VIRTUAL%' DESC", (mark,))]

    def table_bytes(self, db: Db, name: str) -> int | None:
        """Bytes a table uses (None where the database cannot tell)."""
        try:
            return db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?",
                              (name,)).fetchone()[0] or 0
        except sqlite3.Error:
            return None

    def drop_table(self, db: Db, table: str) -> None:
        """DROP TABLE, even of a full-text table too damaged for SQLite to open
        (its schema row is removed by hand, then its shadow tables dropped), so
        a rebuild can always replace a view."""
        try:
            db.execute(f"DROP TABLE IF EXISTS {self.q(table)}")
            return
        except sqlite3.DatabaseError:
            row = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            if not row or "USING FTS5" not in row[0].upper():
                raise
        (version,) = db.execute("PRAGMA schema_version").fetchone()
        db.execute("PRAGMA writable_schema = ON")
        try:
            db.execute("DELETE FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
            db.execute(f"PRAGMA schema_version = {version + 1}")
        finally:
            db.execute("PRAGMA writable_schema = OFF")
        for suffix in ("data", "idx", "content", "docsize", "config"):
            db.execute(f"DROP TABLE IF EXISTS {self.q(f'{table}_{suffix}')}")

    def wrap(self, conn: Any, cipher: Any = None) -> Db:
        """`conn` as a `Db` of this dialect (`cipher`: see `Db.cipher`)."""
        return Db(conn, self, conn.execute, conn.executemany, cipher)


class PostgresDialect(SQLiteDialect):
    """PostgreSQL (through eventlog's `PgConnection`, which takes `?`
    placeholders too): a list parameter is an array, JSON text is read with
    `->>`, the catalog is `pg_tables`."""

    name = "postgres"
    int_type = "BIGINT"
    sorted_text = 'TEXT COLLATE "C"'
    clustered = ""
    no_limit = None

    def __init__(self) -> None:
        import psycopg

        self.integrity_errors = (psycopg.errors.IntegrityError,)
        self.errors = (psycopg.Error,)

    def in_list(self, expr: str) -> str:
        return f"{expr} = ANY(?)"

    def list_source(self) -> str:
        return "unnest(CAST(? AS text[])) AS value"

    def list_param(self, values: Iterable[Any]) -> Any:
        return list(values)

    def json_text(self, column: str, key: str) -> str:
        # A JSON \\u0000 cannot become PostgreSQL text, and `->>` parses the
        # whole document: made \\u0001 first (still valid JSON; the fields
        # read here never hold one).
        return f"(replace({column}, '\\u0000', '\\u0001')::json ->> '{key}')"

    def tables(self, db: Db) -> set[str]:
        # The schemas of the search path (verify puts its temporary one first).
        return {r[0] for r in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = ANY(current_schemas(false))")}

    def build_tables(self, db: Db, mark: str) -> list[str]:
        return sorted(t for t in self.tables(db) if mark in t)

    def table_bytes(self, db: Db, name: str) -> int | None:
        return db.execute("SELECT pg_total_relation_size(to_regclass(?))",
                          (self.q(name),)).fetchone()[0]

    def drop_table(self, db: Db, table: str) -> None:
        db.execute(f"DROP TABLE IF EXISTS {self.q(table)}")

    def wrap(self, conn: Any, cipher: Any = None) -> Db:
        """PostgreSQL text cannot hold NUL: a text parameter with one (or
        starting with the escape mark) is stored escaped, and read back as
        it was (see `escape_text`)."""
        execute, executemany = conn.execute, conn.executemany

        def escaped_execute(sql: str, params: Sequence[Any] = ()) -> _Rows:
            return _Rows(execute(sql, _escape_all(params)))

        def escaped_executemany(sql: str, rows: Iterable[Sequence[Any]]) -> None:
            executemany(sql, [_escape_all(r) for r in rows])

        return Db(conn, self, escaped_execute, escaped_executemany, cipher)


#: Starts a text stored escaped (PostgreSQL): the JSON string of the text.
_MARK = "\x01"


def escape_text(value: str) -> str:
    """`value` as a PostgreSQL text column can hold it: itself, unless it
    holds a NUL or starts with the mark (then the mark and its JSON string,
    which has neither). Deterministic, so equal texts compare equal."""
    if "\x00" in value or value.startswith(_MARK):
        return _MARK + json.dumps(value)
    return value


def _escape_all(params: Sequence[Any]) -> Sequence[Any]:
    if any(type(p) is str and ("\x00" in p or p.startswith(_MARK)) for p in params):
        return [escape_text(p) if type(p) is str else p for p in params]
    return params


def _unescape_row(row: tuple) -> tuple:
    # Run on every field read (a list() reads tens of thousands): a plain
    # loop, half the time of any() over a generator.
    for v in row:
        if type(v) is str and v[:1] == _MARK:
            return tuple(json.loads(v[1:]) if type(v) is str and v[:1] == _MARK else v
                         for v in row)
    return row


class _Rows:
    """A cursor whose rows come back unescaped (see `escape_text`)."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchone(self) -> tuple | None:
        row = self._cursor.fetchone()
        return None if row is None else _unescape_row(row)

    def fetchall(self) -> list[tuple]:
        return [_unescape_row(r) for r in self._cursor.fetchall()]

    def __iter__(self) -> Iterator[tuple]:
        return map(_unescape_row, self._cursor)

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class Db:
    """A connection as projections use it: `execute(sql, params)` and
    `executemany(sql, rows)` with `?` placeholders, `q(name)` to quote a
    name, and `dialect` for the SQL that differs.

    Attributes:
        conn: the driver's connection (sqlite3 or psycopg).
        dialect: a `SQLiteDialect` or `PostgresDialect`.
        cipher: what seals and opens the personal fields of the views of
            an erasable store (`projections.erasure.sealed_views.ViewCipher`),
            on any dialect; None: the views hold plain text.
    """

    __slots__ = ("cipher", "conn", "dialect", "execute", "executemany")

    def __init__(self, conn: Any, dialect: SQLiteDialect, execute: Callable[..., Any],
                 executemany: Callable[..., Any], cipher: Any = None) -> None:
        self.conn, self.dialect, self.cipher = conn, dialect, cipher
        self.execute, self.executemany = execute, executemany

    def q(self, name: str) -> str:
        """A quoted identifier."""
        return self.dialect.q(name)

    def run(self, sql: str, rows: list) -> None:
        """executemany, or execute for the common single row (inline writes)."""
        if len(rows) == 1:
            self.execute(sql, rows[0])
        elif rows:
            self.executemany(sql, rows)


SQLITE = SQLiteDialect()
_POSTGRES: list[PostgresDialect] = []


def dialect_named(name: str) -> SQLiteDialect:
    """The dialect of a backend name ("sqlite" or "postgres")."""
    if name == "sqlite":
        return SQLITE
    if name == "postgres":
        if not _POSTGRES:
            _POSTGRES.append(PostgresDialect())
        return _POSTGRES[0]
    raise ValueError(f"no SQL dialect for the backend {name!r}")


