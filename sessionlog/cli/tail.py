"""`tail`: the audit trail of the whole log, one event per line; with
--follow, live, as other processes commit them."""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Callable, Iterable

import click

from eventlog import EventLog, RecordedEvent
from eventlog.checks import MAX_INT
from projections import TenantSessionStore

from .. import render
from .database import open_log, open_store


@click.command()
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=10,
              show_default=True, help="Start with the last N events.")
@click.option("--from", "from_position", type=click.IntRange(min=1, max=MAX_INT), metavar="POSITION",
              help="Start at this position instead of the last N.")
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing events as they are committed, until Ctrl-C.")
@click.option("--tenant", help="Only this tenant's events: its sessions' and its state's.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for machines.")
@click.pass_context
def tail(ctx: click.Context, count: int, from_position: int | None, follow: bool,
         tenant: str | None, as_json: bool) -> None:
    """Print the audit trail of the whole log (every session and tenant, or
    with --tenant one tenant's): the last events, one per line (position,
    time UTC, stream, type, source, what); with --follow, live, as other
    processes commit them.

    Example:

    \b
      sessionlog tail -n 20
      sessionlog --db postgresql://me@dbhost/agents tail --follow --json
      sessionlog tail --tenant acme --follow
    """
    def line(event: RecordedEvent) -> str:
        if as_json:
            return json.dumps(render.event_dict(event), ensure_ascii=False)
        return render.tail_line(event)

    if tenant is None:
        with open_log(ctx.obj) as log:
            _print(log, None, count, from_position, follow, line)
        return
    with open_store(ctx) as store:
        _print(store.log, store.for_tenant(tenant), count, from_position, follow, line)


def _print(log: EventLog, view: TenantSessionStore | None, count: int,
           from_position: int | None, follow: bool,
           line: Callable[[RecordedEvent], str]) -> None:
    """Print what `tail` shows: events of the whole log, or of the tenant
    `view` (whose last `count` are found by reading its events to the end)."""
    last = log.last_position()
    if view is not None and from_position is None:
        if count:
            for event in deque(view.read_all(1, to_position=last), maxlen=count):
                click.echo(line(event))
        start = last + 1
    else:
        start = from_position if from_position is not None else max(1, last - count + 1)
    events: Iterable[RecordedEvent]
    if follow:
        events = log.subscribe(start) if view is None else view.subscribe(start)
    elif view is None:
        events = itertools.takewhile(lambda e: e.position <= last, log.read_all(start))
    else:
        events = view.read_all(start, to_position=last)
    try:
        for event in events:
            click.echo(line(event))
    except KeyboardInterrupt:
        return
