"""`sessionlog`: the command line, a thin shell over the library.

Each command calls the library, turns its errors into one clear line on
stderr with a non-zero exit, and prints a table (or JSON with --json).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import sqlite3
import sys
import tempfile
import urllib.parse
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import click

from eventlog import EventLogError, parse_timestamp
from eventlog.backends.factory import is_url, shown
from eventlog.sealing import MARKER as ERASURE_TABLE
from projections import (
    EventSourcedSessionStore,
    SessionDeletedError,
    SessionMessage,
    SessionNotYetError,
    SessionRole,
)
from projections.erasure.masterkey import default_provider
from projections.transfer import (
    CONFLICT_POLICIES,
    ImportFileError,
    export_sessions,
    import_sessions,
    read_sessions,
)

from . import render

# Our own errors, and ValueError, the library's documented error for bad input.
# Anything else (KeyError, TypeError, a raw sqlite3 error) is a bug: it keeps
# its traceback instead of posing as a user error.
USER_ERRORS = (EventLogError, ValueError)
ERASABLE = "sessionlog.erasable"  # ctx.meta: the group's --erasable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="SESSIONLOG_DB", default="sessions.db", show_default=True,
              metavar="PATH|URL",
              help="The SQLite file, or a PostgreSQL URL such as postgresql://user@host/db "
                   "(or set SESSIONLOG_DB).")
@click.option("--erasable", is_flag=True,
              help="Create a new --db as an erasable file: personal fields encrypted per person "
                   "(key file PATH.key, or $SESSIONLOG_MASTER_KEY), so `erase` can forget them. "
                   "An existing erasable file is recognised without it.")
@click.version_option(package_name="sessionlog")
@click.pass_context
def main(ctx: click.Context, db: str, erasable: bool) -> None:
    """An event-sourced, tamper-evident log of AI-agent conversations.

    Every create, message and delete is an event in an append-only log (a
    SQLite file, or PostgreSQL); sessions are views folded from it.

    Example:

    \b
      sessionlog demo
      sessionlog list
      sessionlog --db chats.db create --title "Support chat"
      sessionlog --db postgresql://me@dbhost/chats list
      sessionlog --db private.db --erasable create --title "Support chat"
    """
    ctx.obj = db
    ctx.meta[ERASABLE] = erasable


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
            erasable: bool = False) -> Iterator[EventSourcedSessionStore]:
    """`open_store` for a --db value: a SQLite path or a PostgreSQL URL.
    `erasable`: create a new file as erasable (an existing one is recognised)."""
    if db == ":memory:":
        with _store(db, db, source, catch_up, erasable) as store:
            yield store
        return
    if is_url(db):
        _check_tables(db, _pg_tables(db), create, force_foreign, "database")
        with _store(db, db, source, catch_up, erasable) as store:
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
    tables = _tables(db)
    _check_tables(db, tables, create, force_foreign, "SQLite database")
    with _store(db, db, source, catch_up, erasable or ERASURE_TABLE in (tables or ())) as store:
        yield store


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
            raise click.ClickException(str(e).replace(path, db)) from None
        try:
            yield store
        except USER_ERRORS as e:
            raise click.ClickException(str(e).replace(path, db)) from None
        finally:
            store.close()
            for w in caught:
                click.echo(f"warning: {str(w.message).replace(path, db)}", err=True)


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


def _tables(path: str) -> set[str] | None:
    """The tables of an existing file, read without changing it (so a command
    never turns another program's database into ours); None when it is not
    readable as SQLite (the store then says what is wrong)."""
    if not os.path.isfile(path):
        return None
    try:
        uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            return {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    except sqlite3.Error:
        return None


def _pg_tables(url: str) -> set[str] | None:
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


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(f)


AS_OF_HELP = ("Show the session as it stood at a log position, or at a moment (UTC if no offset). "
              "A moment counts to the end of its last digit: 17:05:20.548 takes in everything "
              "recorded in that millisecond, as `history` prints it.")
_FRACTION = re.compile(r"\d{2}:\d{2}:\d{2}[.,](\d+)", re.ASCII)
_HAS_SECONDS = re.compile(r"\d{2}:\d{2}:\d{2}", re.ASCII)
_HAS_MINUTES = re.compile(r"[Tt ]\d{2}:\d{2}", re.ASCII)


def parse_as_of(text: str | None) -> int | datetime | None:
    """A position (ASCII digits) or a moment (RFC 3339 or ISO 8601; without
    an offset, UTC), widened to the end of its last digit (`AS_OF_HELP`)."""
    if text is None:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    bad = click.BadParameter(
        f"{text!r} is neither a position nor a time like 2026-11-25T16:55:00Z",
        param_hint="'--as-of'")
    if not text.isascii():  # "２０２０-01-01" is not a year
        raise bad
    try:
        moment = parse_timestamp(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise bad from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if fraction := _FRACTION.search(text):
        unit = timedelta(microseconds=10 ** max(0, 6 - len(fraction.group(1))))
    elif _HAS_SECONDS.search(text):
        unit = timedelta(seconds=1)
    elif _HAS_MINUTES.search(text):
        unit = timedelta(minutes=1)
    else:
        unit = timedelta(days=1)
    try:
        return (moment + unit - timedelta(microseconds=1)).astimezone(UTC)
    except OverflowError:
        raise click.BadParameter(f"{text!r} is out of range", param_hint="'--as-of'") from None


def argv_text(value: str | None, what: str) -> str | None:
    """Text from the command line, refused in one line if it was not UTF-8
    (Python keeps such bytes as lone surrogates)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            os.fsencode(value).decode("utf-8")
        except (UnicodeError, ValueError) as e:
            where = f" at byte {e.start}" if isinstance(e, UnicodeDecodeError) else ""
            raise click.BadParameter(f"not valid UTF-8{where}", param_hint=what) from None
        raise click.BadParameter("not valid UTF-8", param_hint=what) from None
    return value


def stdin_text() -> str:
    """All of stdin as UTF-8 text, one trailing line ending removed (what
    `echo` adds); invalid UTF-8 refused naming the byte."""
    data = sys.stdin.buffer.read()  # click 8.5 deprecates get_binary_stream
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise click.ClickException(f"stdin is not valid UTF-8 at byte {e.start}") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    return text


def force_foreign_option(f):
    return click.option(
        "--force-foreign", is_flag=True,
        help="Add sessionlog's tables to an SQLite file another program made "
             "(refused without this flag, so a wrong --db cannot alter that file).")(f)


def tenant_option(f):
    return click.option("--tenant", help="Confine the command to this tenant's sessions.")(f)


def scoped(store: EventSourcedSessionStore, tenant: str | None):
    """The store, or its view confined to one tenant (`for_tenant`)."""
    return store if tenant is None else store.for_tenant(tenant)


@main.command()
@click.option("--title", help="The session's title.")
@click.option("--user", help="Owner user id (needs --tenant).")
@click.option("--tenant", help="Owner tenant id.")
@force_foreign_option
@json_option
@click.pass_context
def create(ctx, title, user, tenant, force_foreign, as_json):
    """Create a session and print its id. Creates the --db file if it is
    missing; refuses another program's SQLite file unless --force-foreign.

    Example:

    \b
      sessionlog create --title "Refund request" --user alice --tenant acme
    """
    if user is not None and tenant is None:
        raise click.UsageError("--user needs --tenant")
    title = argv_text(title, "'--title'")
    user, tenant = argv_text(user, "'--user'"), argv_text(tenant, "'--tenant'")
    with open_store(ctx, create=True, force_foreign=force_foreign) as store:
        target = scoped(store, tenant)
        session = target.create(title) if user is None else target.create_with_user(title, user, tenant)
    click.echo(render.to_json(session) if as_json else str(session.id))


@main.command()
@click.argument("session_id", metavar="ID")
@click.option("--role", type=click.Choice([r.value for r in SessionRole]), required=True,
              help="Who speaks.")
@click.argument("text")
@click.option("--allow-empty", is_flag=True, help="Store empty or whitespace-only text too.")
@tenant_option
@click.pass_context
def add(ctx, session_id, role, text, allow_empty, tenant):
    """Add a message to a session. TEXT '-' reads it from stdin (UTF-8; one
    trailing newline is dropped). Empty or blank text is refused unless
    --allow-empty.

    Example:

    \b
      sessionlog add 5b0c...e1 --role user "Where is my parcel?"
      echo "It ships today." | sessionlog add 5b0c...e1 --role assistant -
    """
    text = stdin_text() if text == "-" else argv_text(text, "'TEXT'")
    if not text.strip() and not allow_empty:
        raise click.ClickException(
            "the message text is empty or blank; nothing was written (pass --allow-empty to store it)")
    with open_store(ctx) as store:
        scoped(store, tenant).add_message(
            session_id, SessionMessage(SessionRole(role), text, datetime.now(UTC)))
    click.echo(f"added {role} message to {uuid.UUID(session_id)}")


@main.command()
@click.argument("session_id", metavar="ID")
@click.option("--as-of", "as_of", metavar="POSITION|TIME", help=AS_OF_HELP)
@tenant_option
@json_option
@click.pass_context
def show(ctx, session_id, as_of, tenant, as_json):
    """Show a session and its messages, now or as it stood in the past.

    Example:

    \b
      sessionlog show 5b0c...e1
      sessionlog show 5b0c...e1 --as-of 12
      sessionlog show 5b0c...e1 --as-of 2026-11-25T16:55:00Z
    """
    moment = parse_as_of(as_of)
    with open_store(ctx) as store:
        try:
            session = store.require(session_id, as_of=moment, tenant_id=tenant)
        except SessionDeletedError as e:
            if moment is not None:
                raise click.ClickException(f"session {session_id} did not exist at {as_of}") from None
            raise click.ClickException(
                f"{e}; see `sessionlog history {session_id}`") from None
        except SessionNotYetError:
            raise click.ClickException(f"session {session_id} did not exist at {as_of}") from None
    click.echo(render.to_json(session) if as_json else render.session_text(session))


@main.command(name="list")
@click.option("--tenant", help="Only this tenant's sessions.")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many.")
@json_option
@click.pass_context
def list_(ctx, tenant, limit, as_json):
    """List live sessions, newest first.

    Example:

    \b
      sessionlog list --tenant acme --limit 20
    """
    with open_store(ctx) as store:
        sessions = scoped(store, tenant).list(limit)
    if as_json:
        click.echo(render.to_json(sessions))
    elif sessions:
        click.echo(render.sessions_table(sessions))
    else:
        click.echo("no sessions")


@main.command()
@click.argument("session_id", metavar="ID")
@tenant_option
@click.pass_context
def delete(ctx, session_id, tenant):
    """Delete a session. Its events stay in the log (see `history`).

    Example:

    \b
      sessionlog delete 5b0c...e1
    """
    with open_store(ctx) as store:
        if not scoped(store, tenant).delete(session_id):
            raise click.ClickException(f"session {session_id} not found")
    click.echo(f"deleted {session_id}")


@main.command()
@click.argument("session_id", metavar="ID")
@tenant_option
@json_option
@click.pass_context
def history(ctx, session_id, tenant, as_json):
    """Print a session's audit trail: every event, deleted sessions included.

    With --tenant, another tenant's session is "not found", as a missing one.

    Example:

    \b
      sessionlog history 5b0c...e1 --json
      sessionlog history 5b0c...e1 --tenant acme
    """
    with open_store(ctx) as store:
        events = scoped(store, tenant).history(session_id)
    if not events:
        raise click.ClickException(f"session {session_id} not found")
    click.echo(render.to_json(events) if as_json else render.history_table(events))


DEMO = [
    ("Refund for order 1142", "alice", "acme", [
        ("user", "My order 1142 arrived broken. Can I get a refund?"),
        ("assistant", "Sorry about that. I have opened refund R-88 for order 1142."),
        ("user", "Thanks! How long will it take?"),
        ("assistant", "Refunds reach your card within 5 business days."),
    ]),
    ("Trip to Lisbon", "bob", "globex", [
        ("user", "Plan three days in Lisbon for me."),
        ("assistant", "Day 1: Alfama and the castle. Day 2: Belém. Day 3: Sintra."),
    ]),
    ("Scratch notes", None, None, [
        ("user", "Remember that the staging password rotates on Fridays."),
        ("assistant", "Noted."),
    ]),
]


@main.command()
@click.pass_context
def demo(ctx):
    """Record a few conversations, delete one, and print what the log holds.

    Writes to --db (default ./sessions.db) only when the file is new, so the
    result is the same however often it runs: on the demo's own file it
    prints what is there and writes nothing; any other file is refused.

    Example:

    \b
      sessionlog demo
      sessionlog --db /tmp/demo.db demo
    """
    with open_store(ctx, create=True, source="demo") as store:
        made = _demo_sessions(store)
        if made is None:
            raise click.ClickException(
                f"{ctx.obj} already holds sessions that are not the demo's; the demo writes only "
                "to a new file (try --db demo.db)")
        fresh = not made
        if fresh:
            for title, user, tenant, turns in DEMO:
                s = store.create(title) if user is None else store.create_with_user(title, user, tenant)
                for role, text in turns:
                    store.add_message(s.id, SessionMessage(SessionRole(role), text, datetime.now(UTC)))
                made.append(s.id)
            store.delete(made[-1])
        sessions = store.list()
        trail = store.history(made[-1])
        first = store.history(made[0])
    if fresh:
        click.echo(f"Recorded {len(DEMO)} conversations in {ctx.obj} and deleted one.\n")
    else:
        click.echo(f"{ctx.obj} already holds the demo; nothing was written.\n")
    click.echo("Live sessions, newest first:")
    click.echo(render.sessions_table(sessions))
    click.echo(f"\nAudit trail of the deleted session {made[-1]}:")
    click.echo(render.history_table(trail))
    click.echo(f"\nAudit trail of {made[0]}:")
    click.echo(render.history_table(first))
    click.echo(f"\nNext: sessionlog show {made[0]} --as-of {first[1].position}")


def _demo_sessions(store: EventSourcedSessionStore) -> list[uuid.UUID] | None:
    """The ids of the sessions the demo created, in order ([] for an empty
    log), or None when the log holds anything the demo did not write."""
    made: list[uuid.UUID] = []
    for event in store.log.read_all():
        if event.metadata.get("source") != "demo":
            return None
        if event.type == "SessionCreated":
            made.append(uuid.UUID(event.stream_id))
    return made if not made or len(made) == len(DEMO) else None


@contextmanager
def progress_bar(label: str, total: int) -> Iterator:
    """click's progress bar on a terminal (stderr); silent otherwise.
    Yields a callback taking the number of events just done."""
    if not sys.stderr.isatty() or total == 0:
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield bar.update


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True, metavar="QUERY...")
@click.option("--tenant", help="Only this tenant's sessions.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--fts", is_flag=True, help="QUERY is FTS5 syntax: \"a phrase\", prefix*, AND, OR, NOT.")
@json_option
@click.pass_context
def search(ctx, words, tenant, limit, fts, as_json):
    """Full-text search over message content.

    QUERY is plain text: every word must match (the last one also as the
    start of a word), punctuation only separates words, and Chinese,
    Japanese or Korean text matches any part of a word. A QUERY starting
    with '-' goes after `--`. Matches are shown in [brackets].

    Example:

    \b
      sessionlog search refund R-88 --tenant acme
      sessionlog search -- -foo
      sessionlog search --fts '"order 1142" OR parcel*' --json
    """
    query = " ".join(words)
    with open_store(ctx) as store:
        hits = store.search(query, tenant, limit, syntax="fts5" if fts else "plain")
    if as_json:
        click.echo(render.to_json([
            {"session_id": h.session_id, "position": h.position, "role": h.role,
             "snippet": h.snippet} for h in hits]))
    elif hits:
        click.echo(render.table(["SESSION", "POS", "ROLE", "SNIPPET"],
                                [(h.session_id, h.position, h.role, h.snippet) for h in hits],
                                max_width=80))
    else:
        click.echo("no matches")


@main.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--force", is_flag=True,
              help="Fold a log whose hash chain is broken anyway (recorded in the log's notes).")
@click.pass_context
def rebuild(ctx, names, force):
    """Rebuild projections (all, or the NAMEs) from the log.

    Folds every event from position 0 into fresh tables, in batches, then
    swaps them in in one transaction: readers never see a half-built view,
    and writes made meanwhile are not lost. Names: sessions, tenants, search.
    The hash chain is checked on the way: a broken one stops the rebuild,
    views untouched, unless --force.

    Example:

    \b
      sessionlog rebuild
      sessionlog rebuild search
    """
    with open_store(ctx, catch_up=False) as store:  # rebuild works when catch-up cannot
        chosen = store.runner.select(names)
        total = store.log.last_position() or 0
        with progress_bar("rebuilding", total) as step:
            folded = store.rebuild(names, progress=step, force=force)
        notes = store.log.notes()
    click.echo(f"rebuilt {', '.join(p.name for p in chosen)} from {folded} events")
    if force and notes and notes[-1]["kind"] == "rebuild_forced":
        click.echo(f"forced over a broken chain at position {notes[-1]['position']} "
                   "(recorded in the log's notes)")


@main.command(name="repair-triggers")
@click.pass_context
def repair_triggers(ctx):
    """Reinstall the append-only triggers on events if any was dropped.

    Records it in the log's notes, with the position reached, so `verify`
    and `stats` keep showing the gap. Edits made while the triggers were
    missing are caught by the hash chain: run `sessionlog verify` too.

    Example:

    \b
      sessionlog repair-triggers && sessionlog verify
    """
    with open_store(ctx) as store:
        fixed = store.repair_triggers()
    if fixed:
        click.echo(f"reinstalled {', '.join(fixed)} (recorded in the log's notes)")
    else:
        click.echo("the append-only triggers are in place; nothing written")


@main.command()
@click.pass_context
def compact(ctx):
    """Give back the space of failed or killed rebuilds to the disk.

    Drops the tables of builds whose process is gone, folds the WAL into the
    database and truncates it, then rewrites the file without its free pages
    (VACUUM: needs free disk space about the size of the database).

    Example:

    \b
      sessionlog compact
    """
    with open_store(ctx) as store:
        result = store.compact()
    click.echo(f"dropped {result['tables_dropped']} leftover table(s); "
               f"{result['bytes_before'] / 1e6:.2f} MB -> {result['bytes_after'] / 1e6:.2f} MB")


@main.command(name="catch-up")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.pass_context
def catch_up(ctx, names):
    """Apply events newer than each projection's checkpoint.

    Needed only after events were appended without the store (by
    EventLog.append, an older release, or an interrupted rebuild); opening a
    store does it too.

    Example:

    \b
      sessionlog catch-up
    """
    with open_store(ctx) as store:
        store.runner.select(names)
        behind = sum(c["behind"] for c in store.stats()["checkpoints"].values())
        with progress_bar("catching up", behind) as step:
            applied = store.catch_up(names, progress=step)
    click.echo(", ".join(f"{name}: {n} event(s) applied" for name, n in applied.items()))


@main.command()
@click.option("--expect-hash", metavar="HASH",
              help="A last_hash kept from an earlier `verify --json`: the log must still hold "
                   "that event, unchanged.")
@json_option
@click.pass_context
def verify(ctx, expect_hash, as_json):
    """Check the log was not tampered with and the views are right.

    Recomputes the hash chain, checks positions are gapless and versions
    contiguous, and that each projection equals a fresh fold, in one
    consistent snapshot (writers go on meanwhile). Exit 0 when clean, 1 with
    the first bad position when not. Only a hash kept elsewhere
    (--expect-hash) catches a truncated tail or a rewritten chain.

    Example:

    \b
      sessionlog verify && echo "log intact"
      sessionlog verify --expect-hash "$(cat kept-hash.txt)"
    """
    with open_store(ctx, catch_up=False) as store:
        with progress_bar("verifying", store.log.last_position()) as step:
            report = store.verify(progress=step, expect_hash=expect_hash)
    if as_json:
        click.echo(render.to_json({
            "ok": report.ok, "events": report.events, "streams": report.streams,
            "sessions": report.sessions, "projections": list(report.projections),
            "last_position": report.last_position, "last_hash": report.last_hash,
            "kept_position": report.kept_position, "note": report.note,
            "notes": list(report.notes),
            "problems": [{"position": p.position, "what": p.what} for p in report.problems],
        }))
    else:
        click.echo(report.summary())
    ctx.exit(0 if report.ok else 1)


@main.command()
@json_option
@click.pass_context
def stats(ctx, as_json):
    """Events, sessions, messages, file size and projection checkpoints.

    Example:

    \b
      sessionlog stats --json
    """
    with open_store(ctx) as store:
        info = store.stats()
    if as_json:
        click.echo(render.to_json(info))
        return
    click.echo(render.table(["WHAT", "VALUE"], [
        ("database", info["path"]), ("events", info["events"]), ("streams", info["streams"]),
        ("live sessions", info["sessions"]), ("live messages", info["messages"]),
        ("deleted sessions", info["deleted_sessions"]),
        ("file size", f"{info['file_bytes'] / 1e6:.2f} MB"),
        *render.erasable_rows(info.get("erasable")),
    ]))
    click.echo()
    click.echo(render.table(["PROJECTION", "CHECKPOINT", "BEHIND"], [
        (name, c["position"], c["behind"]) for name, c in info["checkpoints"].items()]))
    if info["unfinished_builds"]:
        click.echo()
        click.echo(render.table(["UNFINISHED BUILD", "TABLES", "SIZE", "OWNER"], [
            (b["token"], len(b["tables"]),
             "?" if b["bytes"] is None else f"{b['bytes'] / 1e6:.2f} MB",
             f"pid {b['pid']} running" if b["alive"] else "gone (`sessionlog compact` drops it)")
            for b in info["unfinished_builds"]]))
    if info["notes"]:
        click.echo()
        click.echo(render.table(["NOTE", "POSITION", "RECORDED AT (UTC)", "DETAIL"], [
            (n["kind"], n["position"], n["recorded_at"][:19].replace("T", " "), n["detail"])
            for n in info["notes"]], max_width=90))


class _CountingReader:
    """A text stream that reports how many characters were read."""

    def __init__(self, stream, step) -> None:
        self._stream, self._step = stream, step

    def read(self, n: int = -1) -> str:
        text = self._stream.read(n)
        self._step(len(text))
        return text


@main.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.File("r", encoding="utf-8"))
@click.option("--on-conflict", type=click.Choice(CONFLICT_POLICIES), default="error",
              show_default=True,
              help="A session id already in the log with other content: fail, or keep what is there.")
@force_foreign_option
@click.pass_context
def import_(ctx, files, on_conflict, force_foreign):
    """Import sessions from serde JSON: an array, one object, or JSON Lines.

    FILE '-' reads stdin. All files go in one transaction: any bad record
    (named as FILE:LINE or FILE: record N) and nothing is written. Sessions
    already imported with the same content are skipped, so re-running is safe.
    Creates the --db file if it is missing (and leaves none on failure);
    refuses another program's SQLite file unless --force-foreign.

    Example:

    \b
      sessionlog import sessions.jsonl
      cat export.json | sessionlog import - --on-conflict skip
    """
    sizes = [os.path.getsize(f.name) if f.name not in ("-", "<stdin>") and os.path.isfile(f.name)
             else 0 for f in files]

    def records(step):
        for f in files:
            name = "<stdin>" if f.name in ("-", "<stdin>") else f.name
            try:
                yield from read_sessions(_CountingReader(f, step), name)
            except UnicodeDecodeError as e:
                raise ImportFileError(name, f"not UTF-8 text (byte {e.start} of a read)") from None

    with open_store(ctx, create=True, force_foreign=force_foreign, source="import") as store:
        with progress_bar("importing", sum(sizes)) as step:
            summary = import_sessions(store, records(step), on_conflict=on_conflict)
    click.echo(str(summary))


def _exclusive_temp(path: str) -> tuple[str, int]:
    """A new file beside `path` under an unguessable name, created exclusively
    (O_EXCL: never an existing file, never through a planted symlink), with
    the permissions the umask gives a new file. Returns (name, fd)."""
    directory, base = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.partial")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name", path)


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (atomically) instead of stdout.")
@click.option("--tenant", help="Only this tenant's sessions.")
@click.pass_context
def export(ctx, output, tenant):
    """Export live sessions as JSON Lines (serde format), newest first.

    The export is one consistent snapshot: sessions created or deleted while
    it runs do not change it. With -o, it is written to a new temporary file
    beside FILE and renamed over it when complete.

    Example:

    \b
      sessionlog export -o backup.jsonl
      sessionlog export --tenant acme | gzip > acme.jsonl.gz
    """
    with open_store(ctx) as store, contextlib.closing(export_sessions(store, tenant)) as lines:
        # closing(): the export's snapshot ends before the store closes, on every path
        if output is None:
            try:
                for line in lines:
                    click.echo(line)
            except BrokenPipeError:  # e.g. `| head`: the reader has what it wanted
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                ctx.exit(1)
            return
        tmp = None
        try:
            tmp, fd = _exclusive_temp(output)
            with open(fd, "w", encoding="utf-8") as out:
                count = 0
                for line in lines:
                    out.write(line + "\n")
                    count += 1
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, output)
            tmp = None
        except OSError as e:
            raise click.ClickException(f"cannot write {output}: {e.strerror}") from None
        finally:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
    click.echo(f"exported {count} session(s) to {output}", err=True)


from . import cli_erase, cli_log  # noqa: E402,F401  (registers erase, copy and tail)
