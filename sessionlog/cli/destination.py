"""Where `copy` writes: DEST is checked before anything is written (another
program's database, an erasable file for a plain copy), and a copy that is
refused or fails leaves DEST as it was:

- a SQLite DEST that does not exist is built under a temporary name and
  appears only when the copy succeeds (`open_db`);
- a SQLite DEST that exists is copied to a temporary file beside it, the
  copy goes there, and the result is renamed over DEST only on success (and
  only if DEST did not change meanwhile): DEST stays byte for byte the same
  otherwise;
- on PostgreSQL, the tables and functions the copy created are dropped
  again if it fails (DDL of the store is committed when it opens).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import click

from eventlog.backends.factory import is_url, shown
from projections import EventSourcedSessionStore

from .database import open_db, sqlite_tables

_NOTHING = "nothing was written"


def exclusive_temp(path: str, suffix: str = "partial", *,
                   private: bool = False) -> tuple[str, int]:
    """A new file beside `path` under an unguessable name, created exclusively
    (O_EXCL: never an existing file, never through a planted symlink), with
    the permissions the umask gives a new file, or 0600 if `private` (the
    export of an erasable store). Returns (name, fd)."""
    directory, base = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.{suffix}")
        try:
            return tmp, os.open(tmp, flags, 0o600 if private else 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name", path)


@contextmanager
def dest_store(dest: str, *, erasable: bool) -> Iterator[EventSourcedSessionStore]:
    """The store `copy` writes into (views not caught up), DEST left as it
    was unless the block succeeds (see the module docstring).
    `erasable`: a new file is made erasable (an existing one is recognised)."""
    if is_url(dest):
        with _postgres(dest, erasable) as store:
            yield store
    elif os.path.lexists(dest):
        with _existing_file(dest, erasable) as store:
            yield store
    else:
        with open_db(dest, create=True, source="copy", catch_up=False, erasable=erasable) as store:
            yield store


def _refuse(dest: str, tables: set[str]) -> None:
    if tables and "events" not in tables:
        names = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise click.ClickException(
            f"{shown(dest)} is another program's database (tables: {names}); copy writes only "
            f"into a new or empty sessionlog database; {_NOTHING}")


@contextmanager
def _existing_file(dest: str, erasable: bool) -> Iterator[EventSourcedSessionStore]:
    before = os.stat(dest)
    if not stat.S_ISREG(before.st_mode):
        raise click.ClickException(f"{dest} is not a file; {_NOTHING}")
    wal = f"{dest}-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        raise click.ClickException(
            f"{dest} is open in another program, or was not closed ({wal} exists): close it, "
            f"or open it once with sessionlog; {_NOTHING}")
    tmp, fd = exclusive_temp(dest, "copy")
    try:
        with os.fdopen(fd, "wb") as out, open(dest, "rb") as original:
            shutil.copyfileobj(original, out)
        shutil.copymode(dest, tmp)
        # DEST itself is never opened by SQLite (even a read-only open
        # leaves a -wal and a -shm beside a WAL file): its copy is.
        tables = sqlite_tables(tmp)
        if tables is None:
            raise click.ClickException(f"{dest} is not a SQLite database; {_NOTHING}")
        _refuse(dest, tables)
        with open_db(tmp, create=True, source="copy", catch_up=False, erasable=erasable,
                     shown_as=dest) as store:
            yield store
        if os.path.exists(f"{tmp}-wal"):  # the store is closed: fold its WAL into the file
            with contextlib.closing(sqlite3.connect(tmp)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        now = os.stat(dest)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (
                before.st_ino, before.st_size, before.st_mtime_ns):
            raise click.ClickException(
                f"{dest} was changed by another program while the copy ran; {_NOTHING} "
                "(run the command again)")
        os.replace(tmp, dest)
    finally:
        for leftover in (tmp, f"{tmp}-wal", f"{tmp}-shm", f"{tmp}-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)


_OBJECTS = (
    "SELECT 'table', tablename FROM pg_tables WHERE schemaname = current_schema() UNION ALL "
    "SELECT 'view', viewname FROM pg_views WHERE schemaname = current_schema() UNION ALL "
    "SELECT 'function', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname = current_schema()")


def _pg_objects(url: str) -> set[tuple[str, str]] | None:
    """The tables, views and functions of the URL's schema; None when that
    cannot be asked (the store then says what is wrong)."""
    try:
        import psycopg
    except ImportError:
        return None
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            return {(r[0], r[1]) for r in conn.execute(_OBJECTS)}
    except psycopg.Error:
        return None


@contextmanager
def _postgres(dest: str, erasable: bool) -> Iterator[EventSourcedSessionStore]:
    before = _pg_objects(dest)
    if before is not None:
        _refuse(dest, {name for kind, name in before if kind != "function"})
    try:
        with open_db(dest, create=True, source="copy", catch_up=False, erasable=erasable) as store:
            yield store
    except BaseException:
        if before is not None:
            _drop_new(dest, before)
        raise


def _drop_new(url: str, before: set[tuple[str, str]]) -> None:
    """Drop what a failed copy created in the schema, in one transaction."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            made = {(r[0], r[1]) for r in conn.execute(_OBJECTS)} - before
            for kind, name in sorted(made, key=lambda o: ("view", "table", "function").index(o[0])):
                conn.execute(sql.SQL("DROP {} IF EXISTS {} CASCADE").format(
                    sql.SQL(kind.upper()), sql.Identifier(name)))
    except psycopg.Error as e:
        click.echo(f"warning: the tables this copy made in {shown(url)} could not be dropped: "
                   f"{str(e).strip().splitlines()[0]}", err=True)
