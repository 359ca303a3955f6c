"""`demo`: a few conversations in a new file, one of them deleted, and what
the log then holds; the same result however often it runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import click

from eventlog.backends.factory import shown
from projections import EventSourcedSessionStore, SessionMessage, SessionRole

from .. import render
from .database import open_store

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


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
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
                f"{shown(ctx.obj)} already holds sessions that are not the demo's; the demo writes only "
                "to a new file (try --db demo.db)")
        fresh = not made
        if fresh:
            for title, user, tenant, turns in DEMO:
                s = (store.create(title) if user is None or tenant is None
                     else store.create_with_user(title, user, tenant))
                for role, text in turns:
                    store.add_message(s.id, SessionMessage(SessionRole(role), text, datetime.now(UTC)))
                made.append(s.id)
            store.delete(made[-1])
        sessions = store.list()
        trail = store.history(made[-1])
        first = store.history(made[0])
    if fresh:
        click.echo(f"Recorded {len(DEMO)} conversations in {shown(ctx.obj)} and deleted one.\n")
    else:
        click.echo(f"{shown(ctx.obj)} already holds the demo; nothing was written.\n")
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
