"""`tail`: the audit trail of the whole log, one event per line; with
--follow, live, as other processes commit them."""

from __future__ import annotations

import json

import click

from eventlog import RecordedEvent
from eventlog.checks import MAX_INT

from .. import render
from .database import open_log


@click.command()
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=10,
              show_default=True, help="Start with the last N events.")
@click.option("--from", "from_position", type=click.IntRange(min=1, max=MAX_INT), metavar="POSITION",
              help="Start at this position instead of the last N.")
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing events as they are committed, until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for machines.")
@click.pass_context
def tail(ctx: click.Context, count: int, from_position: int | None, follow: bool,
         as_json: bool) -> None:
    """Print the audit trail of the whole log (every session and tenant): the
    last events, one per line (position, time UTC, stream, type, source,
    what); with --follow, live, as other processes commit them.

    Example:

    \b
      sessionlog tail -n 20
      sessionlog --db postgresql://me@dbhost/agents tail --follow --json
    """
    def line(event: RecordedEvent) -> str:
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
