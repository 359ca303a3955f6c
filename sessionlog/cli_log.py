"""CLI commands on the log as a whole: `copy` (move a log between SQLite and
PostgreSQL, hashes unchanged) and `tail` (print the audit trail, live)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

from eventlog import EventLog
from eventlog.backends.factory import is_url, shown
from eventlog.copy import copy_log
from projections.erasure.masterkey import default_provider
from projections.erasure.reseal import reseal_copy
from projections.erasure.sealer import Sealer

from . import render
from .cli import (
    ERASURE_TABLE,
    USER_ERRORS,
    _pg_tables,
    _tables,
    json_option,
    main,
    open_db,
    progress_bar,
)


@contextmanager
def open_log(db: str) -> Iterator[EventLog]:
    """The log at --db, for reading: an existing file or a URL."""
    if db != ":memory:" and not is_url(db) and not os.path.isfile(db):
        raise click.ClickException(f"no database at {db} (pass --db)")
    if is_url(db):  # never create the log's tables for a read
        tables = _pg_tables(db)
        if tables is not None and "events" not in tables:
            raise click.ClickException(f"no sessionlog log at {shown(db)} (pass --db)")
    erasable = not is_url(db) and ERASURE_TABLE in (_tables(db) or ())
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


@main.command()
@click.argument("dest", metavar="DEST")
@click.option("--erasable", "reseal", is_flag=True,
              help="Re-encrypt a plain --db into a new erasable SQLite DEST (key file DEST.key, "
                   "or $SESSIONLOG_MASTER_KEY); DEST's first event records --db's last_hash.")
@json_option
@click.pass_context
def copy(ctx, dest, reseal, as_json):
    """Copy the whole log of --db into DEST (a SQLite file or a PostgreSQL
    URL, either direction), then build DEST's views.

    Positions, event ids, timestamps and hashes are copied unchanged, so
    `verify --json` reports the same last_hash on both. DEST must hold no
    events. The copy is one transaction: if it fails, DEST is left as it was
    (a DEST file it created is removed).

    With --erasable, every event is appended again through DEST's keys (same
    streams, versions, positions, ids and metadata; new times and hashes) so
    that `erase` works there; the old file's last_hash is kept in the
    metadata of DEST's first event (`copied_from`).

    Example:

    \b
      sessionlog --db sessions.db copy postgresql://me@dbhost/agents
      sessionlog --db postgresql://me@dbhost/agents verify --json
      sessionlog --db plain.db copy private.db --erasable
    """
    src = ctx.obj
    if os.path.abspath(src) == os.path.abspath(dest) if not is_url(src) else src == dest:
        raise click.ClickException("DEST is the --db log itself; nothing was written")
    if reseal:
        _reseal(src, dest, as_json)
        return
    with open_log(src) as source:
        if source.sealer is not None:
            raise click.ClickException(
                f"{shown(src)} is an erasable file: its rows cannot be copied as they are (DEST would "
                "lack its keys); re-encrypt it: copy DEST --erasable; nothing was written")
        total = source.last_position()
        with open_db(dest, create=True, source="copy", catch_up=False) as store, \
                progress_bar("copying", total) as tick:
            with store.log.transaction():
                copied = copy_log(source, store.log, progress=tick)
                store.catch_up()  # the views, in the same transaction
    if as_json:
        click.echo(json.dumps({"events": copied.events, "last_hash": copied.last_hash}))
    else:
        click.echo(f"copied {copied.events} event(s) to {shown(dest)}; last_hash {copied.last_hash}")


@main.command()
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=10,
              show_default=True, help="Start with the last N events.")
@click.option("--from", "from_position", type=click.IntRange(min=1), metavar="POSITION",
              help="Start at this position instead of the last N.")
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing events as they are committed, until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for machines.")
@click.pass_context
def tail(ctx, count, from_position, follow, as_json):
    """Print the audit trail of the whole log (every session and tenant): the
    last events, one per line (position, time UTC, stream, type, source,
    what); with --follow, live, as other processes commit them.

    Example:

    \b
      sessionlog tail -n 20
      sessionlog --db postgresql://me@dbhost/agents tail --follow --json
    """
    def line(event) -> str:
        if as_json:
            return json.dumps(render.event_dict(event), ensure_ascii=False)
        return render.tail_line(event)

    with open_log(ctx.obj) as log:
        last = log.last_position()
        start = from_position if from_position is not None else max(1, last - count + 1)
        if not follow:
            for event in log.read_all(start):
                if event.position > last:
                    break
                click.echo(line(event))
            return
        try:
            for event in log.subscribe(start):
                click.echo(line(event))
        except KeyboardInterrupt:
            return


def _reseal(src: str, dest: str, as_json: bool) -> None:
    """`copy --erasable`: the plain log of `src` re-encrypted into `dest`."""
    with open_log(src) as source:
        total = source.last_position()
        with open_db(dest, create=True, source="copy", catch_up=False, erasable=True) as store, \
                progress_bar("re-encrypting", total) as tick:
            done = reseal_copy(source, store, progress=tick)
    if as_json:
        click.echo(json.dumps({"events": done.events, "source_last_hash": done.source_last_hash,
                               "last_hash": done.last_hash}))
    else:
        click.echo(f"re-encrypted {done.events} event(s) into {shown(dest)} (erasable, master "
                   f"{default_provider(dest).name}); its first event records {shown(src)}'s last_hash "
                   f"{done.source_last_hash}; new last_hash {done.last_hash}")
