"""Commands that read the record back: `history` (a session's audit trail),
`search` (full text over messages) and `verify` (the log untampered, the
views right)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import click

from eventlog.backends.factory import shown

from .. import render
from .database import open_store
from .options import json_option, progress_bar, tenant_option
from .sessions import find_session, key_option


@click.command()
@click.argument("session_id", metavar="ID", required=False)
@key_option
@tenant_option
@json_option
@click.pass_context
def history(ctx: click.Context, session_id: str | None, key: str | None, tenant: str | None,
            as_json: bool) -> None:
    """Print a session's audit trail: every event, deleted sessions included,
    printed as it is read (a session of any length). Name it by ID, or by
    --key (a live session's key, e.g. the session id ADK gave it).

    With --tenant, another tenant's session is "not found", as a missing one.

    Example:

    \b
      sessionlog history 5b0c...e1 --json
      sessionlog history 5b0c...e1 --tenant acme
      sessionlog history --key ada-1
    """
    with open_store(ctx) as store:
        sid = find_session(store, session_id, key, tenant, "history")
        if tenant is not None and store.created_for(sid) != tenant:
            raise click.ClickException(f"session {sid} not found")
        read = (e for batch in store.history_batches(sid) for e in batch)
        first = next(read, None)
        if first is None:
            raise click.ClickException(f"session {sid} not found")
        events = itertools.chain([first], read)
        if as_json:
            lines = render.json_array(map(render.event_dict, events))
        else:
            lines = render.table_lines(render.HISTORY_HEADERS, map(render.history_row, events))
        for line in lines:
            click.echo(line)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True, metavar="QUERY...")
@click.option("--tenant", help="Only this tenant's sessions.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most this many matches (a page).")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which page of --limit matches, best first.")
@click.option("--fts", is_flag=True, help="QUERY is FTS5 syntax: \"a phrase\", prefix*, AND, OR, NOT.")
@json_option
@click.pass_context
def search(ctx: click.Context, words: tuple[str, ...], tenant: str | None, limit: int, page: int,
           fts: bool, as_json: bool) -> None:
    """Full-text search over message content.

    QUERY is plain text: every word must match (the last one also as the
    start of a word), punctuation only separates words, and Chinese,
    Japanese or Korean text matches any part of a word. A QUERY starting
    with '-' goes after `--`. Matches are shown in [brackets], --limit at a
    time; a last line (on stderr) names the next --page when there is one.
    On a file that cannot be written (a read-only backup or mount) whose
    search view is missing or behind, it searches a temporary index built
    from the log (a note on stderr says so; nothing is written).

    Example:

    \b
      sessionlog search refund R-88 --tenant acme
      sessionlog search refund --limit 50 --page 2
      sessionlog search -- -foo
      sessionlog search --fts '"order 1142" OR parcel*' --json
    """
    query = " ".join(words)
    syntax = "fts5" if fts else "plain"
    with open_store(ctx) as store, contextlib.ExitStack() as bars:
        offset = (page - 1) * limit
        step = _indexing(store, bars)
        hits = store.search(query, tenant, limit, syntax=syntax, offset=offset, progress=step)
        more = len(hits) == limit and bool(
            store.search(query, tenant, 1, syntax=syntax, offset=offset + limit))
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
    if more:
        click.echo(f"more: the next page is --page {page + 1}", err=True)


def _indexing(store, bars: contextlib.ExitStack) -> Callable[[int], Any]:
    """The progress of a temporary search index (a read-only file whose
    search view is missing or behind): one line on stderr when it starts,
    then a bar on a terminal."""
    bar: list[Callable[[int], Any]] = []

    def step(n: int) -> None:
        if not bar:
            total = store.log.last_position()
            click.echo(f"note: {shown(store.log.path)} cannot be written and its search view "
                       f"is not up to date: searching a temporary index of its {total} events "
                       "(nothing is written to the file)", err=True)
            bar.append(bars.enter_context(progress_bar("indexing", total)))
        bar[0](n)

    return step


@click.command()
@click.option("--expect-hash", metavar="HASH",
              help="A last_hash kept from an earlier `verify --json`: the log must still hold "
                   "that event, unchanged.")
@json_option
@click.pass_context
def verify(ctx: click.Context, expect_hash: str | None, as_json: bool) -> None:
    """Check the log was not tampered with and the views are right.

    Recomputes the hash chain, checks positions are gapless and versions
    contiguous, and that each projection equals a fresh fold, as of where
    the log ended when it started (in short reads: writers go on meanwhile,
    and the WAL is not held). Exit 0 when clean, 1 with
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
