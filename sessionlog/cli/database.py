"""Opening --db for a command: a SQLite path or a PostgreSQL URL, checked
before anything is written, with the library's errors turned into one clear
line (`click.ClickException`) that names --db as the user typed it."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import urllib.parse
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import click

from eventlog import EventLog, EventLogError
from eventlog.backends.connection import read_only_uri
from eventlog.backends.factory import is_url, shown
from eventlog.sealing import MARKER as ERASURE_TABLE
from projections import EventSourcedSessionStore
from projections.erasure.masterkey import default_provider
from projections.erasure.sealer import Sealer
from sessionlog.integrations.opening import sqlalchemy_hint
from sessionlog.render import error_text

# Our own errors, and ValueError, the library's documented error for bad input.
# Anything else (KeyError, TypeError, a raw sqlite3 error) is a bug: it keeps
# its traceback instead of posing as a user error.
USER_ERRORS = (EventLogError, ValueError)
ERASABLE = "sessionlog.erasable"  # ctx.meta: the group's --erasable

__all__ = ["ERASABLE", "ERASURE_TABLE", "USER_ERRORS", "open_db", "open_log", "open_store",
           "pg_tables", "sqlite_tables"]


@contextmanager
def open_store(ctx: click.Context, *, create: bool = False, force_foreign: bool = False,
               source: str = "cli", catch_up: bool = True) -> Iterator[EventSourcedSessionStore]:
    """The store of --db, with library errors turned into one clear line.

    Commands that only read refuse a missing file instead of creating it.
    Commands that write (`create`) refuse another program's SQLite file
    unless `force_foreign`. A new file is built under a temporary name beside
    it and appears only when the command succeeds: a failed command leaves
    nothing behind.
    """
    with open_db(ctx.obj, create=create, force_foreign=force_foreign, source=source,
                 catch_up=catch_up, erasable=ctx.meta.get(ERASABLE, False)) as store:
        yield store


@contextmanager
def open_db(db: str, *, create: bool = False, force_foreign: bool = False,
            source: str = "cli", catch_up: bool = True,
            erasable: bool = False,
            shown_as: str | None = None) -> Iterator[EventSourcedSessionStore]:
    """`open_store` for a --db value: a SQLite path or a PostgreSQL URL.
    `erasable`: create a new file as erasable (an existing one is recognised).
    `shown_as`: the name an existing file `db` stands in for (a copy of it):
    used in messages and for its master key file."""
    _refuse_directory(db)
    if db == ":memory:":
        with _store(db, db, source, catch_up, erasable) as store:
            yield store
        return
    if is_url(db):
        tables = pg_tables(db)
        _check_tables(db, tables, create, force_foreign, "database")
        with _store(db, db, source, catch_up, erasable or ERASURE_TABLE in (tables or ())) as store:
            yield store
        return
    if not os.path.lexists(db):
        if not create:
            raise click.ClickException(
                f"no database at {db} (create one with `sessionlog create` or `sessionlog demo`, "
                "or pass --db)"
            )
        key = f"{db}.key"
        had_key = os.path.lexists(key)
        try:
            with _new_file(db) as tmp:
                with _store(tmp, db, source, catch_up, erasable) as store:
                    yield store
        except BaseException:
            if erasable and not had_key:  # a failed command leaves no key file either
                with contextlib.suppress(FileNotFoundError):
                    os.remove(key)
            raise
        return
    tables = sqlite_tables(db)
    _check_tables(shown_as or db, tables, create, force_foreign, "SQLite database")
    with _store(db, shown_as or db, source, catch_up,
                erasable or ERASURE_TABLE in (tables or ())) as store:
        yield store


@contextmanager
def open_log(db: str) -> Iterator[EventLog]:
    """The log at --db, for reading: an existing file or a URL; never
    another program's database (a read creates no table in it)."""
    _refuse_directory(db)
    if db != ":memory:" and not is_url(db) and not os.path.isfile(db):
        raise click.ClickException(f"no database at {db} (pass --db)")
    if is_url(db):  # never create the log's tables for a read
        tables = pg_tables(db)
        if tables is not None and "events" not in tables:
            raise click.ClickException(f"no sessionlog log at {shown(db)} (pass --db)")
    else:
        tables = sqlite_tables(db)
        _check_tables(db, tables, False, False, "SQLite database")
    erasable = ERASURE_TABLE in (tables or ())  # a file's, or a PostgreSQL schema's
    try:
        log = EventLog(db, sealer=Sealer(default_provider(db)) if erasable else None)
    except (*USER_ERRORS, ImportError) as e:
        raise click.ClickException(str(e)) from None
    try:
        yield log
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from None
    finally:
        log.close()


def _refuse_directory(db: str) -> None:
    """A directory given as --db, said as such (SQLite would say "cannot open
    database file"); a SQLAlchemy URL, with the value to pass instead."""
    hint = sqlalchemy_hint(db, "--db")
    if hint is not None:
        raise click.ClickException(hint)
    if not is_url(db) and os.path.isdir(db):
        raise click.ClickException(
            f"{db} is a directory, not a database file (pass a file in it: "
            f"--db {os.path.join(db, 'sessions.db')})")


def _check_tables(db: str, tables: set[str] | None, create: bool, force_foreign: bool,
                  kind: str) -> None:
    """Refuse a database without sessionlog's `events` table: for reading,
    always; for writing, when another program's tables are there (unless
    `force_foreign`). None: unknown (the store then says what is wrong)."""
    if tables is None or "events" in tables:
        return
    if not create:
        if not tables and kind == "database":
            raise click.ClickException(
                f"no sessionlog log at {shown(db)} (create one with `sessionlog create` or "
                "`sessionlog import`)")
        raise click.ClickException(f"{shown(db)} is not a sessionlog database (it has no events table)")
    if tables and not force_foreign:
        raise click.ClickException(
            f"{shown(db)} is another program's {kind} (tables: {', '.join(sorted(tables)[:5])}"
            f"{', ...' if len(tables) > 5 else ''}); nothing was written (pass --force-foreign to "
            "add sessionlog's tables to it)"
        )


@contextmanager
def _store(path: str, db: str, source: str, catch_up: bool,
           erasable: bool = False) -> Iterator[EventSourcedSessionStore]:
    """The store at `path`, our errors as one line that names `db`, and
    warnings (stale or stopped views) as one `warning:` line each. An
    erasable store's master key: $SESSIONLOG_MASTER_KEY, else `db`.key."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            store = EventSourcedSessionStore(
                path, source=source, catch_up=catch_up, erasable=erasable,
                master_key=default_provider(db) if erasable else None)
        except (*USER_ERRORS, ImportError) as e:  # ImportError: a URL without the extra
            raise click.ClickException(str(e).replace(path, shown(db))) from None
        try:
            yield store
        except USER_ERRORS as e:
            raise click.ClickException(str(e).replace(path, shown(db))) from None
        finally:
            store.close()
            for w in caught:
                click.echo(f"warning: {error_text(str(w.message).replace(path, shown(db)))}", err=True)


@contextmanager
def _new_file(db: str) -> Iterator[str]:
    """A temporary database path beside `db`, published as `db` (never over a
    file that appeared meanwhile) only if the block succeeds; removed always."""
    directory = os.path.dirname(os.path.abspath(db))
    if not os.path.isdir(directory):
        raise click.ClickException(f"{db}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(db)}.", suffix=".new", dir=directory)
    os.close(fd)
    try:
        yield tmp
        if os.path.exists(tmp + "-wal"):  # the store is closed: fold its WAL into the file
            with contextlib.closing(sqlite3.connect(tmp)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            os.link(tmp, db)  # atomic, and never replaces a file
        except FileExistsError:
            raise click.ClickException(
                f"{db} was created by another program while this command ran; nothing was "
                "written to it (run the command again)") from None
        except OSError:  # a file system without hard links
            if os.path.lexists(db):
                raise click.ClickException(f"{db} appeared while this command ran; nothing was "
                                           "written to it (run the command again)") from None
            os.replace(tmp, db)
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)


def sqlite_tables(path: str) -> set[str] | None:
    """The tables of an existing file, read without changing it (so a command
    never turns another program's database into ours); None when it is not
    readable as SQLite (the store then says what is wrong)."""
    if not os.path.isfile(path):
        return None
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    for _ in range(2):
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                return {r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        except sqlite3.Error as e:
            # a read-only mount where not even the -shm can be made: the way
            # the store reads it (an erasable file must be recognised there)
            try:
                uri = read_only_uri(path, e) or ""
            except EventLogError:  # unreadable read-only (the store says why)
                return None
            if not uri or uri.endswith("mode=ro"):
                return None
    return None


def pg_tables(url: str) -> set[str] | None:
    """The tables of the schema a PostgreSQL URL names, read without writing;
    None when that cannot be asked (the store then says what is wrong)."""
    try:
        import psycopg
    except ImportError:
        return None
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            return {r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() UNION "
                "SELECT viewname FROM pg_views WHERE schemaname = current_schema()")}
    except psycopg.Error:
        return None
