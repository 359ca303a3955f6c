"""Commands on one session at a time: `create`, `add`, `show` (now or
--as-of a past position or moment), `list`, `delete`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import click

from projections import SessionDeletedError, SessionMessage, SessionNotYetError, SessionRole

from .. import render
from .database import open_store
from .options import (
    AS_OF_HELP,
    argv_text,
    force_foreign_option,
    json_option,
    parse_as_of,
    scoped,
    stdin_text,
    tenant_option,
)


@click.command()
@click.option("--title", help="The session's title.")
@click.option("--user", help="Owner user id (needs --tenant).")
@click.option("--tenant", help="Owner tenant id.")
@force_foreign_option
@json_option
@click.pass_context
def create(ctx: click.Context, title: str | None, user: str | None, tenant: str | None,
           force_foreign: bool, as_json: bool) -> None:
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
        if user is None:
            session = target.create(title)
        else:
            assert tenant is not None  # checked above: --user needs --tenant
            session = target.create_with_user(title, user, tenant)
    click.echo(render.to_json(session) if as_json else str(session.id))


@click.command()
@click.argument("session_id", metavar="ID")
@click.option("--role", type=click.Choice([r.value for r in SessionRole]), required=True,
              help="Who speaks.")
@click.argument("text")
@click.option("--allow-empty", is_flag=True, help="Store empty or whitespace-only text too.")
@tenant_option
@click.pass_context
def add(ctx: click.Context, session_id: str, role: str, text: str, allow_empty: bool,
        tenant: str | None) -> None:
    """Add a message to a session. TEXT '-' reads it from stdin (UTF-8; one
    trailing newline is dropped). Empty or blank text is refused unless
    --allow-empty.

    Example:

    \b
      sessionlog add 5b0c...e1 --role user "Where is my parcel?"
      echo "It ships today." | sessionlog add 5b0c...e1 --role assistant -
    """
    content = stdin_text() if text == "-" else argv_text(text, "'TEXT'") or ""
    if not content.strip() and not allow_empty:
        raise click.ClickException(
            "the message text is empty or blank; nothing was written (pass --allow-empty to store it)")
    with open_store(ctx) as store:
        scoped(store, tenant).add_message(
            session_id, SessionMessage(SessionRole(role), content, datetime.now(UTC)))
    click.echo(f"added {role} message to {uuid.UUID(session_id)}")


@click.command()
@click.argument("session_id", metavar="ID")
@click.option("--as-of", "as_of", metavar="POSITION|TIME", help=AS_OF_HELP)
@tenant_option
@json_option
@click.pass_context
def show(ctx: click.Context, session_id: str, as_of: str | None, tenant: str | None,
         as_json: bool) -> None:
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


@click.command(name="list")
@click.option("--tenant", help="Only this tenant's sessions.")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many.")
@json_option
@click.pass_context
def list_(ctx: click.Context, tenant: str | None, limit: int | None, as_json: bool) -> None:
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


@click.command()
@click.argument("session_id", metavar="ID")
@tenant_option
@click.pass_context
def delete(ctx: click.Context, session_id: str, tenant: str | None) -> None:
    """Delete a session. Its events stay in the log (see `history`).

    Example:

    \b
      sessionlog delete 5b0c...e1
    """
    with open_store(ctx) as store:
        if not scoped(store, tenant).delete(session_id):
            raise click.ClickException(f"session {session_id} not found")
    click.echo(f"deleted {session_id}")
