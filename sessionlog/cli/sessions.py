"""Commands on one session at a time: `create`, `add`, `show` (now or
--as-of a past position or moment; by id or --key), `list` (paged, by
tenant and user), `delete`; and finding a session by its id or key."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

import click

from eventlog.checks import bounded, to_uuid
from projections import (
    EventSourcedSessionStore,
    NewItem,
    SessionDeletedError,
    SessionMessage,
    SessionNotFoundError,
    SessionNotYetError,
    SessionRole,
)

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

LIST_LIMIT = 50  # sessions `list` shows unless told otherwise
_PAGE = 500  # sessions read at a time by `list --all`


def key_option(f):
    """--key: name the session by its key instead of its ID."""
    return click.option(
        "--key", metavar="KEY",
        help="Find the live session by its key (the id a framework gave it, e.g. ADK's "
             "session id) instead of ID; with --tenant, in that tenant only.")(f)


def find_session(store: EventSourcedSessionStore, session_id: str | None, key: str | None,
                 tenant: str | None, command: str) -> str:
    """The session ID a command names, by ID or by --key, as a UUID string;
    a one-line error when there is none, or the key names several. An ID
    that is not a UUID but is a live session's key gets a hint at --key."""
    if (session_id is None) == (key is None):
        raise click.UsageError("pass a session ID or --key KEY" if key is None
                               else "pass a session ID or --key KEY, not both")
    if key is not None:
        key = argv_text(key, "'--key'") or ""
        if not key:
            raise click.BadParameter("empty key", param_hint="'--key'")
        found = store.find_keyed(key, tenant)
        if not found:
            where = f" in tenant {render.visible(tenant)}" if tenant is not None else ""
            raise click.ClickException(
                f"no live session has key {render.visible(key)!r}{where}")
        if len(found) > 1:
            tenants = sorted({str(s.tenant_id) for s in found})
            raise click.ClickException(
                f"key {render.visible(key)!r} names {len(found)} live sessions "
                f"(tenants: {render.visible(', '.join(tenants))}); pass --tenant or an ID: "
                + ", ".join(str(s.id) for s in found[:5]) + (", ..." if len(found) > 5 else ""))
        return str(found[0].id)
    assert session_id is not None
    try:
        return str(to_uuid(session_id))
    except ValueError as e:
        found = store.find_keyed(session_id, tenant) if session_id else []
        if not found:
            raise click.ClickException(render.visible(str(e))) from None
        shown = render.visible(session_id)
        if command in ("show", "history"):
            hint = f"to find it by key: sessionlog {command} --key {shlex.quote(shown)}"
        else:
            hint = f"its ID is {found[0].id}" if len(found) == 1 else "`sessionlog show --key` finds its ID"
        raise click.ClickException(
            f"{shown!r} is not a session id (UUID) but the key of a live session; {hint}") from None


def missing(store: EventSourcedSessionStore, session_id: str, tenant: str | None) -> click.ClickException:
    """Why no live session has this id, in the words `show` uses: "was
    deleted (position N)" or "not found"."""
    try:
        store.require(session_id, tenant_id=tenant)
    except SessionDeletedError as e:
        return click.ClickException(f"{e}; see `sessionlog history {session_id}`")
    except SessionNotFoundError as e:
        return click.ClickException(str(e))
    return click.ClickException(f"session {session_id} changed meanwhile; run the command again")



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
@click.option("--role", required=True, metavar="ROLE",
              help="Who speaks: user or assistant (a message), or any other role "
                   "(system, tool, ...), stored as an item with this text.")
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
      sessionlog add 5b0c...e1 --role system "Answer in French."
    """
    role = argv_text(role, "'--role'") or ""
    if not role.strip() or role != role.strip() or not role.isprintable():
        raise click.BadParameter(f"{render.visible(role)!r} is not a role (a word such as "
                                 "user, assistant, system or tool)", param_hint="'--role'")
    content = stdin_text() if text == "-" else argv_text(text, "'TEXT'") or ""
    if not content.strip() and not allow_empty:
        raise click.ClickException(
            "the message text is empty or blank; nothing was written (pass --allow-empty to store it)")
    with open_store(ctx) as store:
        sid = find_session(store, session_id, None, tenant, "add")
        target = scoped(store, tenant)
        try:
            if role in {r.value for r in SessionRole}:
                target.add_message(sid, SessionMessage(SessionRole(role), content,
                                                       datetime.now(UTC)))
            else:
                target.add_items(sid, [NewItem(role, {"role": role, "content": content},
                                               content)])
        except SessionNotFoundError:
            raise missing(store, sid, tenant) from None
    click.echo(f"added {render.visible(role)} message to {sid}")


@click.command()
@click.argument("session_id", metavar="ID", required=False)
@key_option
@click.option("--as-of", "as_of", metavar="POSITION|TIME", help=AS_OF_HELP)
@tenant_option
@json_option
@click.option("--html", "as_html", is_flag=True,
              help="Print one self-contained HTML page of the transcript (no script, no "
                   "request outside the page), to attach to a ticket. Needs sessionlog[web].")
@click.pass_context
def show(ctx: click.Context, session_id: str | None, key: str | None, as_of: str | None,
         tenant: str | None, as_json: bool, as_html: bool) -> None:
    """Show a session and its messages, now or as it stood in the past.
    Name it by ID, or by --key (the key an adapter stored, e.g. the session
    id ADK gave it).

    Example:

    \b
      sessionlog show 5b0c...e1
      sessionlog show --key ada-1 --tenant acme
      sessionlog show 5b0c...e1 --as-of 12
      sessionlog show 5b0c...e1 --as-of 2026-11-25T16:55:00Z
      sessionlog show 5b0c...e1 --html > ticket-1142.html
    """
    if as_json and as_html:
        raise click.UsageError("pass --json or --html, not both")
    page = _html_page() if as_html else None
    moment = parse_as_of(as_of)
    with open_store(ctx) as store:
        sid = find_session(store, session_id, key, tenant, "show")
        try:
            session = store.require(sid, as_of=moment, tenant_id=tenant)
        except SessionDeletedError as e:
            if moment is not None:
                raise click.ClickException(f"session {sid} did not exist at {as_of}") from None
            raise click.ClickException(
                f"{e}; see `sessionlog history {sid}`") from None
        except SessionNotYetError:
            raise click.ClickException(f"session {sid} did not exist at {as_of}") from None
    if page is not None:
        click.echo(page(session))
        return
    click.echo(render.to_json(session) if as_json else render.session_text(session))


def _html_page():
    """`sessionlog.web.standalone_html`, imported only for --html (the CLI
    works without the extra)."""
    try:
        from sessionlog.web import standalone_html
    except ImportError:
        raise click.ClickException(
            "--html needs the extra: pip install 'sessionlog[web]'") from None
    return standalone_html


@click.command(name="list")
@click.option("--tenant", help="Only this tenant's sessions.")
@click.option("--user", help="Only this user's sessions.")
@click.option("--limit", type=click.IntRange(min=1), default=LIST_LIMIT, show_default=True,
              help="At most this many (a page).")
@click.option("--before", metavar="ID",
              help="The next page: sessions listed after this one (the last ID of a page).")
@click.option("--all", "everything", is_flag=True, help="Every session, read a page at a time.")
@json_option
@click.pass_context
def list_(ctx: click.Context, tenant: str | None, user: str | None, limit: int,
          before: str | None, everything: bool, as_json: bool) -> None:
    """List live sessions, newest first: ID, KEY, title, owner, how many
    items, last update. Pages: at most --limit, and a last line (on stderr)
    that says how to get the next page; --all lists every one. --json prints
    one summary per session (no messages: see `show`).

    Example:

    \b
      sessionlog list --tenant acme --user alice
      sessionlog list --limit 20 --before 0190...e1
      sessionlog list --all --json > sessions.json
    """
    tenant, user = argv_text(tenant, "'--tenant'"), argv_text(user, "'--user'")
    anchor = None
    if before is not None:
        try:
            anchor = to_uuid(before)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--before'") from None
    with open_store(ctx) as store:
        bounded(limit, "limit")  # a page is read at a time, but no limit is past SQLite's range
        if anchor is not None and store.get(anchor) is None:
            raise click.BadParameter(f"no live session {anchor}", param_hint="'--before'")
        last: list = []

        def pages():
            after, left = anchor, None if everything else limit
            while left is None or left > 0:
                n = _PAGE if left is None else min(left, _PAGE)
                page = store.list_summaries(user_id=user, tenant_id=tenant, limit=n,
                                            before=after)
                yield from page
                if len(page) < n:
                    return
                after = page[-1].id
                last[:] = [after]
                if left is not None:
                    left -= n

        if as_json:
            for line in render.json_array(map(render.summary_dict, pages())):
                click.echo(line)
        else:
            lines = render.table_lines(render.SUMMARY_HEADERS,
                                       map(render.summary_row, pages()), max_width=40)
            header, first = next(lines), next(lines, None)
            if first is None:
                click.echo("no sessions")
            else:
                click.echo(header)
                click.echo(first)
                for line in lines:
                    click.echo(line)
        more = bool(last) and not everything and bool(
            store.list_summaries(user_id=user, tenant_id=tenant, limit=1, before=last[0]))
    if more:
        click.echo(f"more: the next page is `sessionlog list --before {last[0]}"
                   f"{_same(tenant, user, limit)}`", err=True)


def _same(tenant: str | None, user: str | None, limit: int) -> str:
    """The options that select the same sessions, for the next-page line."""
    out = "" if tenant is None else f" --tenant {shlex.quote(render.visible(tenant))}"
    out += "" if user is None else f" --user {shlex.quote(render.visible(user))}"
    return out + ("" if limit == LIST_LIMIT else f" --limit {limit}")


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
        sid = find_session(store, session_id, None, tenant, "delete")
        if not scoped(store, tenant).delete(sid):
            raise missing(store, sid, tenant)
    click.echo(f"deleted {sid}")
