"""Commands that move sessions in and out: `import` (serde JSON into the
log), `export` (live sessions as JSON Lines) and `copy` (a whole log into an
empty one, SQLite or PostgreSQL, hashes unchanged; or re-encrypted into a new
erasable file)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Generator, Iterator
from typing import IO, Any, cast

import click

from eventlog.backends.factory import is_url, shown
from eventlog.copy import copy_log
from projections.erasure.masterkey import default_provider
from projections.erasure.reseal import copy_keys, reseal_copy
from projections.transfer import (
    CONFLICT_POLICIES,
    EXPORT_FORMATS,
    ImportFileError,
    export_sessions,
    import_sessions,
    open_text,
    read_error,
    read_sessions,
)

from ..render import visible
from .database import open_log, open_store
from .destination import dest_store, exclusive_temp
from .options import NulFree, force_foreign_option, json_option, progress_bar


class _CountingReader(io.RawIOBase):
    """A byte stream that reports how many bytes were read (of the file as
    it is on disk: compressed, for a gzip file)."""

    def __init__(self, stream: IO[bytes], step: Callable[[int], Any]) -> None:
        self._stream, self._step = stream, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        self._step(len(data))
        return len(data)


@click.command(name="import")
@click.argument("files", nargs=-1, required=True, type=NulFree(click.File("rb")))
@click.option("--on-conflict", type=click.Choice(CONFLICT_POLICIES), default="error",
              show_default=True,
              help="A session id already in the log with other content: fail; keep what is "
                   "there (skip); or add the record's new items when the stored session is a "
                   "prefix of it (append).")
@force_foreign_option
@click.pass_context
def import_(ctx: click.Context, files: tuple[IO[bytes], ...], on_conflict: str,
            force_foreign: bool) -> None:
    """Import sessions from `export` files (sessionlog/1 records: items of
    any role, state, key, user and tenant) or the seed's session JSON: an
    array, one object, or JSON Lines; UTF-8 with or without a BOM, or
    gzip-compressed (recognised by its first bytes, whatever the name).

    FILE '-' reads stdin. All files go in one transaction: any bad record
    (named as FILE:LINE or FILE: record N) and nothing is written. Sessions
    already imported with the same content are skipped, so re-running is safe.
    Creates the --db file if it is missing (and leaves none on failure);
    refuses another program's SQLite file unless --force-foreign.

    Example:

    \b
      sessionlog import sessions.jsonl
      sessionlog import backup.jsonl.gz --on-conflict append
      cat export.json | sessionlog import - --on-conflict skip
    """
    names = [getattr(f, "name", "-") for f in files]
    names = ["<stdin>" if n in ("-", "<stdin>") or not isinstance(n, str) else n for n in names]
    sizes = [os.path.getsize(n) if n != "<stdin>" and os.path.isfile(n) else 0 for n in names]

    def records(step: Callable[[int], Any]) -> Iterator[Any]:
        for f, name in zip(files, names, strict=True):
            try:
                text = open_text(cast(IO[bytes], io.BufferedReader(_CountingReader(f, step))))
                yield from read_sessions(text, name)
            except (UnicodeDecodeError, EOFError, OSError) as e:
                why = read_error(e)
                if why is None:
                    raise
                raise ImportFileError(name, why) from None

    with open_store(ctx, create=True, force_foreign=force_foreign, source="import") as store:
        with progress_bar("importing", sum(sizes)) as step:
            summary = import_sessions(store, records(step), on_conflict=on_conflict)
    click.echo(str(summary))


@click.command()
@click.option("-o", "--output", type=NulFree(click.Path(dir_okay=False, writable=True)),
              help="Write to this file (atomically) instead of stdout.")
@click.option("--tenant", help="Only this tenant's sessions.")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="sessionlog",
              show_default=True,
              help="sessionlog: everything a session holds (sessionlog/1 records); seed: the "
                   "seed's session JSON (title, owners and user/assistant messages only).")
@click.pass_context
def export(ctx: click.Context, output: str | None, tenant: str | None, fmt: str) -> None:
    """Export live sessions as JSON Lines, newest first: one sessionlog/1
    record per line (its items of every role with their data, state, key,
    user and tenant), which `import` reads back.

    The export is one consistent snapshot: sessions created or deleted while
    it runs do not change it. With -o, it is written to a new temporary file
    beside FILE and renamed over it when complete; the export of an erasable
    file is created 0600 (readable by its owner only).

    Example:

    \b
      sessionlog export -o backup.jsonl
      sessionlog export --tenant acme | gzip > acme.jsonl.gz
      sessionlog export --format seed -o seed-sessions.jsonl
    """
    with open_store(ctx) as store, contextlib.closing(
            cast(Generator[str, None, None], export_sessions(store, tenant, format=fmt))) as lines:
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
            # an erasable store's export holds its personal fields in clear: 0600, as the store
            tmp, fd = exclusive_temp(output, private=store.log.sealer is not None)
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
    click.echo(f"exported {count} session(s) to {visible(output)}", err=True)


@click.command()
@click.argument("dest", metavar="DEST")
@click.option("--erasable", "reseal", is_flag=True,
              help="Re-encrypt a plain --db into a new erasable DEST (a SQLite file: key file "
                   "DEST.key, or $SESSIONLOG_MASTER_KEY; PostgreSQL: $SESSIONLOG_MASTER_KEY); "
                   "DEST's first event records --db's last_hash.")
@json_option
@click.pass_context
def copy(ctx: click.Context, dest: str, reseal: bool, as_json: bool) -> None:
    """Copy the whole log of --db into DEST (a SQLite file or a PostgreSQL
    URL, either direction), then build DEST's views.

    Positions, event ids, timestamps and hashes are copied unchanged, so
    `verify --json` reports the same last_hash on both. DEST must hold no
    events, and be new, empty, or sessionlog's (never another program's).
    If the copy is refused or fails, DEST is left as it was: a new file is
    not created, an existing one stays byte for byte the same (the copy is
    made beside it and renamed over it when complete), and on PostgreSQL the
    tables the copy made are dropped.

    With --erasable, every event is appended again through DEST's keys (same
    streams, versions, positions, ids and metadata; new times and hashes) so
    that `erase` works there; the old file's last_hash is kept in the
    metadata of DEST's first event (`copied_from`). An erasable --db is
    copied row for row into a DEST made erasable, with its data keys
    re-wrapped under DEST's master key (PostgreSQL: $SESSIONLOG_MASTER_KEY),
    so DEST stays erasable and reports the same last_hash.

    Example:

    \b
      sessionlog --db sessions.db copy postgresql://me@dbhost/agents
      sessionlog --db postgresql://me@dbhost/agents verify --json
      sessionlog --db plain.db copy private.db --erasable
      SESSIONLOG_MASTER_KEY=$(cat private.db.key) sessionlog --db private.db copy postgresql://me@dbhost/agents
    """
    src = ctx.obj
    if os.path.abspath(src) == os.path.abspath(dest) if not is_url(src) else src == dest:
        raise click.ClickException("DEST is the --db log itself; nothing was written")
    if reseal:
        _reseal(src, dest, as_json)
        return
    with open_log(src) as source:
        erasable = source.sealer is not None  # then DEST is made erasable, with the keys
        total = source.last_position()
        with dest_store(dest, erasable=erasable) as store, progress_bar("copying", total) as tick:
            if not erasable and store.log.sealer is not None and not store.log.last_position():
                raise click.ClickException(
                    f"{shown(dest)} is an erasable file: a plain log goes into it re-encrypted, "
                    "with `copy DEST --erasable`; nothing was written")
            with store.log.transaction():
                copied = copy_log(source, store.log, progress=tick)
                if erasable:  # its data keys, re-wrapped under DEST's master key
                    copy_keys(source, store)
                store.catch_up()  # the views, in the same transaction
    if as_json:
        click.echo(json.dumps({"events": copied.events, "last_hash": copied.last_hash}))
    else:
        click.echo(f"copied {copied.events} event(s) to {visible(shown(dest))}; last_hash {copied.last_hash}")


def _reseal(src: str, dest: str, as_json: bool) -> None:
    """`copy --erasable`: the plain log of `src` re-encrypted into `dest`."""
    with open_log(src) as source:
        total = source.last_position()
        with dest_store(dest, erasable=True) as store, \
                progress_bar("re-encrypting", total) as tick:
            done = reseal_copy(source, store, progress=tick)
    if as_json:
        click.echo(json.dumps({"events": done.events, "source_last_hash": done.source_last_hash,
                               "last_hash": done.last_hash}))
    else:
        click.echo(f"re-encrypted {done.events} event(s) into {visible(shown(dest))} (erasable, "
                   f"master {default_provider(dest).name}); its first event records "
                   f"{visible(shown(src))}'s last_hash {done.source_last_hash}; "
                   f"new last_hash {done.last_hash}")
